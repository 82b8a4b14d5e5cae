// y = exp(x - max) / sum(exp(x - max)) per row of n. One read of the row
// for the statistics: each thread keeps a running max and a sum rescaled
// whenever its max grows (one exp per element), the block combines them;
// a second read writes y: e / sum, or for log_softmax x - max - log(sum).
#pragma once

#include "common/kernel_utils.cuh"

namespace rma::cuda {

template <class T>
__global__ void softmax_kernel(const T* x, T* y, int64_t rows, int64_t n, bool log_softmax) {
  __shared__ float shared[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * n;
    float m = -INFINITY, s = 0.f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float v = to_f32(xr[i]);
      if (v == -INFINITY) continue;  // adds nothing (and exp(-inf - -inf) would be nan)
      if (v > m) {
        s = s * expf(m - v) + 1.f;
        m = v;
      } else {
        s += expf(v - m);
      }
    }
    const float row_max = block_max(m, shared);
    const float scaled = m == -INFINITY ? 0.f : s * expf(m - row_max);
    const float sum = block_sum(scaled, shared);
    T* yr = y + r * n;
    if (log_softmax) {
      const float shift = row_max + logf(sum);
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        yr[i] = from_f32<T>(to_f32(xr[i]) - shift);
    } else {
      const float inv = 1.f / sum;
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        yr[i] = from_f32<T>(expf(to_f32(xr[i]) - row_max) * inv);
    }
  }
}

}  // namespace rma::cuda
