// opencl conv2d: y = act(cross-correlation(x, w) + bias) over NCHW tensors
// (docs/ops.md "conv2d"), f32, f16 or bf16 computed in f32. A direct kernel
// (kernels/conv2d.cl): one work-item per output pixel and block of filters
// of one group, for every stride, dilation, padding and group count.
#include <string>

#include "common/tier2.h"
#include "ops/conv2d/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "conv2d";
constexpr const char* kSource = "conv2d/conv2d";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_outputs != 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs x, w, attrs and output y",
                kOp);
  const auto* a = static_cast<const rma_conv2d_attrs*>(call.attrs);
  if (a->struct_size < sizeof(rma_conv2d_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_conv2d_attrs too small", kOp);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const bool has_bias = call.num_inputs > 2 && present(call.inputs[2]);
  if (rma_status st = require_float(kOp, "x", x, err)) return st;
  if (w.dtype != x.dtype || y.dtype != x.dtype || (has_bias && call.inputs[2].dtype != x.dtype))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: x, w, bias and y must share one dtype", kOp);
  if (x.ndim != 4 || w.ndim != 4 || y.ndim != 4 || a->group < 1 ||
      x.shape[1] != w.shape[1] * a->group || w.shape[0] % a->group != 0 ||
      y.shape[0] != x.shape[0] || y.shape[1] != w.shape[0] ||
      (has_bias && (call.inputs[2].ndim != 1 || call.inputs[2].shape[0] != w.shape[0])))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected x[N,C,H,W], w[M,C/group,kH,kW], bias[M], y[N,M,oH,oW]", kOp);
  if (!is_dense(x) || !is_dense(w) || !is_dense(y) || (has_bias && !is_dense(call.inputs[2])))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& a = *static_cast<const rma_conv2d_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const bool has_bias = call.num_inputs > 2 && present(call.inputs[2]);
  if (numel(y) == 0) return RMA_STATUS_OK;
  constexpr int kFb = conv2d_config::kFiltersPerItem;
  cl_kernel k = nullptr;
  if (rma_status st =
          get_kernel(ctx.dev, kSource, "conv2d",
                     "-DFB=" + std::to_string(kFb) + dtype_option("DTYPE", x.dtype), &k, err))
    return st;
  // An absent bias still needs a buffer argument: x's, never read.
  const rma_tensor& bias = has_bias ? call.inputs[2] : x;
  const cl_long group_filters = w.shape[0] / a.group;
  ArgSetter set(k);
  set(mem_of(x))(elem_offset(x))(mem_of(w))(elem_offset(w))(mem_of(bias))(
      has_bias ? elem_offset(bias) : cl_ulong{0})(cl_int(has_bias))(mem_of(y))(elem_offset(y));
  set(cl_long(x.shape[1]))(cl_long(x.shape[2]))(cl_long(x.shape[3]))(cl_long(w.shape[0]))(
      cl_long(w.shape[1]))(group_filters)(cl_long(w.shape[2]))(cl_long(w.shape[3]))(
      cl_long(y.shape[2]))(cl_long(y.shape[3]));
  set(cl_int(a.stride[0]))(cl_int(a.stride[1]))(cl_int(a.dilation[0]))(cl_int(a.dilation[1]))(
      cl_int(a.pad[0]))(cl_int(a.pad[1]))(cl_int(a.activation))(a.activation_param);
  const size_t blocks = size_t((group_filters + kFb - 1) / kFb);
  const size_t global[3] = {size_t(y.shape[2] * y.shape[3]), blocks * size_t(a.group),
                            size_t(x.shape[0])};
  return launch(ctx, k, kOp, set.status(), 3, global, nullptr, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_CONV2D, supported, run);

}  // namespace rma::opencl
