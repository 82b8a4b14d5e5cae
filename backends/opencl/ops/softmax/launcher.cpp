// opencl softmax (or log_softmax): over the last axis; f32, f16 or bf16
// (computed in f32, rounded once).
#include <cstddef>
#include <string>

#include "common/cl_device.h"
#include "ops/softmax/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "softmax";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 1 || call.num_outputs < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x and one output", kOp);
  const auto* attrs = static_cast<const rma_softmax_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  // The last axis, as -1 or by its index (docs/ops.md).
  if (attrs && attrs->struct_size >= offsetof(rma_softmax_attrs, axis) + sizeof(attrs->axis) &&
      attrs->axis != -1 && attrs->axis != x.ndim - 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: axis %d; v1 accepts only the last axis (-1 or %d)", kOp, attrs->axis,
                x.ndim - 1);
  if (y.dtype != x.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: x and y must share one dtype", kOp);
  if (rma_status st = require_float(kOp, "x", x, err)) return st;
  if (x.ndim < 1 || !same_shape(x, y))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected x[..., N] and y like x", kOp);
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// `log` was appended to rma_softmax_attrs: read only when struct_size
// covers it; a shorter struct (or none) means softmax.
bool log_softmax(const rma_op_call& call) {
  const auto* a = static_cast<const rma_softmax_attrs*>(call.attrs);
  return a && a->struct_size >= offsetof(rma_softmax_attrs, log) + sizeof(a->log) && a->log;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const cl_long n = last_dim(x), rows = leading_rows(x);
  if (rows == 0 || n == 0) return RMA_STATUS_OK;
  size_t local = (ctx.dev.type & CL_DEVICE_TYPE_CPU) ? softmax_config::kCpuLocalSize
                                                       : softmax_config::kGpuLocalSize;
  cl_kernel k = nullptr;
  for (;;) {
    if (rma_status st = get_kernel(ctx.dev, "softmax/softmax", "softmax",
                                   "-DLOCAL_SIZE=" + std::to_string(local) +
                                       " -DLOG_SOFTMAX=" + (log_softmax(call) ? "1" : "0") +
                                       dtype_option("DTYPE", x.dtype),
                                   &k, err))
      return st;
    size_t limit = 0;
    if (clGetKernelWorkGroupInfo(k, ctx.dev.id, CL_KERNEL_WORK_GROUP_SIZE, sizeof(limit), &limit,
                                 nullptr) != CL_SUCCESS || limit >= local || local == 1)
      break;
    clReleaseKernel(k);  // the device allows fewer: rebuild at the largest power of two
    while (local > limit && local > 1) local /= 2;
  }
  ArgSetter set(k);
  set(mem_of(x))(elem_offset(x))(mem_of(y))(elem_offset(y))(n);
  const size_t global = size_t(rows) * local;
  return launch(ctx, k, kOp, set.status(), 1, &global, &local, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_SOFTMAX, supported, run);

}  // namespace rma::opencl
