// cpu quant_linear: y = act(alpha * x . dequant(w)^T + bias) with w [N, K]
// in q8_0, q4_0, q4_1, q4_k, q5_k or q6_k, or f16 / bf16 (docs/ops.md
// "quant_linear").
// Block-quantized w, T <= quant_gemv_max_rows(precision): the GEMV (x
// written as int8 digits per block of 32 once — one for fast, three for
// accurate — weights streamed once; or, without an integer kernel for the
// precision, dequantized rows dotted in f32). Larger T: the backend's shared
// f32 GEMM (common/gemm), with the weights dequantized exactly while its B
// panels are packed (exact in both precisions).
// f16 / bf16 w: the shared GEMM's own drivers, which widen w on the fly: the
// streaming GEMV for T <= 4 (a bandwidth-bound read of the 16-bit rows), the
// small-M path up to T = 16, past it the blocked GEMM widening w into its
// packed panels.
#include <cstddef>
#include <vector>

#include "common/convert.h"
#include "common/cpu_op.h"
#include "common/gemm/gemm.h"
#include "ops/quant_linear/kernels/qlinear.h"

namespace rma::cpu {
namespace {

bool is_block_weight_type(int32_t dt) {
  return dt == RMA_DTYPE_Q8_0 || dt == RMA_DTYPE_Q4_0 || dt == RMA_DTYPE_Q4_1 ||
         dt == RMA_DTYPE_Q4_K || dt == RMA_DTYPE_Q5_K || dt == RMA_DTYPE_Q6_K;
}
bool is_half_weight_type(int32_t dt) { return dt == RMA_DTYPE_F16 || dt == RMA_DTYPE_BF16; }

// `precision` was appended to ABI v1: a shorter struct (a caller built
// before it) asks for accurate.
int32_t precision_of(const rma_linear_attrs& a) {
  return a.struct_size >= offsetof(rma_linear_attrs, precision) + sizeof(a.precision)
             ? a.precision
             : RMA_PRECISION_ACCURATE;
}

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_inputs > 3 || call.num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "quant_linear: expected inputs (x, w, bias?) and one output, got %d inputs, %d "
                "outputs",
                call.num_inputs, call.num_outputs);
  const auto* attrs = static_cast<const rma_linear_attrs*>(call.attrs);
  if (!attrs || attrs->struct_size < offsetof(rma_linear_attrs, precision))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "quant_linear: rma_linear_attrs missing or too small");
  if (const int32_t p = precision_of(*attrs);
      p != RMA_PRECISION_ACCURATE && p != RMA_PRECISION_FAST)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "quant_linear: unknown precision %d (0: accurate, 1: fast)", p);
  if (attrs->trans_a != 0 || attrs->trans_b != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "quant_linear: requires trans_a = 0 and trans_b = 1, got %d and %d", attrs->trans_a,
                attrs->trans_b);
  if (attrs->activation < RMA_ACT_NONE || attrs->activation > RMA_ACT_TANH)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "quant_linear: unknown activation %d",
                attrs->activation);
  const rma_tensor& x = call.inputs[0];
  const rma_tensor& w = call.inputs[1];
  const rma_tensor* bias =
      call.num_inputs > 2 && present(call.inputs[2]) ? &call.inputs[2] : nullptr;
  const rma_tensor& y = call.outputs[0];
  if (!is_float_dtype(x.dtype) || y.dtype != x.dtype || (bias && bias->dtype != x.dtype))
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "quant_linear: x, bias, y must share one of f32, f16, bf16; got x %s, bias %s, "
                "y %s",
                dtype_name(x.dtype), bias ? dtype_name(bias->dtype) : "-", dtype_name(y.dtype));
  if (!is_block_weight_type(w.dtype) && !is_half_weight_type(w.dtype))
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "quant_linear: w dtype %s; the cpu runs q8_0, q4_0, q4_1, q4_k, q5_k, q6_k, f16, "
                "bf16",
                dtype_name(w.dtype));
  if (w.ndim != 2 || x.ndim < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "quant_linear: expected w [N, K] and x [..., K], got w %d-D, x %d-D", w.ndim,
                x.ndim);
  const int64_t k = last_dim(x), n = w.shape[0], be = kDTypeInfo[w.dtype].block_elems;
  if (w.shape[1] != k || k % be != 0)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "quant_linear: w is [%lld, %lld] but x has K = %lld (a multiple of %lld for %s)",
                static_cast<long long>(n), static_cast<long long>(w.shape[1]),
                static_cast<long long>(k), static_cast<long long>(be), dtype_name(w.dtype));
  if (bias && (bias->ndim != 1 || bias->shape[0] != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "quant_linear: bias must be [N = %lld]",
                static_cast<long long>(n));
  if (numel(y) != leading_rows(x) * n || (y.ndim > 0 && last_dim(y) != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "quant_linear: y must hold [T = %lld, N = %lld] elements",
                static_cast<long long>(leading_rows(x)), static_cast<long long>(n));
  if (!is_dense(x) || !is_dense(w) || !is_dense(y) || (bias && !is_dense(*bias)))
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "quant_linear: the cpu runs dense row-major tensors only");
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& attrs = *static_cast<const rma_linear_attrs*>(call.attrs);
  const rma_tensor& x = call.inputs[0];
  const rma_tensor& w = call.inputs[1];
  const rma_tensor* bias =
      call.num_inputs > 2 && present(call.inputs[2]) ? &call.inputs[2] : nullptr;
  const rma_tensor& y = call.outputs[0];

  QuantLinearArgs q;
  q.t = leading_rows(x);
  q.k = last_dim(x);
  q.n = w.shape[0];
  q.x = data<const void>(x);
  q.x_dtype = x.dtype;
  q.w = data<const void>(w);
  q.w_dtype = w.dtype;
  q.y = data<void>(y);
  q.y_dtype = y.dtype;
  q.ep.alpha = attrs.alpha;
  q.ep.act = attrs.activation;
  q.ep.act_param = attrs.activation_param;
  q.fast = precision_of(attrs) == RMA_PRECISION_FAST;
  thread_local std::vector<float> bias_f32;
  if (bias) {
    if (bias->dtype == RMA_DTYPE_F32) {
      q.ep.bias = data<const float>(*bias);
    } else {
      bias_f32.resize(static_cast<size_t>(q.n));
      load_f32(bias->dtype, data<const void>(*bias), bias_f32.data(), q.n);
      q.ep.bias = bias_f32.data();
    }
  }
  if (q.t == 0 || q.n == 0) return RMA_STATUS_OK;

  bool ok;
  if (is_half_weight_type(w.dtype)) {
    GemmArgs g;
    g.m = q.t;
    g.n = q.n;
    g.k = q.k;
    g.a = {q.x, q.x_dtype, q.k, true};
    g.b = {q.w, q.w_dtype, q.k, true};
    g.ep = q.ep;
    g.y = q.y;
    g.y_dtype = q.y_dtype;
    g.ldy = q.n;
    ok = gemv(ctx.pool, g);
  } else if (q.t <= quant_gemv_max_rows(q.fast) && q.k > 0) {
    ok = quant_gemv(ctx.pool, q);
  } else {
    const int64_t be = kDTypeInfo[w.dtype].block_elems;
    const DequantSource src{static_cast<const uint8_t*>(q.w), q.w_dtype,
                            q.k / be * kDTypeInfo[w.dtype].block_bytes};
    GemmArgs g;
    g.m = q.t;
    g.n = q.n;
    g.k = q.k;
    g.a = {q.x, q.x_dtype, q.k, true};
    g.b.data = q.w;
    g.b.dtype = q.w_dtype;
    g.b.ld = q.k;
    g.b.k_contig = true;
    g.b.load_rows = dequantize_rows;
    g.b.load_ctx = &src;
    g.b.k_align = be;
    g.ep = q.ep;
    g.y = q.y;
    g.y_dtype = q.y_dtype;
    g.ldy = q.n;
    ok = gemm(ctx.pool, g);
  }
  if (!ok)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY,
                "quant_linear: no memory for the scratch (T = %lld, N = %lld, K = %lld)",
                static_cast<long long>(q.t), static_cast<long long>(q.n),
                static_cast<long long>(q.k));
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_QUANT_LINEAR, supported, run);

}  // namespace rma::cpu
