// rma/device.h — plugins, devices, memory pools, streams and events.
//
// Runtime::get() loads every plugin once per process (the built-in folder,
// then each RM_PLUGIN_PATH folder) and opens their devices. Device handles
// are cheap shared references valid until the process ends. Each device has
// one memory pool shared by every session and tensor on it, and a default
// stream. All methods are thread safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "rma/config.h"
#include "rma/plugin.h"

namespace rma {

class DeviceImpl;
class MemoryPool;
class Plugin;

struct MemoryStats {
  uint64_t bytes_in_use = 0;  // handed out to tensors
  uint64_t bytes_cached = 0;  // freed by tensors, kept for reuse
  uint64_t peak_bytes_in_use = 0;
  uint64_t device_allocs = 0;  // calls into the plugin's buffer_alloc
  uint64_t pool_hits = 0;      // allocations served from the cache
};

// A device allocation from a pool; returned to the pool on destruction.
class Buffer {
 public:
  // `pool`: where the block returns when freed (nullptr: not pooled, e.g.
  // wrapped host memory); held so a capture's private pool outlives it.
  Buffer(std::shared_ptr<DeviceImpl> device, void* handle, uint64_t size,
         std::shared_ptr<MemoryPool> pool);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* handle() const { return handle_; }  // the plugin's buffer handle
  uint64_t size() const { return size_; }
  // Host address of byte 0 when the device shares host memory, else nullptr.
  void* host_ptr() const;

 private:
  std::shared_ptr<DeviceImpl> device_;
  void* handle_;
  uint64_t size_;
  std::shared_ptr<MemoryPool> pool_;
};

class Stream;
class Event;
class Capture;

// Names for what rma_device_info reports: "cpu", "gpu", "npu", "other";
// the RMA_CAP_* bits set ("f16", "host_memory", ...; bits newer than this
// build as one hex number).
std::string device_type_name(int32_t type);
std::vector<std::string> capability_names(uint64_t caps);

class Device {
 public:
  Device() = default;
  explicit Device(std::shared_ptr<DeviceImpl> impl) : impl_(std::move(impl)) {}

  bool valid() const { return impl_ != nullptr; }
  const std::string& name() const;  // "cpu", "opencl:0"
  const std::string& plugin_name() const;
  int index() const;
  rma_device_info info() const;  // memory figures are current
  bool host_memory() const;      // buffers are host pointers
  const rma_plugin_api& api() const;
  rma_device handle() const;

  // Memory from this device's pool (aligned to 64 bytes).
  std::shared_ptr<Buffer> allocate(uint64_t bytes) const;
  MemoryStats memory_stats() const;
  void release_cached_memory() const;  // hands cached blocks back to the plugin

  Stream& default_stream() const;
  void synchronize() const;  // waits for the default stream

  // Whether the plugin accepts the call; if not, why (in `reason`).
  bool supports(const rma_op_call& call, std::string* reason = nullptr) const;

  // Stream capture (plugins with RMA_CAP_CAPTURE: CPU, CUDA). Between
  // begin_capture() and end_capture() the default stream's ops are recorded,
  // not run, and every allocation comes from a pool private to the capture,
  // so the recording's buffers keep their addresses for as long as the
  // Capture lives. Nothing may be copied from or to the host meanwhile, and
  // no other thread may use the device. A failed or abandoned recording is
  // ended with abort_capture().
  bool supports_capture() const;
  void begin_capture() const;
  std::shared_ptr<Capture> end_capture() const;
  void abort_capture() const noexcept;

  // Kernel binaries (plugins with kernels_export/kernels_import: OpenCL).
  // export_kernels() returns every kernel binary this device built or loaded
  // in this process, in the plugin's format; import_kernels() seeds the
  // plugin's kernel cache from such bytes (ignored when they were made for
  // another device or driver; an Error when corrupt).
  bool supports_kernel_export() const;
  std::vector<uint8_t> export_kernels() const;
  void import_kernels(std::span<const uint8_t> bytes) const;

  bool operator==(const Device& o) const { return impl_ == o.impl_; }
  bool operator!=(const Device& o) const { return impl_ != o.impl_; }
  const std::shared_ptr<DeviceImpl>& impl() const { return impl_; }

 private:
  std::shared_ptr<DeviceImpl> impl_;
};

class Stream {
 public:
  explicit Stream(Device device);  // a new stream on `device`
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  const Device& device() const { return device_; }
  rma_stream handle() const { return handle_; }
  void synchronize();
  void wait(const Event& event);  // later work on this stream waits for event

 private:
  Device device_;
  rma_stream handle_ = nullptr;
};

class Event {
 public:
  explicit Event(Device device);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void record(Stream& stream);
  void synchronize();
  rma_event handle() const { return handle_; }

 private:
  Device device_;
  rma_event handle_ = nullptr;
};

// A recording of a device's default-stream work (Device::end_capture()).
class Capture {
 public:
  Capture(Device device, rma_capture handle, uint64_t num_ops, std::shared_ptr<MemoryPool> pool);
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Enqueues the recorded work again on the device's default stream.
  void launch();
  uint64_t num_ops() const { return num_ops_; }  // ops (kernels, nodes) recorded

 private:
  Device device_;
  rma_capture handle_;
  uint64_t num_ops_;
  std::shared_ptr<MemoryPool> pool_;  // the buffers the recording uses
};

struct PluginInfo {
  std::string name;
  std::string version;
  std::string path;
  uint32_t abi_version;
  int device_count;
};

struct SkippedPlugin {
  std::string path;
  std::string reason;
};

class Runtime {
 public:
  // The process-wide runtime; the first call loads plugins with
  // Config{}.with_environment() unless init() came first.
  static Runtime& get();
  // Configures the runtime before first use; an error once it is running.
  static Runtime& init(const Config& config);

  const Config& config() const { return config_; }  // environment applied
  const std::vector<PluginInfo>& plugins() const { return plugins_; }
  const std::vector<SkippedPlugin>& skipped_plugins() const { return skipped_; }
  std::vector<Device> devices() const;

  // "cpu", "cpu:0", "opencl:1", a plugin's own prefix, or "auto".
  // Throws Error(kNotFound) listing the devices present.
  Device device(const std::string& spec) const;
  // The configured device (Config::device, RM_DEVICE overriding).
  Device default_device() const;
  // `auto`: the first accelerator (non-CPU) that supports every op in `ops`
  // (the Tier-1 ops when empty), in plugin load order; else the CPU.
  Device auto_device(const std::vector<rma_op>& ops = {}) const;

  std::string cache_dir() const;

  ~Runtime();

 private:
  explicit Runtime(Config config);
  void load_plugins();
  void load_plugin_file(const std::string& path);

  Config config_;
  std::vector<std::unique_ptr<Plugin>> loaded_;
  std::vector<PluginInfo> plugins_;
  std::vector<SkippedPlugin> skipped_;
  std::vector<Device> devices_;
  rma_host_api host_api_{};
};

// Folder the built-in plugins were installed to (next to librma).
std::string builtin_plugin_dir();

}  // namespace rma
