#include "machine.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace rma::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Runs fn(thread) on `threads` threads released together; returns the wall
// time from the release until the last one finishes.
template <class Fn>
double run_together(int threads, Fn fn) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      fn(t);
    });
  while (ready.load() != threads) {
  }
  const auto t0 = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

constexpr int kChains = 16;  // > FMA latency x pipes on current cores

#if defined(__x86_64__)
__attribute__((target("avx512f,fma"))) float fma_chains_512(int64_t iters) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(1.f + 1e-3f * i);
  const __m512 m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], m, c);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  alignas(64) float out[16];
  _mm512_store_ps(out, s);
  return out[0] + out[15];
}

__attribute__((target("avx2,fma"))) float fma_chains_256(int64_t iters) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(1.f + 1e-3f * i);
  const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], m, c);
  }
  __m256 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, acc[i]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  return out[0] + out[7];
}

__attribute__((target("avx512f"))) uint64_t read_512(const uint8_t* p, uint64_t bytes) {
  __m512i acc[8];
  for (auto& a : acc) a = _mm512_setzero_si512();
  const uint64_t n = bytes / 512 * 512;
  for (uint64_t i = 0; i < n; i += 512) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j)
      acc[j] = _mm512_add_epi32(acc[j], _mm512_load_si512(p + i + 64 * j));
  }
  for (int j = 1; j < 8; ++j) acc[0] = _mm512_add_epi32(acc[0], acc[j]);
  alignas(64) uint32_t out[16];
  _mm512_store_si512(out, acc[0]);
  return out[0] + out[15];
}

__attribute__((target("avx2"))) uint64_t read_256(const uint8_t* p, uint64_t bytes) {
  __m256i acc[8];
  for (auto& a : acc) a = _mm256_setzero_si256();
  const uint64_t n = bytes / 256 * 256;
  for (uint64_t i = 0; i < n; i += 256) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j)
      acc[j] = _mm256_add_epi32(
          acc[j], _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32 * j)));
  }
  for (int j = 1; j < 8; ++j) acc[0] = _mm256_add_epi32(acc[0], acc[j]);
  alignas(32) uint32_t out[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), acc[0]);
  return out[0] + out[7];
}
__attribute__((target("avx512f"))) uint64_t read_512_unaligned(const uint8_t* p, uint64_t bytes) {
  __m512i acc[8];
  for (auto& a : acc) a = _mm512_setzero_si512();
  for (uint64_t i = 0; i + 512 <= bytes; i += 512) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j)
      acc[j] = _mm512_add_epi32(acc[j], _mm512_loadu_si512(p + i + 64 * j));
  }
  for (int j = 1; j < 8; ++j) acc[0] = _mm512_add_epi32(acc[0], acc[j]);
  alignas(64) uint32_t out[16];
  _mm512_store_si512(out, acc[0]);
  return out[0] + out[15];
}

__attribute__((target("avx2"))) uint64_t read_256_unaligned(const uint8_t* p, uint64_t bytes) {
  __m256i acc[8];
  for (auto& a : acc) a = _mm256_setzero_si256();
  for (uint64_t i = 0; i + 256 <= bytes; i += 256) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j)
      acc[j] = _mm256_add_epi32(
          acc[j], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32 * j)));
  }
  for (int j = 1; j < 8; ++j) acc[0] = _mm256_add_epi32(acc[0], acc[j]);
  alignas(32) uint32_t out[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), acc[0]);
  return out[0] + out[7];
}
#endif

float fma_chains_scalar(int64_t iters) {
  float acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = 1.f + 1e-3f * i;
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * 0.9999999f + 1e-7f;
  float s = 0;
  for (float a : acc) s += a;
  return s;
}

uint64_t read_scalar(const uint8_t* p, uint64_t bytes) {
  uint64_t s = 0;
  const auto* q = reinterpret_cast<const uint64_t*>(p);
  for (uint64_t i = 0; i < bytes / 8; ++i) s += q[i];
  return s;
}

int best_vector_bits() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return 512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 256;
#endif
  return 32;
}

std::atomic<uint64_t> g_sink{0};  // keeps the probes' results alive

}  // namespace

PeakResult measure_fma_peak(int threads) {
  PeakResult r;
  r.vector_bits = best_vector_bits();
  const int lanes = r.vector_bits / 32;
  // About 0.15 s per run at ~4 GHz and two FMA pipes.
  const int64_t iters = r.vector_bits == 32 ? 20'000'000 : 40'000'000;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const double s = run_together(threads, [&](int) {
      float v;
#if defined(__x86_64__)
      if (r.vector_bits == 512)
        v = fma_chains_512(iters);
      else if (r.vector_bits == 256)
        v = fma_chains_256(iters);
      else
#endif
        v = fma_chains_scalar(iters);
      g_sink.fetch_add(static_cast<uint64_t>(v != 0.f));
    });
    best = std::max(best, 2.0 * kChains * lanes * static_cast<double>(iters) * threads / s);
  }
  r.gflops = best / 1e9;
  return r;
}

double measure_read_bandwidth(int threads, uint64_t bytes) {
  const uint64_t per = bytes / threads / 4096 * 4096;
  auto* buf = static_cast<uint8_t*>(std::aligned_alloc(4096, per * threads));
  if (!buf) return 0;
  // First touch on the thread that will read it (local pages).
  run_together(threads, [&](int t) { std::memset(buf + per * t, t + 1, per); });
  const int bits = best_vector_bits();
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double s = run_together(threads, [&](int t) {
      const uint8_t* p = buf + per * t;
      uint64_t v;
#if defined(__x86_64__)
      if (bits == 512)
        v = read_512(p, per);
      else if (bits == 256)
        v = read_256(p, per);
      else
#endif
        v = read_scalar(p, per);
      g_sink.fetch_add(v);
    });
    best = std::max(best, static_cast<double>(per) * threads / s);
  }
  std::free(buf);
  return best / 1e9;
}

struct ReadProbe::State {
  int threads;
  std::mutex mu;
  std::condition_variable cv;
  uint64_t job = 0;  // generation
  bool stop = false;
  const uint8_t* buf = nullptr;
  uint64_t per = 0;
  std::atomic<int> started{0}, done{0};
  std::vector<std::thread> helpers;
};

namespace {
uint64_t read_span(const uint8_t* p, uint64_t bytes) {
  static const int bits = best_vector_bits();
#if defined(__x86_64__)
  if (bits == 512) return read_512_unaligned(p, bytes);
  if (bits == 256) return read_256_unaligned(p, bytes);
#endif
  return read_scalar(p, bytes);
}
}  // namespace

ReadProbe::ReadProbe(int threads) : s_(std::make_unique<State>()) {
  s_->threads = std::max(1, threads);
  for (int t = 1; t < s_->threads; ++t)
    s_->helpers.emplace_back([this, t] {
      uint64_t seen = 0;
      for (;;) {
        {
          std::unique_lock<std::mutex> lock(s_->mu);
          s_->cv.wait(lock, [&] { return s_->stop || s_->job != seen; });
          if (s_->stop) return;
          seen = s_->job;
        }
        s_->started.fetch_add(1);
        while (s_->started.load() != s_->threads) {
        }
        g_sink.fetch_add(read_span(s_->buf + s_->per * t, s_->per));
        s_->done.fetch_add(1);
      }
    });
}

ReadProbe::~ReadProbe() {
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    s_->stop = true;
  }
  s_->cv.notify_all();
  for (auto& h : s_->helpers) h.join();
}

double ReadProbe::read(const void* buf, uint64_t bytes) {
  State& s = *s_;
  s.buf = static_cast<const uint8_t*>(buf);
  s.per = bytes / s.threads / 512 * 512;
  s.started.store(0);
  s.done.store(0);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    ++s.job;
  }
  s.cv.notify_all();
  // Time from when every thread runs, not from the helpers' wake-up.
  s.started.fetch_add(1);
  while (s.started.load() != s.threads) {
  }
  const auto t0 = Clock::now();
  g_sink.fetch_add(read_span(s.buf, s.per));
  while (s.done.load() != s.threads - 1) {
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

uint64_t l3_cache_bytes() {
  std::ifstream f("/sys/devices/system/cpu/cpu0/cache/index3/size");
  std::string s;
  if (f >> s && !s.empty()) {
    uint64_t v = std::strtoull(s.c_str(), nullptr, 10);
    if (s.back() == 'K') v <<= 10;
    if (s.back() == 'M') v <<= 20;
    return v;
  }
  const long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
  return v > 0 ? static_cast<uint64_t>(v) : 0;
}

std::string machine_description(int threads) {
  std::string model = "unknown cpu";
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      const size_t c = line.find(':');
      if (c != std::string::npos) model = line.substr(c + 2);
      break;
    }
  std::string s = model + ", " + std::to_string(threads) + " threads";
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores > 0) s += " of " + std::to_string(cores) + " cpus";
  if (const uint64_t l3 = l3_cache_bytes()) s += ", L3 " + std::to_string(l3 >> 20) + " MiB";
  const int bits = best_vector_bits();
  s += bits == 512 ? ", avx512" : bits == 256 ? ", avx2" : "";
  return s;
}

std::string source_commit() {
#if defined(RMA_SOURCE_DIR)
  const std::string cmd = std::string("git -C '") + RMA_SOURCE_DIR +
                          "' describe --always --dirty --abbrev=12 2>/dev/null";
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char buf[128] = {};
    const bool ok = std::fgets(buf, sizeof(buf), f) != nullptr;
    pclose(f);
    std::string s = ok ? buf : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (!s.empty()) return s;
  }
#endif
  return "unknown";
}

}  // namespace rma::bench
