// cpu slice: y[i] = x[start + i * step] on every axis (docs/ops.md "slice"),
// any non-quantized dtype: a strided copy from x's element `start` with
// strides step * x's strides (negative steps read backwards).
#include "common/cpu_op.h"
#include "common/nd_loop.h"
#include "common/strided_copy.h"
#include "ops/slice/config.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "slice";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 1 || call.num_outputs < 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x, attrs and output y", kOp);
  const auto* a = static_cast<const rma_slice_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (a->struct_size < sizeof(rma_slice_attrs) || !is_valid(x.dtype) || is_quantized(dtype_of(x)) ||
      y.dtype != x.dtype || y.ndim != x.ndim)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad attrs, dtypes or ranks", kOp);
  // Every index read must lie inside x.
  for (int d = 0; d < x.ndim; ++d) {
    const int64_t size = a->size[d], start = a->start[d], step = a->step[d];
    if (y.shape[d] != size || step == 0)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y's dim %d is not size[%d], or step 0",
                  kOp, d, d);
    if (size == 0) continue;
    int64_t span = 0, last = 0;
    if (start < 0 || start >= x.shape[d] || __builtin_mul_overflow(size - 1, step, &span) ||
        __builtin_add_overflow(start, span, &last) || last < 0 || last >= x.shape[d])
      return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: axis %d reads outside x", kOp, d);
  }
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the cpu runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  const auto& a = *static_cast<const rma_slice_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (numel(y) == 0) return RMA_STATUS_OK;
  const auto xs = dense_strides(x.ndim, x.shape);
  std::array<int64_t, RMA_MAX_DIMS> strides{};
  int64_t first = 0;  // x's element read for y's element 0
  for (int d = 0; d < x.ndim; ++d) {
    strides[d] = a.step[d] * xs[d];
    first += a.start[d] * xs[d];
  }
  const int64_t es = bytes_for(dtype_of(x), 1);
  strided_copy(ctx.pool, es, y.ndim, y.shape, data<const uint8_t>(x) + first * es, strides.data(),
               data<void>(y));
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_SLICE, supported, run);

}  // namespace rma::cpu
