// opencl where: y = cond ? a : b with numpy broadcasting of all three, for
// any non-quantized dtype of a and b (docs/ops.md "where").
#include "common/tier2.h"
#include "ops/where/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "where";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs != 3 || call.num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs (cond, a, b), one output",
                kOp);
  const rma_tensor &cond = call.inputs[0], &a = call.inputs[1], &b = call.inputs[2];
  const rma_tensor& y = call.outputs[0];
  if (cond.dtype != RMA_DTYPE_BOOL)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: cond must be bool (got %s)", kOp,
                dtype_label(cond.dtype));
  if (rma_status st = require_plain(kOp, "a", a, err)) return st;
  if (b.dtype != a.dtype || y.dtype != a.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: a, b, y must share one dtype", kOp);
  if (y.ndim > RMA_MAX_DIMS || !broadcasts_to(cond, y) || !broadcasts_to(a, y) ||
      !broadcasts_to(b, y))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: cond, a, b must broadcast to y's shape",
                kOp);
  if (!is_dense(cond) || !is_dense(a) || !is_dense(b) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &cond = call.inputs[0], &a = call.inputs[1], &b = call.inputs[2];
  const rma_tensor& y = call.outputs[0];
  if (numel(y) == 0) return RMA_STATUS_OK;
  NdPlan plan;
  plan.ndim = y.ndim;
  for (int d = 0; d < y.ndim; ++d) plan.shape[d] = y.shape[d];
  const rma_tensor* operands[3] = {&cond, &a, &b};
  for (int k = 0; k < 3; ++k) {
    broadcast_strides(*operands[k], y.ndim, plan.stride[k]);
    plan.base[k] = int64_t(elem_offset(*operands[k]));
  }
  plan = collapse(plan, 3);
  cl_mem table = nullptr;
  if (rma_status st = plan_table(ctx, plan, kOp, &table, err)) return st;
  cl_kernel kern = nullptr;
  if (rma_status st = get_kernel(ctx.dev, "where/where", plan_kernel("where", plan).c_str(),
                                 element_option(y.dtype), &kern, err)) {
    if (table) clReleaseMemObject(table);
    return st;
  }
  ArgSetter set(kern);
  for (int k = 0; k < 3; ++k) {
    set(mem_of(*operands[k]));
    set_plan_operand(set, plan, k);
  }
  set(mem_of(y))(elem_offset(y));
  return launch_plan(ctx, kern, set, kOp, plan, table, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_WHERE, supported, run);

}  // namespace rma::opencl
