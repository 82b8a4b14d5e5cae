// Target-independent helpers of the GEMM drivers: a spin barrier for the
// threads of one pool job, and a grow-only aligned scratch arena.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace rma::cpu {

// Threads of one ThreadPool::run job meet here between the shared packing
// of B and the compute that reads it. Spinning is right: the other threads
// are a few microseconds behind at most.
class SpinBarrier {
 public:
  explicit SpinBarrier(int n) : n_(n) {}
  void wait() {
    if (n_ <= 1) return;
    const uint32_t gen = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) == n_ - 1) {
      count_.store(0, std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_release);
      return;
    }
    while (gen_.load(std::memory_order_acquire) == gen) {
#if defined(__x86_64__)
      _mm_pause();
#endif
    }
  }

 private:
  const int n_;
  std::atomic<int> count_{0};
  std::atomic<uint32_t> gen_{0};
};

// Scratch floats, 64-byte aligned, kept by the calling thread between calls
// so that a decode loop does not allocate.
class ScratchArena {
 public:
  ~ScratchArena() { std::free(p_); }
  // Null when the allocation fails.
  float* get(size_t floats) {
    if (floats > cap_) {
      std::free(p_);
      const size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
      p_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      cap_ = p_ ? floats : 0;
    }
    return p_;
  }

 private:
  float* p_ = nullptr;
  size_t cap_ = 0;
};

// Rounds up to a multiple of 16 floats (64 bytes).
constexpr size_t pad16(size_t floats) {
  return (floats + 15) / 16 * 16;
}
constexpr int64_t round_up(int64_t x, int64_t m) {
  return (x + m - 1) / m * m;
}
constexpr int64_t ceil_div(int64_t x, int64_t m) {
  return (x + m - 1) / m;
}

}  // namespace rma::cpu
