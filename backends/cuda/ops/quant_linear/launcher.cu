// cuda quant_linear: y = act(alpha * x . deq(w)^T + bias), w [N, K] in q8_0,
// q4_0, q4_1, q4_k, q5_k or q6_k (decoded exactly as include/rma/
// block_decode.h), or f16 / bf16 (widened exactly); x, bias and y share one
// float dtype.
//
// T <= 8: GEMV kernels (block formats: kernels/quant_linear.cuh; f16 / bf16
// weights: common/gemm.cu), weights decoded in registers, f32 activations
// (16-bit x is widened first, exactly). Larger T: w is decoded tile by tile
// into scratch and multiplied by cuBLASLt (common/gemm.cu).
//
// Precision (rma_linear_attrs.precision, read only when the caller's struct
// has it): ACCURATE decodes into f32 tiles and multiplies in f32, so the
// only rounding is f32's; FAST with 16-bit x decodes into x's dtype and
// runs the 16-bit GEMM on tensor cores (the weights rounded to that dtype:
// an error of the size the activation rounding FAST allows). With f32 x
// both are computed the same way (f16 activations could overflow).
#include <algorithm>
#include <cstddef>

#include "common/gemm.h"
#include "common/op_checks.h"
#include "ops/quant_linear/config.h"
#include "ops/quant_linear/kernels/quant_linear.cuh"

namespace rma::cuda {
namespace {

constexpr const char* kOp = "quant_linear";
constexpr size_t kAttrsV1Size = offsetof(rma_linear_attrs, precision);

const rma_tensor* bias_of(const rma_op_call& call) {
  return call.num_inputs > 2 && present(call.inputs[2]) ? &call.inputs[2] : nullptr;
}

bool is_half_weight(int32_t dt) { return dt == RMA_DTYPE_F16 || dt == RMA_DTYPE_BF16; }

int32_t precision_of(const rma_linear_attrs& a) {
  return a.struct_size >= offsetof(rma_linear_attrs, precision) + sizeof(a.precision)
             ? a.precision
             : RMA_PRECISION_ACCURATE;
}

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_inputs > 3 || call.num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected inputs (x, w, bias?) and one output, got %d inputs, %d outputs", kOp,
                call.num_inputs, call.num_outputs);
  const auto* attrs = attrs_of<rma_linear_attrs>(call, kAttrsV1Size);
  if (!attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_linear_attrs missing or too small", kOp);
  if (attrs->trans_a != 0 || attrs->trans_b != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: requires trans_a = 0 and trans_b = 1 (w stored [N, K])", kOp);
  if (attrs->activation < RMA_ACT_NONE || attrs->activation > RMA_ACT_TANH)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: unknown activation %d", kOp,
                attrs->activation);
  const int32_t precision = precision_of(*attrs);
  if (precision != RMA_PRECISION_ACCURATE && precision != RMA_PRECISION_FAST)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: unknown precision %d", kOp, precision);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* bias = bias_of(call);
  const int64_t block = is_block_quantized(w.dtype) ? block_shape(w.dtype).elems
                        : is_half_weight(w.dtype)   ? 1
                                                    : 0;
  if (block == 0)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: the cuda backend reads q8_0, q4_0, q4_1, q4_k, q5_k, q6_k, f16 and bf16 "
                "weights (got %s)",
                kOp, dtype_label(w.dtype));
  if (is_half_weight(w.dtype))
    if (rma_status st = require_float_on(dev, kOp, "w", w, err)) return st;
  if (!all_dtype(x.dtype, {&y, bias}))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: x, bias, y must share one dtype", kOp);
  if (rma_status st = require_float_on(dev, kOp, "x", x, err)) return st;
  if (w.ndim != 2 || x.ndim < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected w [N, K] and x [..., K]", kOp);
  const int64_t k = last_dim(x), t = leading_rows(x), n = w.shape[0];
  if (w.shape[1] != k)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: K of x is %lld but w has K = %lld", kOp,
                static_cast<long long>(k), static_cast<long long>(w.shape[1]));
  if (k % block != 0)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: K (%lld) must be a multiple of %s's block of %lld", kOp,
                static_cast<long long>(k), dtype_label(w.dtype), static_cast<long long>(block));
  if (bias && (bias->ndim != 1 || bias->shape[0] != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bias must be [N = %lld]", kOp,
                static_cast<long long>(n));
  if (numel(y) != t * n || (y.ndim > 0 && last_dim(y) != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y must hold [T = %lld, N = %lld]", kOp,
                static_cast<long long>(t), static_cast<long long>(n));
  return require_dense(kOp, {&x, &w, &y, bias}, err);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// x as `dtype`: x itself, or a converted copy in scratch (16-byte aligned:
// scratch blocks are cudaMalloc'd). With `need_aligned`, an unaligned x is
// copied too.
rma_status x_as(const Context& ctx, const rma_op_call& call, int32_t dtype, const void** out,
                rma_error* err, bool need_aligned = false) {
  const rma_tensor& x = call.inputs[0];
  if (x.dtype == dtype && (!need_aligned || aligned16(ptr<const void>(x)))) {
    *out = ptr<const void>(x);
    return RMA_STATUS_OK;
  }
  void* buf = nullptr;
  if (rma_status st = ctx.scratch(ctx, size_t(numel(x) * plain_dtype_bytes(dtype)), &buf, err))
    return st;
  *out = buf;
  return convert_floats(ctx, ptr<const void>(x), x.dtype, buf, dtype, numel(x), kOp, call, err);
}

// Block-quantized weights, T <= 8.
rma_status run_quant_gemv(const Context& ctx, const rma_op_call& call, const GemmArgs& g,
                          rma_error* err) {
  const rma_tensor& w = call.inputs[1];
  const void* xf = nullptr;
  if (rma_status st = x_as(ctx, call, RMA_DTYPE_F32, &xf, err, /*need_aligned=*/true)) return st;
  const BlockShape blk = block_shape(w.dtype);
  const int64_t row_bytes = g.k / blk.elems * blk.bytes;
  const QuantEpilogue e{g.bias, g.y, g.ldy, g.out_dtype, g.alpha, g.activation, g.activation_param};
  constexpr int kThreads = quant_linear_config::kGemvThreads;
  constexpr int kRows = int(quant_linear_config::kGemvMaxRows);
  const auto blocks = static_cast<unsigned>((g.n + kThreads / 32 - 1) / (kThreads / 32));
  const auto* wp = ptr<const uint8_t>(w);
  const auto* xp = static_cast<const float*>(xf);
  switch (w.dtype) {
#define RMA_QUANT_GEMV_CASE(DT)                                                     \
  case DT:                                                                          \
    quant_gemv_kernel<DT, kRows>                                                    \
        <<<blocks, kThreads, 0, ctx.stream>>>(wp, row_bytes, xp, g.t, g.n, g.k, e); \
    break;
    RMA_QUANT_GEMV_CASE(RMA_DTYPE_Q8_0)
    RMA_QUANT_GEMV_CASE(RMA_DTYPE_Q4_0)
    RMA_QUANT_GEMV_CASE(RMA_DTYPE_Q4_1)
    RMA_QUANT_GEMV_CASE(RMA_DTYPE_Q4_K)
    RMA_QUANT_GEMV_CASE(RMA_DTYPE_Q5_K)
    RMA_QUANT_GEMV_CASE(RMA_DTYPE_Q6_K)
#undef RMA_QUANT_GEMV_CASE
    default:
      return fail(err, RMA_STATUS_INTERNAL, "%s: no GEMV for %s weights", kOp,
                  dtype_label(w.dtype));
  }
  return check_launch(kOp, call, err);
}

// Rows [n0, n0 + rows) of w decoded (or widened / narrowed) into `tile` of
// tile_dtype.
rma_status decode_rows(const Context& ctx, const rma_op_call& call, int64_t n0, int64_t rows,
                       int64_t k, void* tile, int32_t tile_dtype, rma_error* err) {
  const rma_tensor& w = call.inputs[1];
  if (is_half_weight(w.dtype)) {
    const auto* src = ptr<const uint8_t>(w) + n0 * k * 2;
    return convert_floats(ctx, src, w.dtype, tile, tile_dtype, rows * k, kOp, call, err);
  }
  const BlockShape blk = block_shape(w.dtype);
  const int64_t row_bytes = k / blk.elems * blk.bytes;
  const auto* src = ptr<const uint8_t>(w) + n0 * row_bytes;
  const int threads = 256;
  const unsigned blocks = grid_for(rows * (k / kChunk), threads);
  return with_float_type(tile_dtype, [&]<class T>() {
    dequant_rows_kernel<T><<<blocks, threads, 0, ctx.stream>>>(src, w.dtype, row_bytes, rows, k,
                                                               static_cast<T*>(tile));
    return check_launch(kOp, call, err);
  });
}

// Larger T: w tile by tile into scratch of tile_dtype, then cuBLASLt with x
// as tile_dtype.
rma_status run_tiled(const Context& ctx, const rma_op_call& call, GemmArgs g, int32_t tile_dtype,
                     rma_error* err) {
  const void* xin = nullptr;
  if (rma_status st = x_as(ctx, call, tile_dtype, &xin, err)) return st;
  const int64_t elem = plain_dtype_bytes(tile_dtype);
  int64_t tile_rows = std::max<int64_t>(1, quant_linear_config::kTileScratchBytes / (g.k * elem));
  if (tile_rows >= 128) tile_rows = tile_rows / 128 * 128;  // whole GEMM tiles
  tile_rows = std::min(tile_rows, g.n);
  void* tile = nullptr;
  if (rma_status st = ctx.scratch(ctx, size_t(tile_rows * g.k * elem), &tile, err)) return st;
  const int64_t out_elem = plain_dtype_bytes(g.out_dtype);
  const int64_t n_total = g.n;
  for (int64_t n0 = 0; n0 < n_total; n0 += tile_rows) {
    const int64_t rows = std::min(tile_rows, n_total - n0);
    if (rma_status st = decode_rows(ctx, call, n0, rows, g.k, tile, tile_dtype, err)) return st;
    GemmArgs part = g;
    part.n = rows;
    part.x = xin;
    part.w = tile;
    part.in_dtype = tile_dtype;
    part.bias = g.bias ? static_cast<const char*>(g.bias) + n0 * out_elem : nullptr;
    part.y = static_cast<char*>(g.y) + n0 * out_elem;
    if (rma_status st = gemm(ctx, part, kOp, call, err)) return st;
  }
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& attrs = *attrs_of<rma_linear_attrs>(call, kAttrsV1Size);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* bias = bias_of(call);
  GemmArgs g;
  g.k = last_dim(x);
  g.t = leading_rows(x);
  g.n = w.shape[0];
  g.x = ptr<const void>(x);
  g.w = ptr<const void>(w);
  g.bias = bias ? ptr<const void>(*bias) : nullptr;
  g.y = ptr<void>(y);
  g.ldy = g.n;
  g.out_dtype = y.dtype;
  g.alpha = attrs.alpha;
  g.activation = attrs.activation;
  g.activation_param = attrs.activation_param;
  if (g.t == 0 || g.n == 0) return RMA_STATUS_OK;
  const bool fast = precision_of(attrs) == RMA_PRECISION_FAST;
  const bool x16 = x.dtype != RMA_DTYPE_F32;

  if (is_half_weight(w.dtype)) {
    if (g.t <= quant_linear_config::kGemvMaxRows) {
      // f16 x f16 (or bf16 x bf16) products are exact in f32.
      const int32_t x_dtype = x.dtype == w.dtype ? w.dtype : RMA_DTYPE_F32;
      const void* xin = nullptr;
      if (rma_status st = x_as(ctx, call, x_dtype, &xin, err)) return st;
      g.x = xin;
      return gemv(ctx, g, w.dtype, x_dtype, kOp, call, err);
    }
    if (x.dtype == w.dtype) {
      // One 16-bit GEMM on w as stored: 16-bit products are exact in f32.
      g.in_dtype = w.dtype;
      return gemm(ctx, g, kOp, call, err);
    }
    // The other 16-bit x under FAST: w rounded into x's dtype; otherwise
    // both widened to f32.
    return run_tiled(ctx, call, g, fast && x16 ? x.dtype : RMA_DTYPE_F32, err);
  }
  if (g.t <= quant_linear_config::kGemvMaxRows) return run_quant_gemv(ctx, call, g, err);
  return run_tiled(ctx, call, g, fast && x16 ? x.dtype : RMA_DTYPE_F32, err);
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_QUANT_LINEAR, supported, run);

}  // namespace rma::cuda
