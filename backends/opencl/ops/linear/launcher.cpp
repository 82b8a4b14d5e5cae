// opencl linear: y = act(alpha * opA(x) . opB(w) + bias), f32, with a simple
// local-memory tiled kernel (a first increment; no register blocking yet).
#include <string>

#include "common/cl_device.h"
#include "ops/linear/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "linear";

const rma_tensor* bias_of(const rma_op_call& call) {
  return call.num_inputs > 2 && present(call.inputs[2]) ? &call.inputs[2] : nullptr;
}

rma_status supported(const ClDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_inputs > 3 || call.num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "linear: expected inputs (x, w, bias?) and one output, got %d inputs, %d outputs",
                call.num_inputs, call.num_outputs);
  const auto* attrs = static_cast<const rma_linear_attrs*>(call.attrs);
  if (!attrs || attrs->struct_size < sizeof(rma_linear_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: rma_linear_attrs missing or too small");
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* bias = bias_of(call);
  if (w.dtype != x.dtype || y.dtype != x.dtype || (bias && bias->dtype != x.dtype))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: x, w, bias, y must share one dtype");
  if (rma_status st = require_f32(dev, kOp, x, err)) return st;
  if (attrs->activation < RMA_ACT_NONE || attrs->activation > RMA_ACT_TANH)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: unknown activation %d",
                attrs->activation);
  if (w.ndim != 2 || (attrs->trans_a ? x.ndim != 2 : x.ndim < 1))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: expected w 2-D and x %s",
                attrs->trans_a ? "2-D [K, T] (trans_a)" : "[..., K]");
  const int64_t k = attrs->trans_a ? x.shape[0] : last_dim(x);
  const int64_t t = attrs->trans_a ? x.shape[1] : leading_rows(x);
  const int64_t wk = attrs->trans_b ? w.shape[1] : w.shape[0];
  const int64_t n = attrs->trans_b ? w.shape[0] : w.shape[1];
  if (wk != k)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: K of x is %lld but w has K = %lld",
                static_cast<long long>(k), static_cast<long long>(wk));
  if (bias && (bias->ndim != 1 || bias->shape[0] != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: bias must be [N = %lld]",
                static_cast<long long>(n));
  if (numel(y) != t * n || (y.ndim > 0 && last_dim(y) != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: y must hold [T = %lld, N = %lld]",
                static_cast<long long>(t), static_cast<long long>(n));
  if (!is_dense(x) || !is_dense(w) || !is_dense(y) || (bias && !is_dense(*bias)))
    return fail(err, RMA_STATUS_UNSUPPORTED, "linear: opencl runs dense tensors only");
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& attrs = *static_cast<const rma_linear_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* bias = bias_of(call);
  const cl_long k = attrs.trans_a ? x.shape[0] : last_dim(x);
  const cl_long t = attrs.trans_a ? x.shape[1] : leading_rows(x);
  const cl_long n = attrs.trans_b ? w.shape[0] : w.shape[1];
  if (t == 0 || n == 0) return RMA_STATUS_OK;
  constexpr size_t kTile = linear_config::kTile;
  cl_kernel kern = nullptr;
  if (rma_status st = get_kernel(ctx.dev, "linear/linear", "linear_f32",
                                 "-DTILE=" + std::to_string(kTile), &kern, err))
    return st;
  // Without bias the kernel never reads it; x stands in as a valid handle.
  const rma_tensor& b = bias ? *bias : x;
  ArgSetter set(kern);
  set(mem_of(x))(elem_offset(x))(mem_of(w))(elem_offset(w))(mem_of(b))(elem_offset(b))(
      cl_int(bias != nullptr))(mem_of(y))(elem_offset(y))(t)(n)(k)(cl_int(attrs.trans_a != 0))(
      cl_int(attrs.trans_b != 0))(attrs.alpha)(cl_int(attrs.activation))(attrs.activation_param);
  const size_t global[2] = {size_t(n), size_t(t)}, local[2] = {kTile, kTile};
  return launch(ctx, kern, kOp, set.status(), 2, global, local, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_LINEAR, supported, run);

}  // namespace rma::opencl
