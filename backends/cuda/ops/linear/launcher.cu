// cuda linear: y = act(alpha * opA(x) . opB(w) + bias); f32, f16 or bf16
// (products and sums in f32, y rounded once). T <= 8 with the usual layout
// (!trans_a, trans_b): our GEMV (common/gemm.cu); otherwise cuBLASLt with
// bias, relu and gelu_tanh fused into its epilogue and the other
// activations in our epilogue kernel. f32 is computed in full f32
// (CUBLAS_COMPUTE_32F, no TF32: linear's f32 tolerance of 1e-4 + 1e-3 |y|
// is below what TF32's 10-bit mantissa gives at K in the hundreds).
#include <cstddef>

#include "common/gemm.h"
#include "common/op_checks.h"
#include "ops/linear/config.h"

namespace rma::cuda {
namespace {

constexpr const char* kOp = "linear";

const rma_tensor* bias_of(const rma_op_call& call) {
  return call.num_inputs > 2 && present(call.inputs[2]) ? &call.inputs[2] : nullptr;
}

// `precision` was appended to rma_linear_attrs; linear does not read it.
constexpr size_t kAttrsV1Size = offsetof(rma_linear_attrs, precision);

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_inputs > 3 || call.num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected inputs (x, w, bias?) and one output, got %d inputs, %d outputs", kOp,
                call.num_inputs, call.num_outputs);
  const auto* attrs = attrs_of<rma_linear_attrs>(call, kAttrsV1Size);
  if (!attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_linear_attrs missing or too small", kOp);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* bias = bias_of(call);
  if (!all_dtype(x.dtype, {&w, &y, bias}))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: x, w, bias, y must share one dtype", kOp);
  if (rma_status st = require_float_on(dev, kOp, "x", x, err)) return st;
  if (attrs->activation < RMA_ACT_NONE || attrs->activation > RMA_ACT_TANH)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: unknown activation %d", kOp,
                attrs->activation);
  if (w.ndim != 2 || (attrs->trans_a ? x.ndim != 2 : x.ndim < 1))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected w 2-D and x %s", kOp,
                attrs->trans_a ? "2-D [K, T] (trans_a)" : "[..., K]");
  const int64_t k = attrs->trans_a ? x.shape[0] : last_dim(x);
  const int64_t t = attrs->trans_a ? x.shape[1] : leading_rows(x);
  const int64_t wk = attrs->trans_b ? w.shape[1] : w.shape[0];
  const int64_t n = attrs->trans_b ? w.shape[0] : w.shape[1];
  if (wk != k)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: K of x is %lld but w has K = %lld", kOp,
                static_cast<long long>(k), static_cast<long long>(wk));
  if (bias && (bias->ndim != 1 || bias->shape[0] != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bias must be [N = %lld]", kOp,
                static_cast<long long>(n));
  if (numel(y) != t * n || (y.ndim > 0 && last_dim(y) != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y must hold [T = %lld, N = %lld]", kOp,
                static_cast<long long>(t), static_cast<long long>(n));
  return require_dense(kOp, {&x, &w, &y, bias}, err);
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& attrs = *attrs_of<rma_linear_attrs>(call, kAttrsV1Size);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* bias = bias_of(call);
  GemmArgs g;
  g.trans_a = attrs.trans_a != 0;
  g.trans_b = attrs.trans_b != 0;
  g.k = g.trans_a ? x.shape[0] : last_dim(x);
  g.t = g.trans_a ? x.shape[1] : leading_rows(x);
  g.n = g.trans_b ? w.shape[0] : w.shape[1];
  g.x = ptr<const void>(x);
  g.w = ptr<const void>(w);
  g.in_dtype = x.dtype;
  g.bias = bias ? ptr<const void>(*bias) : nullptr;
  g.y = ptr<void>(y);
  g.ldy = g.n;
  g.out_dtype = y.dtype;
  g.alpha = attrs.alpha;
  g.activation = attrs.activation;
  g.activation_param = attrs.activation_param;
  if (g.t == 0 || g.n == 0) return RMA_STATUS_OK;
  if (g.t <= linear_config::kGemvMaxRows && !g.trans_a && g.trans_b)
    return gemv(ctx, g, w.dtype, x.dtype, kOp, call, err);
  return gemm(ctx, g, kOp, call, err);
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_LINEAR, supported, run);

}  // namespace rma::cuda
