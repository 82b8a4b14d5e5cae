#include <algorithm>
#include <cstdio>

#include "core/device_impl.h"
#include "rma/error.h"
#include "rma/log.h"

namespace rma {
namespace {

constexpr uint64_t kMaxCachedBytes = 2ull << 30;  // beyond this, freed blocks go back

uint64_t round_size(uint64_t bytes) {
  const uint64_t granule = bytes < (1u << 20) ? 512 : (64u << 10);
  return std::max<uint64_t>(granule, (bytes + granule - 1) / granule * granule);
}

std::string mib(uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", b / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

MemoryPool::~MemoryPool() {
  // The device's pool: blocks are reclaimed with the process. A private
  // pool dies after every buffer from it (they hold it), so all its blocks
  // are in the free list.
  if (private_) release_cached_locked();
}

void* MemoryPool::allocate(uint64_t bytes, uint64_t* actual) {
  const uint64_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = free_.lower_bound(size);
  if (it != free_.end() && it->first <= 2 * size) {
    void* h = it->second;
    *actual = it->first;
    stats_.bytes_cached -= it->first;
    free_.erase(it);
    stats_.pool_hits++;
    stats_.bytes_in_use += *actual;
    stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
    return h;
  }
  rma_error err{sizeof(rma_error), RMA_ABI_VERSION, {0}};
  void* h = nullptr;
  rma_status st = device_.api.buffer_alloc(device_.handle, size, 64, &h, &err);
  if (st == RMA_STATUS_OUT_OF_MEMORY && !free_.empty()) {
    release_cached_locked();
    err.message[0] = 0;
    st = device_.api.buffer_alloc(device_.handle, size, 64, &h, &err);
  }
  if (st != RMA_STATUS_OK || !h) {
    rma_device_info info{};
    info.struct_size = sizeof(info);
    info.abi_version = RMA_ABI_VERSION;
    rma_error ierr{sizeof(rma_error), RMA_ABI_VERSION, {0}};
    device_.api.device_get_info(device_.handle, &info, &ierr);
    throw Error(st == RMA_STATUS_OUT_OF_MEMORY || st == RMA_STATUS_OK ? ErrorCode::kOutOfMemory
                                                                      : static_cast<ErrorCode>(st),
                "cannot allocate " + std::to_string(size) + " bytes (" + mib(size) +
                    "); device reports " + std::to_string(info.memory_free) + " bytes free (" +
                    mib(info.memory_free) + "), " + std::to_string(stats_.bytes_in_use) +
                    " bytes in use by rma" + (err.message[0] ? std::string(": ") + err.message : ""),
                "", device_.name);
  }
  stats_.device_allocs++;
  *actual = size;
  stats_.bytes_in_use += size;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  return h;
}

void MemoryPool::release(void* handle, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.bytes_in_use -= size;
  if (!private_ && stats_.bytes_cached + size > kMaxCachedBytes) {
    device_.api.buffer_free(device_.handle, handle);
    return;
  }
  free_.emplace(size, handle);
  stats_.bytes_cached += size;
}

void MemoryPool::release_cached() {
  std::lock_guard<std::mutex> lock(mu_);
  release_cached_locked();
}

void MemoryPool::release_cached_locked() {
  for (auto& [size, h] : free_) device_.api.buffer_free(device_.handle, h);
  free_.clear();
  stats_.bytes_cached = 0;
}

MemoryStats MemoryPool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace rma
