// cpu transpose: y's axis d is x's axis perm[d] (docs/ops.md "transpose"),
// any non-quantized dtype: a strided copy reading x at its strides
// permuted. Inner runs that stay contiguous are memcpy'd; a transpose of the
// innermost axis goes tile by tile (common/strided_copy.cpp).
#include "common/cpu_op.h"
#include "common/nd_loop.h"
#include "common/strided_copy.h"
#include "ops/transpose/config.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "transpose";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 1 || call.num_outputs < 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x, attrs and output y", kOp);
  const auto* a = static_cast<const rma_transpose_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (a->struct_size < sizeof(rma_transpose_attrs) || !is_valid(x.dtype) ||
      is_quantized(dtype_of(x)) || y.dtype != x.dtype || y.ndim != x.ndim)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad attrs, dtypes or ranks", kOp);
  uint32_t seen = 0;
  for (int d = 0; d < x.ndim; ++d) {
    const int32_t p = a->perm[d];
    if (p < 0 || p >= x.ndim || (seen >> p & 1) || y.shape[d] != x.shape[p])
      return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: perm is not a permutation matching y",
                  kOp);
    seen |= 1u << p;
  }
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the cpu runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  const auto& a = *static_cast<const rma_transpose_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const auto xs = dense_strides(x.ndim, x.shape);
  std::array<int64_t, RMA_MAX_DIMS> strides{};
  for (int d = 0; d < y.ndim; ++d) strides[d] = xs[a.perm[d]];
  strided_copy(ctx.pool, bytes_for(dtype_of(x), 1), y.ndim, y.shape, data<const void>(x),
               strides.data(), data<void>(y));
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_TRANSPOSE, supported, run);

}  // namespace rma::cpu
