// opencl layer_norm: y = (x - mean) / sqrt(var + eps) * w + b per row
// (biased variance; b optional); f32, f16 or bf16 (computed in f32, rounded
// once).
#include <string>

#include "common/cl_device.h"
#include "ops/layer_norm/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "layer_norm";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_outputs < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs (x, w, b?) and one output", kOp);
  const auto* attrs = static_cast<const rma_norm_attrs*>(call.attrs);
  if (!attrs || attrs->struct_size < sizeof(rma_norm_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_norm_attrs missing or too small", kOp);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const bool has_b = call.num_inputs > 2 && present(call.inputs[2]);
  if (w.dtype != x.dtype || y.dtype != x.dtype || (has_b && call.inputs[2].dtype != x.dtype))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: x, w, b, y must share one dtype", kOp);
  if (rma_status st = require_float(kOp, "x", x, err)) return st;
  if (x.ndim < 1 || w.ndim != 1 || w.shape[0] != last_dim(x) || !same_shape(x, y) ||
      (has_b && !same_shape(call.inputs[2], w)))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected x[..., H], w[H], b?[H], y like x", kOp);
  if (!is_dense(x) || !is_dense(w) || !is_dense(y) || (has_b && !is_dense(call.inputs[2])))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const bool has_b = call.num_inputs > 2 && present(call.inputs[2]);
  // Without b, w stands in for it (never read: has_b is 0).
  const rma_tensor& b = has_b ? call.inputs[2] : w;
  const float eps = static_cast<const rma_norm_attrs*>(call.attrs)->eps;
  const cl_long h = last_dim(x), rows = leading_rows(x);
  if (rows == 0 || h == 0) return RMA_STATUS_OK;
  size_t local = (ctx.dev.type & CL_DEVICE_TYPE_CPU) ? layer_norm_config::kCpuLocalSize
                                                       : layer_norm_config::kGpuLocalSize;
  cl_kernel k = nullptr;
  for (;;) {
    if (rma_status st = get_kernel(
            ctx.dev, "layer_norm/layer_norm", "layer_norm",
            "-DLOCAL_SIZE=" + std::to_string(local) + dtype_option("DTYPE", x.dtype), &k, err))
      return st;
    size_t limit = 0;
    if (clGetKernelWorkGroupInfo(k, ctx.dev.id, CL_KERNEL_WORK_GROUP_SIZE, sizeof(limit), &limit,
                                 nullptr) != CL_SUCCESS || limit >= local || local == 1)
      break;
    clReleaseKernel(k);  // the device allows fewer: rebuild at the largest power of two
    while (local > limit && local > 1) local /= 2;
  }
  ArgSetter set(k);
  set(mem_of(x))(elem_offset(x))(mem_of(w))(elem_offset(w))(mem_of(b))(elem_offset(b));
  set(cl_int(has_b ? 1 : 0))(mem_of(y))(elem_offset(y))(h)(eps);
  const size_t global = size_t(rows) * local;
  return launch(ctx, k, kOp, set.status(), 1, &global, &local, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_LAYER_NORM, supported, run);

}  // namespace rma::opencl
