// cuda moe_gating_topk_softmax: per token, the router softmax and the k most
// probable experts (descending; ties to the lower id), optionally
// renormalised. f32, f16 or bf16 logits -> f32 weights, i32 ids. One warp per
// token (see the kernel).
#include <cstdint>

#include "common/cuda_op.h"
#include "common/kernel_utils.cuh"
#include "ops/moe_gating_topk_softmax/config.h"
#include "ops/moe_gating_topk_softmax/kernels/moe_gating.cuh"

namespace rma::cuda {
namespace {

constexpr const char* kOp = "moe_gating_topk_softmax";

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 1 || call.num_outputs < 2)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected input logits and outputs (weights, ids)", kOp);
  const auto* attrs = static_cast<const rma_moe_gating_attrs*>(call.attrs);
  if (!attrs || attrs->struct_size < sizeof(rma_moe_gating_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_moe_gating_attrs missing or too small",
                kOp);
  const rma_tensor &x = call.inputs[0], &w = call.outputs[0], &ids = call.outputs[1];
  if (!is_float_dtype(x.dtype))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: logits must be f32, f16 or bf16 (got %s)",
                kOp, dtype_label(x.dtype));
  if (x.dtype == RMA_DTYPE_BF16 && compute_capability(dev) < 80)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: bf16 needs sm_80 or newer (%s is sm_%d)", kOp,
                device_name(dev), compute_capability(dev));
  if (w.dtype != RMA_DTYPE_F32 || ids.dtype != RMA_DTYPE_I32)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: weights must be f32 and ids i32 (got %s, %s)", kOp, dtype_label(w.dtype),
                dtype_label(ids.dtype));
  if (x.ndim != 2 || attrs->k < 1 || attrs->k > x.shape[1] || w.ndim != 2 || ids.ndim != 2 ||
      w.shape[0] != x.shape[0] || w.shape[1] != attrs->k || !same_shape(w, ids))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected logits[T,E], 1 <= k <= E, outputs [T,k]", kOp);
  if (x.shape[1] > INT32_MAX)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: E = %lld experts is too many", kOp,
                static_cast<long long>(x.shape[1]));
  if (!is_dense(x) || !is_dense(w) || !is_dense(ids))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: cuda runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  if (rma_status st = supported(ctx.dev, call, err)) return st;
  const rma_tensor &x = call.inputs[0], &w = call.outputs[0], &ids = call.outputs[1];
  const auto& attrs = *static_cast<const rma_moe_gating_attrs*>(call.attrs);
  if (x.shape[0] == 0 || x.shape[1] == 0) return RMA_STATUS_OK;
  moe_gating_kernels::MoeParams p{};
  p.logits = ptr(x);
  p.weights = ptr<float>(w);
  p.ids = ptr<int32_t>(ids);
  p.tokens = x.shape[0];
  p.experts = static_cast<int32_t>(x.shape[1]);
  p.k = attrs.k;
  p.renormalize = attrs.renormalize != 0;
  constexpr int kWarps = moe_gating_config::kWarpsPerBlock;
  const int64_t blocks = (p.tokens + kWarps - 1) / kWarps;
  if (blocks > INT32_MAX)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: T = %lld tokens is over the cuda limit", kOp,
                static_cast<long long>(p.tokens));
  with_float_type(x.dtype, [&]<class T>() {
    moe_gating_kernels::moe_gating_kernel<T>
        <<<static_cast<unsigned>(blocks), kWarps * 32, 0, ctx.stream>>>(p);
    return RMA_STATUS_OK;
  });
  return check_launch(kOp, call, err);
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_MOE_GATING_TOPK_SOFTMAX, supported, run);

}  // namespace rma::cuda
