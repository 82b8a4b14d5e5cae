// residual_out = x + residual (rounded to T), y = rms_norm(residual_out, w)
// per row: one pass writes residual_out and sums its squares, the second
// reads it back and writes y. Each element is read and written by one
// thread, so residual_out may alias x or residual and y may alias x.
#pragma once

#include "common/kernel_utils.cuh"

namespace rma::cuda {

template <class T>
__global__ void add_rms_norm_kernel(const T* x, const T* residual, const T* __restrict__ w, T* y,
                                    T* residual_out, int64_t rows, int64_t h, float eps) {
  __shared__ float shared[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t base = r * h;
    float ss = 0.f;
    for (int64_t i = threadIdx.x; i < h; i += blockDim.x) {
      const T sum = from_f32<T>(to_f32(x[base + i]) + to_f32(residual[base + i]));
      residual_out[base + i] = sum;
      const float v = to_f32(sum);
      ss += v * v;
    }
    ss = block_sum(ss, shared);
    const float inv = rsqrtf(ss / float(h) + eps);
    for (int64_t i = threadIdx.x; i < h; i += blockDim.x)
      y[base + i] = from_f32<T>(to_f32(residual_out[base + i]) * inv * to_f32(w[i]));
  }
}

}  // namespace rma::cuda
