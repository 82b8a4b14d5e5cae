// The CUDA plugin's caching allocator for stream-ordered device memory (op
// scratch, cuBLASLt workspaces): one per device, with free lists per stream.
//
// Why per stream: work on one stream runs in order, so a block freed by an op
// on stream S may be handed to the next request on S at once, before the
// device has finished with it; a block cached for S is never given to another
// stream while S may still use it. Blocks of a stream that goes away (it is
// synchronised first) move to a shared list any stream may take from.
//
// Pure host logic: device calls go through AllocatorBackend, so
// tests/cpp/test_cuda.cpp checks it on machines without a GPU.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace rma::cuda {

// Requests up to 1 MiB are rounded to 512 bytes, larger ones to 2 MiB, so
// repeated shapes map to the same class and waste stays bounded.
constexpr uint64_t kSmallGranule = 512;
constexpr uint64_t kSmallLimit = 1ull << 20;
constexpr uint64_t kLargeGranule = 2ull << 20;

inline uint64_t round_up_to(uint64_t v, uint64_t granule) {
  return (v + granule - 1) / granule * granule;
}

inline uint64_t size_class(uint64_t bytes) {
  if (bytes <= kSmallLimit) return std::max(kSmallGranule, round_up_to(bytes, kSmallGranule));
  return round_up_to(bytes, kLargeGranule);
}

// Whether a cached block of `block` bytes may serve a request of class
// `cls`: big enough, and at most a quarter larger (a big block is not tied
// up by a small request).
inline bool block_fits(uint64_t block, uint64_t cls) {
  return block >= cls && block - cls <= cls / 4;
}

struct AllocatorStats {
  uint64_t bytes_in_use = 0;  // handed out
  uint64_t bytes_cached = 0;  // freed, kept for reuse
  uint64_t peak_bytes_in_use = 0;
  uint64_t device_allocs = 0;  // calls that reached the device allocator
  uint64_t cache_hits = 0;     // requests served from a free list
  uint64_t releases = 0;       // times the cache was emptied (on demand or out of memory)
};

// What the allocator needs from the device.
class AllocatorBackend {
 public:
  virtual ~AllocatorBackend() = default;
  virtual void* device_alloc(uint64_t bytes) = 0;  // nullptr when out of memory
  virtual void device_free(void* ptr) = 0;
  virtual void synchronize() = 0;  // waits for all work on the device
};

class CachingAllocator {
 public:
  // Streams are opaque keys (cudaStream_t); kShared names the shared list.
  using StreamKey = const void*;
  static constexpr StreamKey kShared = nullptr;

  explicit CachingAllocator(AllocatorBackend& backend) : backend_(backend) {}
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least `bytes` for work on `stream`, or nullptr when the
  // device is out of memory even after the cache was released.
  void* allocate(uint64_t bytes, StreamKey stream) {
    const uint64_t cls = size_class(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    if (void* p = take_cached(stream, stream, cls)) return p;
    if (stream != kShared)
      if (void* p = take_cached(kShared, stream, cls)) return p;
    void* p = backend_.device_alloc(cls);
    if (!p && stats_.bytes_cached > 0) {
      // Out of memory with blocks cached: wait until no stream uses them,
      // hand them all back and try once more.
      release_locked();
      p = backend_.device_alloc(cls);
    }
    if (!p) return nullptr;
    ++stats_.device_allocs;
    in_use_[p] = Block{cls, stream};
    note_in_use(cls);
    return p;
  }

  // Returns a block to the free list of the stream it was allocated for.
  // Unknown pointers are ignored (the caller's bug must not corrupt the cache).
  void free(void* ptr) {
    if (!ptr) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = in_use_.find(ptr);
    if (it == in_use_.end()) return;
    const Block b = it->second;
    in_use_.erase(it);
    stats_.bytes_in_use -= b.size;
    stats_.bytes_cached += b.size;
    free_[b.stream].emplace(b.size, ptr);
  }

  // The stream is gone and was synchronised: its cached blocks become
  // shared, and blocks still in use go to the shared list when freed.
  void retire_stream(StreamKey stream) {
    if (stream == kShared) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(stream);
    if (it != free_.end()) {
      free_[kShared].insert(it->second.begin(), it->second.end());
      free_.erase(it);
    }
    for (auto& [ptr, b] : in_use_)
      if (b.stream == stream) b.stream = kShared;
  }

  // Hands every cached block back to the device (after waiting for the
  // device, since a stream may still use a block cached for it).
  void release_cached() {
    std::lock_guard<std::mutex> lock(mu_);
    release_locked();
  }

  AllocatorStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  struct Block {
    uint64_t size;
    StreamKey stream;
  };

  // A block from the free list `from` for work on `owner`.
  void* take_cached(StreamKey from, StreamKey owner, uint64_t cls) {
    auto list = free_.find(from);
    if (list == free_.end()) return nullptr;
    auto it = list->second.lower_bound(cls);
    if (it == list->second.end() || !block_fits(it->first, cls)) return nullptr;
    const uint64_t size = it->first;
    void* p = it->second;
    list->second.erase(it);
    stats_.bytes_cached -= size;
    ++stats_.cache_hits;
    in_use_[p] = Block{size, owner};
    note_in_use(size);
    return p;
  }

  void note_in_use(uint64_t size) {
    stats_.bytes_in_use += size;
    stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  }

  void release_locked() {
    if (stats_.bytes_cached == 0) return;
    backend_.synchronize();
    for (auto& [stream, list] : free_)
      for (auto& [size, ptr] : list) backend_.device_free(ptr);
    free_.clear();
    stats_.bytes_cached = 0;
    ++stats_.releases;
  }

  AllocatorBackend& backend_;
  mutable std::mutex mu_;
  std::unordered_map<StreamKey, std::multimap<uint64_t, void*>> free_;  // by stream, by size
  std::unordered_map<void*, Block> in_use_;
  AllocatorStats stats_;
};

}  // namespace rma::cuda
