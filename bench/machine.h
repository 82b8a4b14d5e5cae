// Machine probes for `rma bench`: the FMA peak and the DRAM read bandwidth
// the op figures are compared with, and a one-line description of the host.
// Probes run their own threads; call them while nothing else is running.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rma::bench {

struct PeakResult {
  double gflops = 0;    // f32 FLOP/s (an FMA counts 2) summed over threads, in 1e9
  int vector_bits = 0;  // 512 (AVX-512), 256 (AVX2+FMA) or 32 (scalar)
};
// Independent FMA chains on `threads` threads at once; best of a few runs.
PeakResult measure_fma_peak(int threads);

// Streaming read of a buffer far larger than the caches (`bytes`, split
// across `threads` threads), in 1e9 bytes/s; best of a few passes.
double measure_read_bandwidth(int threads, uint64_t bytes);

// A plain read of a buffer split across `threads` threads (the caller and
// helpers that sleep between reads, so they leave the cores to the op
// timed in between): the reference an op streaming the same bytes is held
// to, measured alternately with it so that both see the same neighbours.
class ReadProbe {
 public:
  explicit ReadProbe(int threads);
  ~ReadProbe();
  ReadProbe(const ReadProbe&) = delete;
  ReadProbe& operator=(const ReadProbe&) = delete;
  // Seconds for one read of `bytes` at `buf`, from the moment all threads run.
  double read(const void* buf, uint64_t bytes);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// "AMD EPYC ..., 2 threads, L3 32 MiB" style description.
std::string machine_description(int threads);
uint64_t l3_cache_bytes();  // 0 when unknown

// `git describe --dirty` of the source tree the benchmark was built from.
std::string source_commit();

}  // namespace rma::bench
