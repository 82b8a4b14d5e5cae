#include "bench/cuda/gpu_timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "bench/cuda/gpu_helpers.h"
#include "rma/error.h"

namespace rma::bench::cuda {
namespace {

using Clock = std::chrono::steady_clock;

// GPU work per batch, and the most calls one batch enqueues (the driver's
// launch queue holds about a thousand pending launches; an op may be two).
constexpr double kBatchTargetUs = 3000;
constexpr int kMaxCallsPerBatch = 100;
constexpr double kMaxSpinUs = 500e3;

double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

double at_quantile(const std::vector<double>& sorted, double q) {
  return sorted[static_cast<size_t>(q * double(sorted.size() - 1) + 0.5)];
}

}  // namespace

void check_cuda(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  cudaGetLastError();
  throw Error(ErrorCode::kDevice,
              std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

GpuClock::GpuClock(cudaStream_t stream) : stream_(stream) {
  check_cuda(cudaEventCreate(&start_), "cudaEventCreate");
  check_cuda(cudaEventCreate(&stop_), "cudaEventCreate");
}

GpuClock::~GpuClock() {
  cudaEventDestroy(start_);
  cudaEventDestroy(stop_);
}

double GpuClock::time_once(const std::function<void()>& enqueue) {
  check_cuda(cudaEventRecord(start_, stream_), "cudaEventRecord");
  enqueue();
  check_cuda(cudaEventRecord(stop_, stream_), "cudaEventRecord");
  check_cuda(cudaEventSynchronize(stop_), "cudaEventSynchronize");
  float ms = 0;
  check_cuda(cudaEventElapsedTime(&ms, start_, stop_), "cudaEventElapsedTime");
  return 1e3 * ms;
}

Timing GpuClock::time(const std::function<void(int)>& enqueue, int batches) {
  int next = 0;
  enqueue(next++);  // first calls: plans, handles, pool blocks
  enqueue(next++);
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");

  // One ungated call: an upper bound of its GPU time, and the host's cost.
  const auto h0 = Clock::now();
  const double first_us = time_once([&] { enqueue(next++); });
  const double first_host_us = us_since(h0);

  Timing t;
  t.calls = static_cast<int>(std::clamp(std::ceil(kBatchTargetUs / std::max(first_us, 0.5)), 1.0,
                                        double(kMaxCallsPerBatch)));
  double spin_us = std::min(kMaxSpinUs, 50 + 2 * t.calls * first_host_us);
  std::vector<double> gpu, host;
  for (int b = 0, retries = 0; b < batches;) {
    check_cuda(spin(stream_, spin_us), "spin kernel launch");
    check_cuda(cudaEventRecord(start_, stream_), "cudaEventRecord");
    const auto e0 = Clock::now();
    for (int c = 0; c < t.calls; ++c) enqueue(next++);
    const double enqueue_us = us_since(e0);
    check_cuda(cudaEventRecord(stop_, stream_), "cudaEventRecord");
    check_cuda(cudaEventSynchronize(stop_), "cudaEventSynchronize");
    float ms = 0;
    check_cuda(cudaEventElapsedTime(&ms, start_, stop_), "cudaEventElapsedTime");
    // The spin must outlast the enqueueing, else the GPU idled in between:
    // retry with a longer spin (a few times), then keep the figure, flagged.
    if (enqueue_us > 0.8 * spin_us && spin_us < kMaxSpinUs && retries < 3) {
      spin_us = std::min(kMaxSpinUs, 2 * enqueue_us + 50);
      ++retries;
      continue;
    }
    if (enqueue_us > 0.8 * spin_us) t.gapped = true;
    gpu.push_back(1e3 * ms / t.calls);
    host.push_back(enqueue_us / t.calls);
    ++b;
  }
  std::sort(gpu.begin(), gpu.end());
  std::sort(host.begin(), host.end());
  t.batches = static_cast<int>(gpu.size());
  t.median_us = at_quantile(gpu, 0.5);
  t.p10_us = at_quantile(gpu, 0.1);
  t.p90_us = at_quantile(gpu, 0.9);
  t.host_us = at_quantile(host, 0.5);
  return t;
}

}  // namespace rma::bench::cuda
