// Router softmax and top-k over logits[T, E] (f32, f16 or bf16) -> weights
// [T, k] f32 and ids [T, k] i32. One warp per token row:
//  1. the row max (NaN ignored) and sum = sum_e exp(x_e - max), in double as
//     the reference does (moe_math::unnormalized);
//  2. k arg-max reductions over p_e = exp(x_e - max) / sum: selection j takes
//     the best expert ranking strictly after selection j - 1 (larger p first,
//     ties to the lower id, moe_math::ranks_before), so nothing is marked;
//  3. weights p_j, or p_j / sum_j p_j with renormalize, rounded once to f32.
#pragma once

#include <cstdint>

#include "common/kernel_utils.cuh"
#include "ops/moe_gating_topk_softmax/kernels/moe_math.h"

namespace rma::cuda::moe_gating_kernels {

struct MoeParams {
  const void* logits;
  float* weights;
  int32_t* ids;
  int64_t tokens;
  int32_t experts, k;
  bool renormalize;
};

__device__ __forceinline__ double warp_sum_double(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <class T>
__global__ void moe_gating_kernel(MoeParams p) {
  const int lane = threadIdx.x % 32;
  const int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (row >= p.tokens) return;
  const T* x = static_cast<const T*>(p.logits) + row * p.experts;
  float* w = p.weights + row * p.k;
  int32_t* ids = p.ids + row * p.k;

  float m = -INFINITY;
  for (int e = lane; e < p.experts; e += 32) m = fmaxf(m, to_f32(x[e]));  // fmaxf drops NaN
  m = warp_max(m);
  double sum = 0;
  for (int e = lane; e < p.experts; e += 32) sum += moe_math::unnormalized(to_f32(x[e]), m);
  sum = warp_sum_double(sum);

  double prev_p = 0;
  int32_t prev_i = -1;
  double kept = 0;
  for (int j = 0; j < p.k; ++j) {
    double best_p = 0;
    int32_t best_i = -1;
    for (int e = lane; e < p.experts; e += 32) {
      const double pe = moe_math::normalized(to_f32(x[e]), m, sum);
      if (moe_math::ranks_after(pe, e, prev_p, prev_i) &&
          moe_math::ranks_before(pe, e, best_p, best_i)) {
        best_p = pe;
        best_i = e;
      }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const double op = __shfl_xor_sync(0xffffffffu, best_p, o);
      const int32_t oi = __shfl_xor_sync(0xffffffffu, best_i, o);
      if (moe_math::ranks_before(op, oi, best_p, best_i)) {
        best_p = op;
        best_i = oi;
      }
    }
    prev_p = best_p;
    prev_i = best_i;
    kept += best_p;
    if (lane == 0) {
      ids[j] = best_i >= 0 ? best_i : 0;
      w[j] = static_cast<float>(best_p);
    }
  }
  if (!p.renormalize || kept <= 0) return;
  __syncwarp();
  // Recompute each selected probability (the same arithmetic, so the same
  // value) rather than keep k of them in registers.
  for (int j = lane; j < p.k; j += 32) {
    const double pj = moe_math::normalized(to_f32(x[ids[j]]), m, sum);
    w[j] = static_cast<float>(pj / kept);
  }
}

}  // namespace rma::cuda::moe_gating_kernels
