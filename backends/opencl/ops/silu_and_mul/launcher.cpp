// opencl silu_and_mul: y = silu(x[..., :I]) * x[..., I:]; f32, f16 or bf16
// (computed in f32, rounded once).
#include "common/cl_device.h"
#include "ops/silu_and_mul/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "silu_and_mul";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 1 || call.num_outputs < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x and one output", kOp);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (y.dtype != x.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: x and y must share one dtype", kOp);
  if (rma_status st = require_float(kOp, "x", x, err)) return st;
  if (x.ndim < 1 || last_dim(x) % 2 != 0 || y.ndim != x.ndim || last_dim(y) * 2 != last_dim(x) ||
      leading_rows(y) != leading_rows(x))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected x[..., 2I] and y[..., I]", kOp);
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const cl_long i = last_dim(y), rows = leading_rows(y);
  if (i == 0 || rows == 0) return RMA_STATUS_OK;
  cl_kernel k = nullptr;
  if (rma_status st = get_kernel(ctx.dev, "silu_and_mul/silu_and_mul", "silu_and_mul",
                                 dtype_option("DTYPE", x.dtype), &k, err))
    return st;
  ArgSetter set(k);
  set(mem_of(x))(elem_offset(x))(mem_of(y))(elem_offset(y))(i);
  // One work-item per 8 outputs of a row (see kernels/silu_and_mul.cl).
  const size_t global[2] = {size_t((i + 7) / 8), size_t(rows)};
  return launch(ctx, k, kOp, set.status(), 2, global, nullptr, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_SILU_AND_MUL, supported, run);

}  // namespace rma::opencl
