// Two small kernels the CUDA benchmark needs besides the ops it measures
// (gpu_helpers.cu):
//  - a spin kernel that holds a stream for a while, so that the host can
//    enqueue a batch of calls behind it and the GPU then runs them back to
//    back: CUDA events around the batch time the GPU work alone, not the
//    host's launch latency (the way nvbench's blocking kernel does);
//  - a fill of large buffers with pseudo-random values on the device, so
//    that gigabytes of weights or KV cache are ready in milliseconds.
// Both enqueue on `stream` and return the launch status.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace rma::bench::cuda {

// Occupies one thread of the GPU for `microseconds` (wall time, from the
// GPU's global timer) before later work on `stream` may start.
cudaError_t spin(cudaStream_t stream, double microseconds);

// Element type of fill_uniform's buffer.
enum class FillType { kF32, kF16, kBF16 };

// p[i] = a value uniform in [lo, hi) derived from (seed, i), rounded to the
// element type, for i < count.
cudaError_t fill_uniform(cudaStream_t stream, void* p, FillType type, int64_t count, float lo,
                         float hi, uint64_t seed);

}  // namespace rma::bench::cuda
