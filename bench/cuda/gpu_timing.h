// GPU time of work enqueued on a CUDA stream, measured with CUDA events.
//
// A spin kernel holds the stream while the host enqueues a batch of calls
// (gpu_helpers.h), then the GPU runs the batch back to back: the events
// around it give the GPU's time per call without the host's launch latency,
// and the host's own time to enqueue the batch is the per-call launch
// overhead (what a caller pays who runs ops one by one, eagerly). Batches are
// sized to a few milliseconds of GPU work; the median of several is kept.
#pragma once

#include <cuda_runtime.h>

#include <functional>

namespace rma::bench::cuda {

struct Timing {
  double median_us = 0, p10_us = 0, p90_us = 0;  // GPU time per call
  double host_us = 0;  // host time to enqueue one call (median over batches)
  int calls = 0;       // per batch
  int batches = 0;
  // The host did not finish enqueueing before the spin ended in some batch
  // even with a longer spin: those figures include idle gaps.
  bool gapped = false;
};

class GpuClock {
 public:
  explicit GpuClock(cudaStream_t stream);
  ~GpuClock();
  GpuClock(const GpuClock&) = delete;
  GpuClock& operator=(const GpuClock&) = delete;

  // Times enqueue(i), which enqueues call i (i counts up across the run, so
  // calls may cycle through copies of their operands), after two warm-up
  // calls. `batches`: how many batches the median is taken over.
  Timing time(const std::function<void(int)>& enqueue, int batches = 9);

  // Microseconds between two events recorded around `enqueue()` on the
  // stream, waiting for it to finish (no spin: includes launch latency).
  double time_once(const std::function<void()>& enqueue);

  cudaStream_t stream() const { return stream_; }

 private:
  cudaStream_t stream_;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// Throws rma::Error(kDevice) naming `what` when e is not cudaSuccess.
void check_cuda(cudaError_t e, const char* what);

}  // namespace rma::bench::cuda
