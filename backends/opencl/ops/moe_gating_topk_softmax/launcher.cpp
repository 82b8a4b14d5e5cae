// opencl moe_gating_topk_softmax: per token, the router softmax and the k
// most probable experts (descending; ties to the lower id), optionally
// renormalised. f32, f16 or bf16 logits (computed in f32) -> f32 weights,
// i32 ids.
#include <string>

#include "common/cl_device.h"
#include "ops/moe_gating_topk_softmax/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "moe_gating_topk_softmax";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 1 || call.num_outputs < 2)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected input logits and outputs (weights, ids)", kOp);
  const auto* attrs = static_cast<const rma_moe_gating_attrs*>(call.attrs);
  if (!attrs || attrs->struct_size < sizeof(rma_moe_gating_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_moe_gating_attrs missing or too small",
                kOp);
  const rma_tensor &x = call.inputs[0], &w = call.outputs[0], &ids = call.outputs[1];
  if (rma_status st = require_float(kOp, "logits", x, err)) return st;
  if (w.dtype != RMA_DTYPE_F32 || ids.dtype != RMA_DTYPE_I32)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl writes f32 weights and i32 ids (got %s, %s)",
                kOp, dtype_label(w.dtype), dtype_label(ids.dtype));
  if (x.ndim != 2 || attrs->k < 1 || attrs->k > x.shape[1] || w.ndim != 2 || ids.ndim != 2 ||
      w.shape[0] != x.shape[0] || w.shape[1] != attrs->k || !same_shape(w, ids))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected logits[T,E], 1 <= k <= E, outputs [T,k]", kOp);
  if (x.shape[1] > INT32_MAX)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: E = %lld experts is too many", kOp,
                static_cast<long long>(x.shape[1]));
  if (!is_dense(x) || !is_dense(w) || !is_dense(ids))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &x = call.inputs[0], &w = call.outputs[0], &ids = call.outputs[1];
  const auto& attrs = *static_cast<const rma_moe_gating_attrs*>(call.attrs);
  const int64_t tokens = x.shape[0];
  const cl_int experts = static_cast<cl_int>(x.shape[1]), k = attrs.k;
  const cl_int renormalize = attrs.renormalize ? 1 : 0;
  if (tokens == 0 || experts == 0) return RMA_STATUS_OK;
  constexpr size_t kLocal = moe_gating_config::kLocalSize;
  cl_kernel kern = nullptr;
  if (rma_status st = get_kernel(
          ctx.dev, "moe_gating_topk_softmax/moe_gating", "moe_gating",
          "-DLOCAL_SIZE=" + std::to_string(kLocal) + dtype_option("DTYPE", x.dtype), &kern, err))
    return st;
  ArgSetter set(kern);
  set(mem_of(x))(elem_offset(x))(mem_of(w))(elem_offset(w))(mem_of(ids))(elem_offset(ids))(experts)(
      k)(renormalize);
  const size_t global = size_t(tokens) * kLocal, local = kLocal;
  return launch(ctx, kern, kOp, set.status(), 1, &global, &local, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_MOE_GATING_TOPK_SOFTMAX, supported, run);

}  // namespace rma::opencl
