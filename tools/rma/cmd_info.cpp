// `rma info`: version, plugins (loaded and skipped, with reasons), devices
// and the configuration in effect; as text or --json.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "rma/config.h"
#include "rma/device.h"
#include "rma/error.h"

namespace rma::cli {
namespace {

using nlohmann::json;

// One RM_* variable: the value in effect and whether the environment set it.
json setting(const char* var, json value) {
  const char* env = std::getenv(var);
  return {{"variable", var}, {"value", std::move(value)}, {"from_environment", env && *env}};
}

json collect() {
  Runtime& rt = Runtime::get();
  json out;
  out["version"] = RMA_VERSION;
  out["abi_version"] = RMA_ABI_VERSION;
  out["abi_min_version"] = RMA_ABI_MIN_VERSION;

  out["plugins"] = json::array();
  for (const PluginInfo& p : rt.plugins())
    out["plugins"].push_back({{"name", p.name},
                              {"version", p.version},
                              {"path", p.path},
                              {"abi_version", p.abi_version},
                              {"devices", p.device_count}});
  out["skipped_plugins"] = json::array();
  for (const SkippedPlugin& s : rt.skipped_plugins())
    out["skipped_plugins"].push_back({{"path", s.path}, {"reason", s.reason}});

  out["devices"] = json::array();
  for (const Device& d : rt.devices()) {
    json j = {{"name", d.name()}, {"plugin", d.plugin_name()}, {"index", d.index()}};
    try {
      const rma_device_info info = d.info();
      j["type"] = device_type_name(info.type);
      j["model"] = info.name;
      j["vendor"] = info.vendor;
      j["driver"] = info.driver_version;
      j["arch"] = info.arch;
      j["compute_units"] = info.compute_units;
      j["memory_total"] = info.memory_total;
      j["memory_free"] = info.memory_free;
      j["capabilities"] = capability_names(info.capabilities);
    } catch (const Error& e) {
      j["error"] = e.what();  // a device whose plugin fails is shown, not hidden
    }
    out["devices"].push_back(std::move(j));
  }

  const Config& c = rt.config();
  json paths = json::array();
  for (const auto& p : c.plugin_paths) paths.push_back(p);
  out["config"] = {
      {"device", setting("RM_DEVICE", c.device)},
      {"plugin_path", setting("RM_PLUGIN_PATH", paths)},
      {"log_level", setting("RM_LOG_LEVEL", c.log_level)},
      {"num_threads", setting("RM_NUM_THREADS", c.num_threads)},
      {"cache_dir", setting("RM_CACHE_DIR", rt.cache_dir())},
      {"builtin_plugin_dir", builtin_plugin_dir()},
  };
  return out;
}

std::string str(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string s;
    for (const auto& e : v) {
      if (!s.empty()) s += ':';
      s += str(e);
    }
    return s.empty() ? "(none)" : s;
  }
  return v.dump();
}

void print_text(const json& j) {
  std::printf("rma %s (plugin ABI v%u, accepts plugins of v%u..v%u)\n",
              j["version"].get<std::string>().c_str(), RMA_ABI_VERSION, RMA_ABI_MIN_VERSION,
              RMA_ABI_VERSION);

  std::printf("\nPlugins:\n");
  if (j["plugins"].empty()) std::printf("  (none loaded)\n");
  for (const auto& p : j["plugins"])
    std::printf("  %-12s %-10s ABI v%u  %d device(s)  %s\n", str(p["name"]).c_str(),
                str(p["version"]).c_str(), p["abi_version"].get<unsigned>(),
                p["devices"].get<int>(), str(p["path"]).c_str());
  if (!j["skipped_plugins"].empty()) {
    std::printf("\nSkipped plugins:\n");
    for (const auto& s : j["skipped_plugins"])
      std::printf("  %s\n      %s\n", str(s["path"]).c_str(), str(s["reason"]).c_str());
  }

  std::printf("\nDevices:\n");
  if (j["devices"].empty()) std::printf("  (none)\n");
  for (const auto& d : j["devices"]) {
    std::printf("  %s\n", str(d["name"]).c_str());
    if (d.contains("error")) {
      std::printf("    error          %s\n", str(d["error"]).c_str());
      continue;
    }
    std::string caps;
    for (const auto& c : d["capabilities"]) {
      if (!caps.empty()) caps += ' ';
      caps += str(c);
    }
    std::printf("    type           %s\n", str(d["type"]).c_str());
    std::printf("    model          %s\n", str(d["model"]).c_str());
    std::printf("    vendor         %s\n", str(d["vendor"]).c_str());
    std::printf("    driver         %s\n", str(d["driver"]).c_str());
    std::printf("    arch           %s\n", str(d["arch"]).c_str());
    std::printf("    compute units  %d\n", d["compute_units"].get<int>());
    std::printf("    memory         %s total, %s free\n",
                format_bytes(d["memory_total"].get<uint64_t>()).c_str(),
                format_bytes(d["memory_free"].get<uint64_t>()).c_str());
    std::printf("    capabilities   %s\n", caps.empty() ? "(none)" : caps.c_str());
  }

  std::printf("\nConfig (environment overrides code):\n");
  const json& c = j["config"];
  for (const char* key : {"device", "plugin_path", "log_level", "num_threads", "cache_dir"}) {
    const json& s = c[key];
    std::printf("  %-15s %s%s\n", str(s["variable"]).c_str(), str(s["value"]).c_str(),
                s["from_environment"].get<bool>() ? "  (from the environment)" : "");
  }
  std::printf("  %-15s %s\n", "built-in dir", str(c["builtin_plugin_dir"]).c_str());
}

}  // namespace

void add_info_command(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "info",
      "Show the version, plugins (loaded and skipped, with reasons), devices and the "
      "configuration in effect");
  auto as_json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *as_json, "Print as JSON");
  cmd->callback([as_json, &exit_code] {
    const json j = collect();
    if (*as_json)
      std::cout << j.dump(2) << "\n";
    else
      print_text(j);
    for (const auto& d : j["devices"])
      if (d.contains("error")) exit_code = 1;
  });
}

}  // namespace rma::cli
