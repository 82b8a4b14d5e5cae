// opencl slice: y[i0, i1, ...] = x[start0 + i0*step0, start1 + i1*step1, ...]
// for any non-quantized dtype (docs/ops.md "slice"); steps may be negative.
#include "common/tier2.h"
#include "ops/slice/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "slice";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs != 1 || call.num_outputs != 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x, attrs and one output",
                kOp);
  const auto* a = static_cast<const rma_slice_attrs*>(call.attrs);
  if (a->struct_size < sizeof(rma_slice_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_slice_attrs too small", kOp);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (rma_status st = require_plain(kOp, "x", x, err)) return st;
  if (y.dtype != x.dtype || y.ndim != x.ndim)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y must have x's dtype and rank", kOp);
  // The window must lie inside x (the schema clamps; this guards the reads).
  for (int d = 0; d < x.ndim; ++d) {
    const int64_t size = a->size[d], start = a->start[d], step = a->step[d];
    if (y.shape[d] != size || step == 0 || size < 0)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad step or size on axis %d", kOp, d);
    if (size == 0) continue;
    int64_t span = 0, last = 0;
    if (start < 0 || start >= x.shape[d] || __builtin_mul_overflow(size - 1, step, &span) ||
        __builtin_add_overflow(start, span, &last) || last < 0 || last >= x.shape[d])
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: axis %d reads outside [0, %lld) (start %lld, step %lld, size %lld)", kOp, d,
                  static_cast<long long>(x.shape[d]), static_cast<long long>(start),
                  static_cast<long long>(step), static_cast<long long>(size));
  }
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& a = *static_cast<const rma_slice_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  int64_t xs[RMA_MAX_DIMS] = {}, ys[RMA_MAX_DIMS] = {};
  dense_strides(x, xs);
  dense_strides(y, ys);
  NdPlan plan;
  plan.ndim = y.ndim;
  plan.base[0] = int64_t(elem_offset(x));
  plan.base[1] = int64_t(elem_offset(y));
  for (int d = 0; d < y.ndim; ++d) {
    plan.shape[d] = y.shape[d];
    plan.stride[0][d] = a.step[d] * xs[d];
    plan.stride[1][d] = ys[d];
    plan.base[0] += a.start[d] * xs[d];
  }
  return run_plan_copy(ctx, kOp, "slice/slice", mem_of(x), mem_of(y), x.dtype, collapse(plan, 2),
                       err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_SLICE, supported, run);

}  // namespace rma::opencl
