// opencl concat: 1 to 64 inputs joined along an axis, any non-quantized
// dtype (docs/ops.md "concat"); each input is one copy into its window of y.
#include "common/tier2.h"
#include "ops/concat/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "concat";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 1 || call.num_outputs != 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs, attrs and one output", kOp);
  const auto* a = static_cast<const rma_axis_attrs*>(call.attrs);
  const rma_tensor& y = call.outputs[0];
  if (a->struct_size < sizeof(rma_axis_attrs) || a->axis < 0 || a->axis >= y.ndim)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad attrs or axis for a %d-D y", kOp,
                y.ndim);
  if (rma_status st = require_plain(kOp, "y", y, err)) return st;
  int64_t total = 0;
  for (int j = 0; j < call.num_inputs; ++j) {
    const rma_tensor& x = call.inputs[j];
    bool ok = x.dtype == y.dtype && x.ndim == y.ndim;
    for (int d = 0; ok && d < y.ndim; ++d) ok = d == a->axis || x.shape[d] == y.shape[d];
    if (!ok)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: input %d must have y's dtype and dims but on axis %d", kOp, j, a->axis);
    total += x.shape[a->axis];
    if (!is_dense(x))
      return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  }
  if (total != y.shape[a->axis])
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: the inputs' extents sum to %lld, y has %lld",
                kOp, static_cast<long long>(total), static_cast<long long>(y.shape[a->axis]));
  if (!is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const int axis = static_cast<const rma_axis_attrs*>(call.attrs)->axis;
  const rma_tensor& y = call.outputs[0];
  // Every tensor viewed as [outer, extent along axis * inner].
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= y.shape[d];
  for (int d = axis + 1; d < y.ndim; ++d) inner *= y.shape[d];
  const int64_t y_row = y.shape[axis] * inner;
  int64_t at = 0;  // where the current input starts along the axis of y
  for (int j = 0; j < call.num_inputs; ++j) {
    const rma_tensor& x = call.inputs[j];
    const int64_t x_row = x.shape[axis] * inner;
    NdPlan plan;
    plan.ndim = 2;
    plan.shape[0] = outer;
    plan.shape[1] = x_row;
    plan.stride[0][0] = x_row;
    plan.stride[0][1] = 1;
    plan.stride[1][0] = y_row;
    plan.stride[1][1] = 1;
    plan.base[0] = int64_t(elem_offset(x));
    plan.base[1] = int64_t(elem_offset(y)) + at * inner;
    if (rma_status st = run_plan_copy(ctx, kOp, "concat/concat", mem_of(x), mem_of(y), y.dtype,
                                      collapse(plan, 2), err))
      return st;
    at += x.shape[axis];
  }
  return RMA_STATUS_OK;
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_CONCAT, supported, run);

}  // namespace rma::opencl
