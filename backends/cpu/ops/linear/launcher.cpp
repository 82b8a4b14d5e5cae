// cpu linear: y = act(alpha * opA(x) . opB(w) + bias) in f32/f16/bf16,
// accumulated in f32 (docs/ops.md "linear").
// Paths (config.h): T <= kGemvMaxRows streams w once (GEMV); up to
// kSmallMaxRows with w [N, K] a small-M kernel that also streams w once;
// otherwise the blocked GEMM. f32 shape classes where OpenBLAS's sgemm
// measurably wins may be dispatched to it (none at present; see config.h).
#include <cstddef>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/convert.h"
#include "common/cpu_op.h"
#include "common/gemm/config.h"
#include "ops/linear/config.h"
#include "common/gemm/gemm.h"

#if defined(RMA_HAVE_OPENBLAS)
#include <cblas.h>
#endif

namespace rma::cpu {
namespace {

namespace cfg = linear_config;

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_inputs > 3 || call.num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "linear: expected inputs (x, w, bias?) and one output, got %d inputs, %d outputs",
                call.num_inputs, call.num_outputs);
  const auto* attrs = static_cast<const rma_linear_attrs*>(call.attrs);
  // Callers built before `precision` was appended pass the shorter struct.
  if (!attrs || attrs->struct_size < offsetof(rma_linear_attrs, precision))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: rma_linear_attrs missing or too small");
  const rma_tensor& x = call.inputs[0];
  const rma_tensor& w = call.inputs[1];
  const rma_tensor* bias =
      call.num_inputs > 2 && present(call.inputs[2]) ? &call.inputs[2] : nullptr;
  const rma_tensor& y = call.outputs[0];
  if (!is_float_dtype(x.dtype))
    return fail(err, RMA_STATUS_UNSUPPORTED, "linear: x dtype %s; the cpu runs f32, f16, bf16",
                dtype_name(x.dtype));
  if (w.dtype != x.dtype || y.dtype != x.dtype || (bias && bias->dtype != x.dtype))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "linear: x, w, bias, y must share one dtype, got x %s, w %s, bias %s, y %s",
                dtype_name(x.dtype), dtype_name(w.dtype), bias ? dtype_name(bias->dtype) : "-",
                dtype_name(y.dtype));
  if (attrs->activation < RMA_ACT_NONE || attrs->activation > RMA_ACT_TANH)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: unknown activation %d",
                attrs->activation);
  if (w.ndim != 2 || (attrs->trans_a ? x.ndim != 2 : x.ndim < 1))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "linear: expected w 2-D and x %s, got w %d-D, x %d-D",
                attrs->trans_a ? "2-D [K, T] (trans_a)" : "[..., K]", w.ndim, x.ndim);
  const int64_t k = attrs->trans_a ? x.shape[0] : last_dim(x);
  const int64_t t = attrs->trans_a ? x.shape[1] : leading_rows(x);
  const int64_t wk = attrs->trans_b ? w.shape[1] : w.shape[0];
  const int64_t n = attrs->trans_b ? w.shape[0] : w.shape[1];
  if (wk != k)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: K of x is %lld but w (%s) has K = %lld",
                static_cast<long long>(k), attrs->trans_b ? "[N, K], trans_b" : "[K, N]",
                static_cast<long long>(wk));
  if (bias && (bias->ndim != 1 || bias->shape[0] != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: bias must be [N = %lld]",
                static_cast<long long>(n));
  if (numel(y) != t * n || (y.ndim > 0 && last_dim(y) != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "linear: y must hold [T = %lld, N = %lld] elements", static_cast<long long>(t),
                static_cast<long long>(n));
  if (!is_dense(x) || !is_dense(w) || !is_dense(y) || (bias && !is_dense(*bias)))
    return fail(err, RMA_STATUS_UNSUPPORTED, "linear: the cpu runs dense row-major tensors only");
  return RMA_STATUS_OK;
}

#if defined(RMA_HAVE_OPENBLAS)
// Whether this f32 GEMM goes to OpenBLAS: the policy in config.h, unless
// RMA_CPU_LINEAR_OPENBLAS says "0" (never: the bench times our own kernel
// this way) or "1" (always).
bool use_openblas(const GemmArgs& g) {
  if (g.m > INT32_MAX || g.n > INT32_MAX || g.k > INT32_MAX || g.a.ld > INT32_MAX ||
      g.b.ld > INT32_MAX)
    return false;
  const char* env = std::getenv("RMA_CPU_LINEAR_OPENBLAS");
  if (env && env[0] == '0') return false;
  if (env && env[0] == '1') return true;
  return cfg::openblas_wins(g.m, g.n, g.k);
}

void run_openblas(const Context& ctx, const GemmArgs& g) {
  // OpenBLAS runs on as many threads as our pool (set once per size).
  static std::atomic<int> threads_set{0};
  if (threads_set.exchange(ctx.pool.size()) != ctx.pool.size())
    openblas_set_num_threads(ctx.pool.size());
  cblas_sgemm(CblasRowMajor, g.a.k_contig ? CblasNoTrans : CblasTrans,
              g.b.k_contig ? CblasTrans : CblasNoTrans, static_cast<int>(g.m),
              static_cast<int>(g.n), static_cast<int>(g.k), g.ep.alpha,
              static_cast<const float*>(g.a.data), static_cast<int>(g.a.ld),
              static_cast<const float*>(g.b.data), static_cast<int>(g.b.ld), 0.f,
              static_cast<float*>(g.y), static_cast<int>(g.ldy));
  Epilogue rest = g.ep;
  rest.alpha = 1.f;  // sgemm applied it
  apply_epilogue(ctx.pool, static_cast<float*>(g.y), g.m, g.n, g.ldy, rest);
}
#endif

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& attrs = *static_cast<const rma_linear_attrs*>(call.attrs);
  const rma_tensor& x = call.inputs[0];
  const rma_tensor& w = call.inputs[1];
  const rma_tensor* bias =
      call.num_inputs > 2 && present(call.inputs[2]) ? &call.inputs[2] : nullptr;
  const rma_tensor& y = call.outputs[0];

  GemmArgs g;
  g.k = attrs.trans_a ? x.shape[0] : last_dim(x);
  g.m = attrs.trans_a ? x.shape[1] : leading_rows(x);
  g.n = attrs.trans_b ? w.shape[0] : w.shape[1];
  g.a = {data<const void>(x), x.dtype, attrs.trans_a ? g.m : g.k, !attrs.trans_a};
  g.b = {data<const void>(w), w.dtype, attrs.trans_b ? g.k : g.n, attrs.trans_b != 0};
  g.y = data<void>(y);
  g.y_dtype = y.dtype;
  g.ldy = g.n;
  g.ep.alpha = attrs.alpha;
  g.ep.act = attrs.activation;
  g.ep.act_param = attrs.activation_param;
  thread_local std::vector<float> bias_f32;
  if (bias) {
    if (bias->dtype == RMA_DTYPE_F32) {
      g.ep.bias = data<const float>(*bias);
    } else {
      bias_f32.resize(static_cast<size_t>(g.n));
      load_f32(bias->dtype, data<const void>(*bias), bias_f32.data(), g.n);
      g.ep.bias = bias_f32.data();
    }
  }
  if (g.m == 0 || g.n == 0) return RMA_STATUS_OK;

#if defined(RMA_HAVE_OPENBLAS)
  if (x.dtype == RMA_DTYPE_F32 && g.m > gemm_config::kGemvMaxRows && g.k > 0 && use_openblas(g)) {
    run_openblas(ctx, g);
    return RMA_STATUS_OK;
  }
#endif
  // gemv() also takes small T with w [N, K] (kSmallMaxRows) and hands
  // anything else to gemm().
  const bool small_m = g.m <= gemm_config::kGemvMaxRows || (g.m <= gemm_config::kSmallMaxRows && attrs.trans_b);
  const bool ok = small_m && g.k > 0 ? gemv(ctx.pool, g) : gemm(ctx.pool, g);
  if (!ok)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY,
                "linear: no memory for the packing scratch (T = %lld, N = %lld, K = %lld)",
                static_cast<long long>(g.m), static_cast<long long>(g.n),
                static_cast<long long>(g.k));
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_LINEAR, supported, run);

}  // namespace rma::cpu
