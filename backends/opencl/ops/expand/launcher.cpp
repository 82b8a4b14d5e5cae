// opencl expand: x broadcast (numpy rules) to a shape, for any
// non-quantized dtype (docs/ops.md "expand").
#include "common/tier2.h"
#include "ops/expand/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "expand";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs != 1 || call.num_outputs != 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x, attrs and one output",
                kOp);
  const auto* a = static_cast<const rma_shape_attrs*>(call.attrs);
  if (a->struct_size < sizeof(rma_shape_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_shape_attrs too small", kOp);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (rma_status st = require_plain(kOp, "x", x, err)) return st;
  if (y.dtype != x.dtype || y.ndim != a->ndim || y.ndim > RMA_MAX_DIMS || !broadcasts_to(x, y))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: y must have x's dtype and the target shape x broadcasts to", kOp);
  for (int d = 0; d < y.ndim; ++d)
    if (y.shape[d] != a->shape[d])
      return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y's dim %d is not the target's", kOp, d);
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  NdPlan plan;
  plan.ndim = y.ndim;
  for (int d = 0; d < y.ndim; ++d) plan.shape[d] = y.shape[d];
  broadcast_strides(x, y.ndim, plan.stride[0]);
  dense_strides(y, plan.stride[1]);
  plan.base[0] = int64_t(elem_offset(x));
  plan.base[1] = int64_t(elem_offset(y));
  return run_plan_copy(ctx, kOp, "expand/expand", mem_of(x), mem_of(y), x.dtype, collapse(plan, 2),
                       err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_EXPAND, supported, run);

}  // namespace rma::opencl
