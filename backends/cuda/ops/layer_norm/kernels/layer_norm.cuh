// y = (x - mean) / sqrt(var + eps) * w + b per row (biased variance). Mean
// first, then the variance as the mean of (x - mean)^2, which stays exact
// when the mean is large next to the spread.
#pragma once

#include "common/kernel_utils.cuh"

namespace rma::cuda {

template <class T>
__global__ void layer_norm_kernel(const T* x, const T* __restrict__ w, const T* __restrict__ b,
                                  T* y, int64_t rows, int64_t h, float eps) {
  __shared__ float shared[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * h;
    float sum = 0.f;
    for (int64_t i = threadIdx.x; i < h; i += blockDim.x) sum += to_f32(xr[i]);
    const float mean = block_sum(sum, shared) / float(h);
    float sq = 0.f;
    for (int64_t i = threadIdx.x; i < h; i += blockDim.x) {
      const float d = to_f32(xr[i]) - mean;
      sq += d * d;
    }
    const float inv = rsqrtf(block_sum(sq, shared) / float(h) + eps);
    T* yr = y + r * h;
    for (int64_t i = threadIdx.x; i < h; i += blockDim.x) {
      float v = (to_f32(xr[i]) - mean) * inv * to_f32(w[i]);
      if (b) v += to_f32(b[i]);
      yr[i] = from_f32<T>(v);
    }
  }
}

}  // namespace rma::cuda
