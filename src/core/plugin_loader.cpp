// Runtime: finds, loads and checks plugins, opens their devices, and
// resolves device strings.
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <mutex>

#include "core/device_impl.h"
#include "rma/conformance.h"
#include "rma/error.h"
#include "rma/log.h"

namespace rma {
namespace {

std::mutex g_runtime_mu;
std::unique_ptr<Runtime>* g_runtime_slot() {
  static std::unique_ptr<Runtime> slot;
  return &slot;
}

void host_log(int32_t level, const char* plugin, const char* message) {
  const log::Level l = level <= RMA_LOG_TRACE   ? log::Level::kTrace
                       : level == RMA_LOG_DEBUG ? log::Level::kDebug
                       : level == RMA_LOG_INFO  ? log::Level::kInfo
                       : level == RMA_LOG_WARN  ? log::Level::kWarn
                                                : log::Level::kError;
  log::write(l, std::string(plugin ? plugin : "plugin") + ": " + (message ? message : ""));
}

// Sorted plugin library files (librma_*.so) in `dir`; missing dirs yield none.
std::vector<std::string> plugin_files(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (const dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n.rfind("librma_", 0) == 0 && n.size() > 3 && n.compare(n.size() - 3, 3, ".so") == 0)
      out.push_back(dir + "/" + n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// The v1 table must reach the last required field.
constexpr size_t kMinApiSize = offsetof(rma_plugin_api, op_run) + sizeof(void*);

std::string missing_functions(const rma_plugin_api& a) {
  std::string m;
  auto need = [&](const void* fn, const char* name) {
    if (!fn) m += (m.empty() ? "" : ", ") + std::string(name);
  };
  need(reinterpret_cast<const void*>(a.device_count), "device_count");
  need(reinterpret_cast<const void*>(a.device_open), "device_open");
  need(reinterpret_cast<const void*>(a.device_close), "device_close");
  need(reinterpret_cast<const void*>(a.device_get_info), "device_get_info");
  need(reinterpret_cast<const void*>(a.buffer_alloc), "buffer_alloc");
  need(reinterpret_cast<const void*>(a.buffer_free), "buffer_free");
  need(reinterpret_cast<const void*>(a.stream_create), "stream_create");
  need(reinterpret_cast<const void*>(a.stream_destroy), "stream_destroy");
  need(reinterpret_cast<const void*>(a.stream_synchronize), "stream_synchronize");
  need(reinterpret_cast<const void*>(a.event_create), "event_create");
  need(reinterpret_cast<const void*>(a.event_destroy), "event_destroy");
  need(reinterpret_cast<const void*>(a.event_record), "event_record");
  need(reinterpret_cast<const void*>(a.event_synchronize), "event_synchronize");
  need(reinterpret_cast<const void*>(a.stream_wait_event), "stream_wait_event");
  need(reinterpret_cast<const void*>(a.copy_host_to_device), "copy_host_to_device");
  need(reinterpret_cast<const void*>(a.copy_device_to_host), "copy_device_to_host");
  need(reinterpret_cast<const void*>(a.copy_device_to_device), "copy_device_to_device");
  if (!a.name || !*a.name) m += (m.empty() ? "" : ", ") + std::string("name");
  return m;
}

}  // namespace

std::string builtin_plugin_dir() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&builtin_plugin_dir), &info) && info.dli_fname) {
    char resolved[PATH_MAX];
    std::string lib = realpath(info.dli_fname, resolved) ? resolved : info.dli_fname;
    const size_t slash = lib.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : lib.substr(0, slash);
    return dir + "/rma-plugins";
  }
  return "rma-plugins";
}

// Registered after the plugins loaded, so it runs before their libraries'
// own exit handlers (atexit order is reverse registration): work still queued
// when the program returns from main (an op whose result nobody read) is
// finished while the device runtimes (an OpenCL ICD, the CUDA driver) are
// still alive, rather than torn down under it.
static void drain_devices_at_exit() {
  auto* slot = g_runtime_slot();
  if (!*slot) return;
  for (const Device& d : (*slot)->devices()) {
    try {
      d.synchronize();
    } catch (...) {
      // Exiting: a device error now has no one to report to.
    }
  }
}

static void register_exit_drain() {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(drain_devices_at_exit); });
}

Runtime& Runtime::get() {
  std::lock_guard<std::mutex> lock(g_runtime_mu);
  auto* slot = g_runtime_slot();
  if (!*slot) {
    slot->reset(new Runtime(Config{}.with_environment()));
    (*slot)->load_plugins();
    register_exit_drain();
  }
  return **slot;
}

Runtime& Runtime::init(const Config& config) {
  std::lock_guard<std::mutex> lock(g_runtime_mu);
  auto* slot = g_runtime_slot();
  if (*slot)
    throw Error(ErrorCode::kInvalidArgument,
                "Runtime::init called after the runtime started; call it first");
  slot->reset(new Runtime(config.with_environment()));
  (*slot)->load_plugins();
  register_exit_drain();
  return **slot;
}

Runtime::Runtime(Config config) : config_(std::move(config)) {
  host_api_.struct_size = sizeof(host_api_);
  host_api_.abi_version = RMA_ABI_VERSION;
  host_api_.log = host_log;
  host_api_.num_threads = config_.num_threads;
  host_api_.cache_dir = config_.cache_dir.c_str();
}

// Plugin libraries stay loaded until the process ends: tensors held in
// statics may outlive the runtime and still return memory through them.
Runtime::~Runtime() = default;

void Runtime::load_plugins() {
  std::vector<std::string> dirs{builtin_plugin_dir()};
  for (const auto& p : config_.plugin_paths) dirs.push_back(p);
  for (const auto& dir : dirs)
    for (const auto& file : plugin_files(dir)) load_plugin_file(file);
  if (devices_.empty())
    log::warn("no device found: searched " + [&] {
      std::string s;
      for (const auto& d : dirs) s += (s.empty() ? "" : ", ") + d;
      return s;
    }());
}

void Runtime::load_plugin_file(const std::string& path) {
  auto skip = [&](const std::string& why, log::Level level = log::Level::kWarn) {
    skipped_.push_back({path, why});
    log::write(level, "plugin " + path + " skipped: " + why);
  };
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) return skip(std::string("cannot load: ") + dlerror());
  auto open = reinterpret_cast<rma_plugin_open_fn>(dlsym(lib, RMA_PLUGIN_ENTRY_NAME));
  if (!open) {
    dlclose(lib);
    return skip("missing symbol " RMA_PLUGIN_ENTRY_NAME " (not an RM Abstract plugin?)");
  }
  const rma_plugin_api* api = nullptr;
  rma_error err{sizeof(rma_error), RMA_ABI_VERSION, {0}};
  const rma_status st = open(RMA_ABI_VERSION, &host_api_, &api, &err);
  // No usable device (no driver, no GPU): quiet; `rma info` lists it with the reason.
  if (st == RMA_STATUS_NOT_FOUND) return skip(err.message, log::Level::kDebug);
  if (st == RMA_STATUS_ABI_MISMATCH)
    return skip(std::string("ABI mismatch: core speaks ABI v") +
                std::to_string(RMA_ABI_MIN_VERSION) + "..v" + std::to_string(RMA_ABI_VERSION) +
                "; plugin says: " + err.message);
  if (st != RMA_STATUS_OK) return skip(std::string("failed to initialise: ") + err.message);
  if (!api) return skip("rma_plugin_open returned no function table");
  if (api->struct_size < kMinApiSize)
    return skip("function table too small (" + std::to_string(api->struct_size) + " bytes, ABI v1 needs " +
                std::to_string(kMinApiSize) + ")");
  if (api->abi_version < RMA_ABI_MIN_VERSION || api->abi_version > RMA_ABI_VERSION)
    return skip("ABI mismatch: plugin implements ABI v" + std::to_string(api->abi_version) +
                ", core speaks v" + std::to_string(RMA_ABI_MIN_VERSION) + "..v" +
                std::to_string(RMA_ABI_VERSION));
  if (const std::string missing = missing_functions(*api); !missing.empty())
    return skip("missing required functions: " + missing);
  for (const auto& p : plugins_)
    if (p.name == api->name)
      return skip(std::string("a plugin named '") + api->name + "' is already loaded from " +
                  p.path);

  loaded_.push_back(std::make_unique<Plugin>(lib, api, path));
  const Plugin& plugin = *loaded_.back();
  const int32_t count = api->device_count();
  int opened = 0;
  for (int32_t i = 0; i < count; ++i) {
    rma_device dev = nullptr;
    rma_error derr{sizeof(rma_error), RMA_ABI_VERSION, {0}};
    if (api->device_open(i, &dev, &derr) != RMA_STATUS_OK) {
      log::warn(std::string("plugin ") + api->name + ": device " + std::to_string(i) +
                " failed to open: " + derr.message);
      continue;
    }
    rma_device_info info{};
    info.struct_size = sizeof(info);
    info.abi_version = RMA_ABI_VERSION;
    rma_error ierr{sizeof(rma_error), RMA_ABI_VERSION, {0}};
    api->device_get_info(dev, &info, &ierr);
    // The host CPU (a lone CPU device sharing host memory) is named by its
    // prefix ("cpu"); every other device by prefix:index ("opencl:0").
    const bool bare = count == 1 && info.type == RMA_DEVICE_CPU &&
                      (info.capabilities & RMA_CAP_HOST_MEMORY);
    const std::string name = bare ? std::string(api->name) : std::string(api->name) + ":" + std::to_string(i);
    auto impl = std::make_shared<DeviceImpl>(plugin, dev, i, name);
    impl->host_memory = (info.capabilities & RMA_CAP_HOST_MEMORY) && api->buffer_host_ptr;
    Device device(impl);
    impl->default_stream = std::make_unique<Stream>(device);
    devices_.push_back(device);
    ++opened;
  }
  plugins_.push_back({api->name, api->version ? api->version : "", path, api->abi_version, opened});
  log::debug(std::string("loaded plugin ") + api->name + " (" + path + "), " +
             std::to_string(opened) + " device(s)");
}

std::vector<Device> Runtime::devices() const { return devices_; }

Device Runtime::device(const std::string& spec) const {
  if (spec == "auto") return auto_device();
  std::string prefix = spec;
  int index = 0;
  if (const size_t colon = spec.rfind(':'); colon != std::string::npos) {
    prefix = spec.substr(0, colon);
    const std::string idx = spec.substr(colon + 1);
    const bool digits = !idx.empty() && idx.size() < 6 &&
                        std::all_of(idx.begin(), idx.end(), [](char c) { return c >= '0' && c <= '9'; });
    index = digits ? std::stoi(idx) : -1;
  }
  for (const auto& d : devices_)
    if (d.name() == spec || (d.plugin_name() == prefix && d.index() == index)) return d;
  std::string present;
  for (const auto& d : devices_) present += (present.empty() ? "" : ", ") + d.name();
  throw Error(ErrorCode::kNotFound, "no device '" + spec + "'; devices present: " +
                                        (present.empty() ? "none" : present) +
                                        " (or 'auto')");
}

Device Runtime::default_device() const { return device(config_.device); }

Device Runtime::auto_device(const std::vector<rma_op>& ops) const {
  // Accelerators first (GPU, NPU, other), in load order; CPU last.
  for (int pass = 0; pass < 2; ++pass)
    for (const auto& d : devices_) {
      const rma_device_info info = d.info();
      if (info.type == RMA_DEVICE_CPU) continue;
      if ((pass == 0) != (info.type == RMA_DEVICE_GPU || info.type == RMA_DEVICE_NPU)) continue;
      if (device_supports_ops(d, ops)) return d;
    }
  // Fallback: the host CPU first (host memory, no copies), then any CPU.
  for (const auto& d : devices_)
    if (d.info().type == RMA_DEVICE_CPU && d.host_memory()) return d;
  for (const auto& d : devices_)
    if (d.info().type == RMA_DEVICE_CPU) return d;
  if (!devices_.empty()) return devices_.front();
  throw Error(ErrorCode::kNotFound, "no device present for 'auto' (no plugin loaded any device)");
}

std::string Runtime::cache_dir() const { return config_.cache_dir; }

}  // namespace rma
