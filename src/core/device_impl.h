// Internal: what a Device handle points at, and the loaded-plugin record.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "rma/device.h"

namespace rma {

// A dlopen'ed plugin library and its function table.
class Plugin {
 public:
  Plugin(void* library, const rma_plugin_api* api, std::string path)
      : library_(library), api_(api), path_(std::move(path)) {}
  const rma_plugin_api& api() const { return *api_; }
  const std::string& path() const { return path_; }

 private:
  void* library_;  // kept loaded for the life of the process
  const rma_plugin_api* api_;
  std::string path_;
};

// Caching allocator: freed blocks are kept in size order and reused for
// requests up to twice smaller; on exhaustion the cache is released and the
// allocation retried before an out-of-memory error is raised.
class MemoryPool {
 public:
  // A private pool (a capture's) hands its blocks back to the plugin when
  // destroyed; the device's own pool lives as long as the process.
  explicit MemoryPool(DeviceImpl& device, bool private_pool = false)
      : device_(device), private_(private_pool) {}
  ~MemoryPool();
  void* allocate(uint64_t bytes, uint64_t* actual_size);  // throws Error
  void release(void* handle, uint64_t size);
  void release_cached();
  MemoryStats stats() const;

 private:
  void release_cached_locked();
  DeviceImpl& device_;
  bool private_;
  mutable std::mutex mu_;
  std::multimap<uint64_t, void*> free_;  // size -> handle
  MemoryStats stats_;
};

class DeviceImpl {
 public:
  DeviceImpl(const Plugin& plugin, rma_device handle, int index, std::string name);
  ~DeviceImpl();

  const rma_plugin_api& api;  // lives in the plugin library, never unloaded
  rma_device handle;
  int index;
  std::string name;
  std::string plugin_name;
  bool host_memory = false;
  std::shared_ptr<MemoryPool> pool;
  std::unique_ptr<Stream> default_stream;  // set right after construction
  // While a capture records: the pool every allocation comes from.
  std::mutex capture_mu;
  std::shared_ptr<MemoryPool> capture_pool;
};

}  // namespace rma
