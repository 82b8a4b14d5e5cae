// Rotary embedding of q[T, Hq, D] and k[T, Hkv, D] in one launch: one block
// per token. The block first computes cos and sin of position * inv_freq[c]
// for its token's r/2 pairs into shared memory (one sincosf per pair, shared
// by every head), then its threads walk the (head, column) items of q's and
// k's heads: column c < r/2 rotates pair c (rope_math::pair_elements), a
// column past it copies element r + (c - r/2) through (skipped when the
// output aliases the input). Each pair is read whole before it is written,
// so outputs may alias inputs.
#pragma once

#include <cstdint>

#include "common/kernel_utils.cuh"
#include "ops/fill_kv_cache/index_tensors.cuh"
#include "ops/rope/kernels/rope_math.h"

namespace rma::cuda::rope_kernels {

struct InvFreq {
  float v[rope_math::kMaxPairs];
};

struct RopeParams {
  const void* q;
  const void* k;
  void* q_out;
  void* k_out;
  const void* positions;
  bool positions_i64;
  int32_t hq, hkv;
  int64_t d, r;
  bool gptj;
};

template <class T>
__device__ __forceinline__ void rotate_heads(const T* x, T* y, int64_t heads, int64_t d,
                                             int64_t half, int64_t cols, bool gptj, const float* cs,
                                             const float* sn, int first_item) {
  const bool aliased = static_cast<const void*>(x) == static_cast<const void*>(y);
  const int64_t items = heads * cols;
  for (int64_t it = first_item; it < items; it += blockDim.x) {
    const int64_t h = it / cols, c = it % cols;
    const T* xr = x + h * d;
    T* yr = y + h * d;
    if (c >= half) {
      const int64_t j = 2 * half + (c - half);
      if (!aliased) yr[j] = xr[j];  // a stored value round-trips exactly
      continue;
    }
    int64_t i0 = 0, i1 = 0;
    rope_math::pair_elements(gptj, c, half, &i0, &i1);
    float y0 = 0.f, y1 = 0.f;
    rope_math::rotate_pair(to_f32(xr[i0]), to_f32(xr[i1]), cs[c], sn[c], &y0, &y1);
    yr[i0] = from_f32<T>(y0);
    yr[i1] = from_f32<T>(y1);
  }
}

template <class T>
__global__ void rope_kernel(RopeParams p, InvFreq inv) {
  __shared__ float cs[rope_math::kMaxPairs];
  __shared__ float sn[rope_math::kMaxPairs];
  const int64_t t = blockIdx.x;
  const int64_t half = p.r / 2;
  const int64_t position = load_index(p.positions, t, p.positions_i64);
  for (int64_t c = threadIdx.x; c < half; c += blockDim.x)
    sincosf(rope_math::angle(position, inv.v[c]), &sn[c], &cs[c]);
  __syncthreads();
  const int64_t cols = half + (p.d - p.r);
  rotate_heads(static_cast<const T*>(p.q) + t * p.hq * p.d,
               static_cast<T*>(p.q_out) + t * p.hq * p.d, p.hq, p.d, half, cols, p.gptj, cs, sn,
               threadIdx.x);
  rotate_heads(static_cast<const T*>(p.k) + t * p.hkv * p.d,
               static_cast<T*>(p.k_out) + t * p.hkv * p.d, p.hkv, p.d, half, cols, p.gptj, cs, sn,
               threadIdx.x);
}

}  // namespace rma::cuda::rope_kernels
