// Matrix products shared by linear and quant_linear (common/gemm.cu):
// cuBLASLt with fused bias / activation epilogues where it has them, our own
// epilogue kernel for the other activations, a tiled kernel where cuBLASLt
// declines a problem, a warp-per-row GEMV for a few rows, and the dtype
// conversions the quantized path needs.
#pragma once

#include <cstdint>

#include "common/cuda_op.h"

namespace rma::cuda {

// y[t, n] (row stride ldy) = act(alpha * sum_k A[t, k] B[k, n] + bias[n]),
// products and sums in f32, y rounded once. A = x [T, K], or x stored
// [K, T] with trans_a; B = w^T for w [N, K] with trans_b, else w [K, N].
// x and w share in_dtype (f32, f16 or bf16); bias (or null) and y are
// out_dtype.
struct GemmArgs {
  int64_t t = 0, n = 0, k = 0;
  const void* x = nullptr;
  bool trans_a = false;
  const void* w = nullptr;
  bool trans_b = true;
  int32_t in_dtype = RMA_DTYPE_F32;
  const void* bias = nullptr;
  void* y = nullptr;
  int64_t ldy = 0;
  int32_t out_dtype = RMA_DTYPE_F32;
  float alpha = 1.f;
  int32_t activation = RMA_ACT_NONE;
  float activation_param = 0.f;
};

// cuBLASLt, or the tiled kernel where cuBLASLt has no algorithm for it.
rma_status gemm(const Context& ctx, const GemmArgs& g, const char* op, const rma_op_call& call,
                rma_error* err);

// Most rows gemv() takes (the T <= 8 decode shapes).
constexpr int64_t kGemvMaxRows = 8;

// The same for t <= kGemvMaxRows, !trans_a, trans_b: one warp per output
// column n reads w's row n once for all t. w is w_dtype and x is x_dtype,
// where x_dtype is w_dtype or f32 (quant_linear's widened activations);
// x's rows are k apart.
rma_status gemv(const Context& ctx, const GemmArgs& g, int32_t w_dtype, int32_t x_dtype,
                const char* op, const rma_op_call& call, rma_error* err);

// dst[i] = src[i] for i < count, converted between float dtypes (rounded
// to nearest even when narrowing).
rma_status convert_floats(const Context& ctx, const void* src, int32_t src_dtype, void* dst,
                          int32_t dst_dtype, int64_t count, const char* op, const rma_op_call& call,
                          rma_error* err);

}  // namespace rma::cuda
