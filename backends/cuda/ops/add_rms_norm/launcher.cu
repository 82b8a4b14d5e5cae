// cuda add_rms_norm: residual_out = x + residual, y = rms_norm(residual_out,
// w) per row in one kernel; f32, f16 or bf16 (computed in f32; residual_out
// is rounded to the dtype before the norm reads it, as docs/ops.md says).
#include "common/op_checks.h"
#include "ops/add_rms_norm/config.h"
#include "ops/add_rms_norm/kernels/add_rms_norm.cuh"

namespace rma::cuda {
namespace {

constexpr const char* kOp = "add_rms_norm";

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 3 || call.num_outputs < 2)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected inputs (x, residual, w) and outputs (y, residual_out)", kOp);
  if (!attrs_of<rma_norm_attrs>(call))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_norm_attrs missing or too small", kOp);
  const rma_tensor &x = call.inputs[0], &r = call.inputs[1], &w = call.inputs[2];
  const rma_tensor &y = call.outputs[0], &ro = call.outputs[1];
  if (!all_dtype(x.dtype, {&r, &w, &y, &ro}))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: x, residual, w, y, residual_out must share one dtype", kOp);
  if (rma_status st = require_float_on(dev, kOp, "x", x, err)) return st;
  if (x.ndim < 1 || !same_shape(x, r) || w.ndim != 1 || w.shape[0] != last_dim(x) ||
      !same_shape(x, y) || !same_shape(x, ro))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected x[..., H], residual like x, w[H], y and residual_out like x", kOp);
  return require_dense(kOp, {&x, &r, &w, &y, &ro}, err);
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &x = call.inputs[0], &r = call.inputs[1], &w = call.inputs[2];
  const rma_tensor &y = call.outputs[0], &ro = call.outputs[1];
  const float eps = attrs_of<rma_norm_attrs>(call)->eps;
  const int64_t h = last_dim(x), rows = leading_rows(x);
  if (rows == 0 || h == 0) return RMA_STATUS_OK;
  const int threads = row_block_threads(h);
  const auto blocks = static_cast<unsigned>(rows < (1 << 30) ? rows : (1 << 30));
  return with_float_type(x.dtype, [&]<class T>() {
    add_rms_norm_kernel<T><<<blocks, threads, 0, ctx.stream>>>(
        ptr<const T>(x), ptr<const T>(r), ptr<const T>(w), ptr<T>(y), ptr<T>(ro), rows, h, eps);
    return check_launch(kOp, call, err);
  });
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_ADD_RMS_NORM, supported, run);

}  // namespace rma::cuda
