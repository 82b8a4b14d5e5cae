// cpu expand: x broadcast to a shape (docs/ops.md "expand"), any
// non-quantized dtype: a strided copy reading x at its broadcast strides
// (0 along broadcast dims), so rows are memcpy'd or filled.
#include "common/cpu_op.h"
#include "common/nd_loop.h"
#include "common/strided_copy.h"
#include "ops/expand/config.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "expand";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 1 || call.num_outputs < 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x, attrs and output y", kOp);
  const auto* a = static_cast<const rma_shape_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (a->struct_size < sizeof(rma_shape_attrs) || !is_valid(x.dtype) || is_quantized(dtype_of(x)) ||
      y.dtype != x.dtype || a->ndim != y.ndim)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad attrs, dtypes or ranks", kOp);
  for (int d = 0; d < y.ndim; ++d)
    if (y.shape[d] != a->shape[d])
      return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y's shape is not attrs.shape", kOp);
  if (!broadcasts_to(x, y))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: x does not broadcast to y", kOp);
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the cpu runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const auto strides = broadcast_strides(x, y.ndim);
  strided_copy(ctx.pool, bytes_for(dtype_of(x), 1), y.ndim, y.shape, data<const void>(x),
               strides.data(), data<void>(y));
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_EXPAND, supported, run);

}  // namespace rma::cpu
