// opencl cast: y = x converted between any two of f32, f16, bf16, i32, i64
// and bool (docs/ops.md "cast"); the same dtype is a device copy.
#include <string>

#include "common/tier2.h"
#include "ops/cast/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "cast";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs != 1 || call.num_outputs != 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x, attrs and one output",
                kOp);
  const auto* a = static_cast<const rma_cast_attrs*>(call.attrs);
  if (a->struct_size < sizeof(rma_cast_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_cast_attrs too small", kOp);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (!numeric_token(x.dtype) || !numeric_token(y.dtype) || y.dtype != a->dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: x %s to y %s (attrs %s): expected f32, f16, bf16, i32, i64 or bool, y of "
                "the attribute's dtype",
                kOp, dtype_label(x.dtype), dtype_label(y.dtype), dtype_label(a->dtype));
  if (!same_shape(x, y))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y must have x's shape", kOp);
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const cl_long n = numel(x);
  if (n == 0) return RMA_STATUS_OK;
  if (x.dtype == y.dtype) {
    const cl_int st = clEnqueueCopyBuffer(ctx.queue, mem_of(x), mem_of(y), x.offset, y.offset,
                                          size_t(n) * element_bytes(x.dtype), 0, nullptr, nullptr);
    if (st != CL_SUCCESS)
      return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): %s: copy: %s", ctx.dev.name.c_str(),
                  kOp, cl_error_name(st));
    return RMA_STATUS_OK;
  }
  cl_kernel k = nullptr;
  if (rma_status st =
          get_kernel(ctx.dev, "cast/cast", "cast",
                     numeric_option("SRC", x.dtype) + numeric_option("DST", y.dtype), &k, err))
    return st;
  ArgSetter set(k);
  set(mem_of(x))(elem_offset(x))(mem_of(y))(elem_offset(y))(n);
  const size_t global = size_t(n);
  return launch(ctx, k, kOp, set.status(), 1, &global, nullptr, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_CAST, supported, run);

}  // namespace rma::opencl
