// opencl pool2d: max or average over each window of each (n, c) plane of an
// NCHW tensor (docs/ops.md "pool2d"), f32, f16 or bf16 computed in f32; one
// work-item per output element (kernels/pool2d.cl).
#include <string>

#include "common/tier2.h"
#include "ops/pool2d/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "pool2d";
constexpr const char* kSource = "pool2d/pool2d";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs != 1 || call.num_outputs != 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x, attrs and output y", kOp);
  const auto* a = static_cast<const rma_pool2d_attrs*>(call.attrs);
  if (a->struct_size < sizeof(rma_pool2d_attrs) || a->kind < 0 || a->kind >= RMA_POOL_COUNT)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad rma_pool2d_attrs", kOp);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (rma_status st = require_float(kOp, "x", x, err)) return st;
  if (y.dtype != x.dtype || x.ndim != 4 || y.ndim != 4 || y.shape[0] != x.shape[0] ||
      y.shape[1] != x.shape[1])
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected x[N,C,H,W] and y[N,C,oH,oW] of one dtype", kOp);
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& a = *static_cast<const rma_pool2d_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const int64_t total = numel(y);
  if (total == 0) return RMA_STATUS_OK;
  cl_kernel k = nullptr;
  if (rma_status st =
          get_kernel(ctx.dev, kSource, "pool2d", dtype_option("DTYPE", x.dtype), &k, err))
    return st;
  ArgSetter set(k);
  set(mem_of(x))(elem_offset(x))(mem_of(y))(elem_offset(y))(cl_long(total))(cl_long(x.shape[2]))(
      cl_long(x.shape[3]))(cl_long(y.shape[2]))(cl_long(y.shape[3]));
  set(cl_int(a.kernel[0]))(cl_int(a.kernel[1]))(cl_int(a.stride[0]))(cl_int(a.stride[1]))(cl_int(
      a.dilation[0]))(cl_int(a.dilation[1]))(cl_int(a.pad[0]))(cl_int(a.pad[1]))(cl_int(a.pad[2]))(
      cl_int(a.pad[3]))(cl_int(a.kind == RMA_POOL_MAX))(cl_int(a.count_include_pad));
  const size_t global = size_t(total);
  return launch(ctx, k, kOp, set.status(), 1, &global, nullptr, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_POOL2D, supported, run);

}  // namespace rma::opencl
