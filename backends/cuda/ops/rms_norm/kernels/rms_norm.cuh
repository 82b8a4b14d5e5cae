// y = x / sqrt(mean(x^2) + eps) * w per row of h elements; one block per
// row, the sum of squares in f32 by a block reduction.
#pragma once

#include "common/kernel_utils.cuh"

namespace rma::cuda {

template <class T>
__global__ void rms_norm_kernel(const T* x, const T* __restrict__ w, T* y, int64_t rows, int64_t h,
                                float eps) {
  __shared__ float shared[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * h;
    float ss = 0.f;
    for (int64_t i = threadIdx.x; i < h; i += blockDim.x) {
      const float v = to_f32(xr[i]);
      ss += v * v;
    }
    ss = block_sum(ss, shared);
    const float inv = rsqrtf(ss / float(h) + eps);
    T* yr = y + r * h;
    // y may alias x: each element is read and written by the same thread.
    for (int64_t i = threadIdx.x; i < h; i += blockDim.x)
      yr[i] = from_f32<T>(to_f32(xr[i]) * inv * to_f32(w[i]));
  }
}

}  // namespace rma::cuda
