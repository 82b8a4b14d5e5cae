// The per-element math of CUDA moe_gating_topk_softmax (docs/ops.md), as
// host and device functions so tests/cpp/test_cuda_attention.cpp checks them
// on the host against the reference.
#pragma once

#include <cmath>
#include <cstdint>

#ifndef RMA_HD
#ifdef __CUDACC__
#define RMA_HD __host__ __device__ inline
#else
#define RMA_HD inline
#endif
#endif

namespace rma::cuda::moe_math {

// The router probability of a logit before normalisation, in double as the
// reference computes it: exp(x - max). NaN logits count as -inf (probability
// 0); a row whose max is -inf gives 0 everywhere instead of NaN.
RMA_HD double unnormalized(float x, float row_max) {
  if (x != x || row_max == -INFINITY) return 0.0;
  return ::exp(double(x) - double(row_max));
}

// The probability p_e = exp(x_e - max) / sum, the ranking key. A row without
// a finite maximum (sum 0) gives 0 everywhere, so its ranking is by id.
RMA_HD double normalized(float x, float row_max, double sum) {
  return sum > 0 ? unnormalized(x, row_max) / sum : 0.0;
}

// (pa, ia) ranks before (pb, ib): larger probability, or equal and lower
// expert id; id -1 is "none" and ranks after everything.
RMA_HD bool ranks_before(double pa, int32_t ia, double pb, int32_t ib) {
  if (ia < 0) return false;
  if (ib < 0) return true;
  return pa > pb || (pa == pb && ia < ib);
}

// Selection j takes the best expert ranking strictly after selection j - 1
// (prev_i -1: nothing selected yet), so nothing needs marking.
RMA_HD bool ranks_after(double p, int32_t i, double prev_p, int32_t prev_i) {
  return prev_i < 0 || ranks_before(prev_p, prev_i, p, i);
}

}  // namespace rma::cuda::moe_math
