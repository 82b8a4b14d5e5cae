// The runtime seen from Python: starting it with a configuration, plugins,
// devices and their properties (rm_abstract.init, get_device_info, ...).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <atomic>
#include <string>
#include <utility>

#include "bindings.h"
#include "rma/config.h"
#include "rma/device.h"
#include "rma/error.h"
#include "rma/ops.h"

namespace rma::python {

namespace {

std::atomic<bool> g_started{false};

nb::dict describe(const Device& d) {
  nb::dict j;
  j["name"] = d.name();
  j["plugin"] = d.plugin_name();
  j["index"] = d.index();
  const rma_device_info info = d.info();
  j["type"] = device_type_name(info.type);
  j["model"] = std::string(info.name);
  j["vendor"] = std::string(info.vendor);
  j["driver"] = std::string(info.driver_version);
  j["arch"] = std::string(info.arch);
  j["compute_units"] = info.compute_units;
  j["memory_total"] = info.memory_total;
  j["memory_free"] = info.memory_free;
  nb::list caps;
  for (const std::string& c : capability_names(info.capabilities)) caps.append(c);
  j["capabilities"] = caps;
  const MemoryStats s = d.memory_stats();
  j["memory_in_use"] = s.bytes_in_use;
  j["memory_cached"] = s.bytes_cached;
  j["memory_peak"] = s.peak_bytes_in_use;
  return j;
}

// The folder holding librma (its plugins are in rma-plugins below it).
std::string library_dir() {
  std::string dir = builtin_plugin_dir();
  const size_t slash = dir.rfind('/');
  return slash == std::string::npos ? "." : dir.substr(0, slash);
}

}  // namespace

Runtime& runtime() {
  Runtime& rt = Runtime::get();
  g_started = true;
  return rt;
}

void bind_runtime(nb::module_& m) {
  m.def(
      "start",
      [](const std::string& device, const std::string& cache_dir,
         const std::optional<std::string>& log_level) {
        if (g_started) return false;
        Config config;
        config.device = device;
        config.cache_dir = cache_dir;
        if (log_level) config.log_level = *log_level;
        nb::gil_scoped_release no_gil;  // plugins may take a while to open devices
        Runtime::init(config);
        g_started = true;
        return true;
      },
      nb::arg("device"), nb::arg("cache_dir"), nb::arg("log_level").none(),
      "Starts the runtime (plugins, devices); False when it already runs.");
  m.def("started", [] { return g_started.load(); });
  m.def("devices", [] {
    nb::list out;
    for (const Device& d : runtime().devices()) out.append(describe(d));
    return out;
  });
  m.def(
      "device_info", [](const std::string& spec) { return describe(runtime().device(spec)); },
      nb::arg("device"));
  m.def(
      "resolve_device",
      [](const std::string& spec) {
        Runtime& rt = runtime();
        return spec == "auto" ? rt.auto_device().name() : rt.device(spec).name();
      },
      nb::arg("device"), "The device's canonical name ('auto' resolved).");
  m.def("default_device", [] { return runtime().default_device().name(); });
  m.def("plugins", [] {
    nb::list out;
    for (const PluginInfo& p : runtime().plugins()) {
      nb::dict j;
      j["name"] = p.name;
      j["version"] = p.version;
      j["path"] = p.path;
      j["abi_version"] = p.abi_version;
      j["devices"] = p.device_count;
      out.append(j);
    }
    return out;
  });
  m.def("skipped_plugins", [] {
    nb::list out;
    for (const SkippedPlugin& s : runtime().skipped_plugins()) {
      nb::dict j;
      j["path"] = s.path;
      j["reason"] = s.reason;
      out.append(j);
    }
    return out;
  });
  m.def("config", [] {
    const Config& c = runtime().config();
    nb::dict j;
    j["device"] = c.device;
    j["plugin_paths"] = c.plugin_paths;
    j["log_level"] = c.log_level;
    j["num_threads"] = c.num_threads;
    j["cache_dir"] = runtime().cache_dir();
    return j;
  });
  m.def("library_dir", &library_dir, "The folder holding librma (plugins: rma-plugins/).");
  m.def("abi_version", [] { return RMA_ABI_VERSION; });
  m.def("op_names", [] {
    std::vector<std::string> out;
    for (rma_op op : all_ops()) out.emplace_back(op_name(op));
    return out;
  });
  m.def(
      "synchronize",
      [](const std::string& spec) {
        Device d = runtime().device(spec);
        nb::gil_scoped_release no_gil;
        d.synchronize();
      },
      nb::arg("device"));
  m.def(
      "release_cached_memory",
      [](const std::string& spec) { runtime().device(spec).release_cached_memory(); },
      nb::arg("device"));
}

}  // namespace rma::python
