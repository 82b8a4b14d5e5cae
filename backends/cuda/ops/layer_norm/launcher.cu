// cuda layer_norm: y = (x - mean) / sqrt(var + eps) * w + b per row, b
// optional; f32, f16 or bf16 (computed in f32, rounded once).
#include "common/op_checks.h"
#include "ops/layer_norm/config.h"
#include "ops/layer_norm/kernels/layer_norm.cuh"

namespace rma::cuda {
namespace {

constexpr const char* kOp = "layer_norm";

const rma_tensor* bias_of(const rma_op_call& call) {
  return call.num_inputs > 2 && present(call.inputs[2]) ? &call.inputs[2] : nullptr;
}

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_inputs > 3 || call.num_outputs < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs (x, w, b?) and one output",
                kOp);
  if (!attrs_of<rma_norm_attrs>(call))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_norm_attrs missing or too small", kOp);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* b = bias_of(call);
  if (!all_dtype(x.dtype, {&w, &y, b}))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: x, w, b, y must share one dtype", kOp);
  if (rma_status st = require_float_on(dev, kOp, "x", x, err)) return st;
  if (x.ndim < 1 || w.ndim != 1 || w.shape[0] != last_dim(x) || !same_shape(x, y) ||
      (b && (b->ndim != 1 || b->shape[0] != last_dim(x))))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected x[..., H], w[H], b[H] (optional), y like x", kOp);
  return require_dense(kOp, {&x, &w, &y, b}, err);
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* b = bias_of(call);
  const float eps = attrs_of<rma_norm_attrs>(call)->eps;
  const int64_t h = last_dim(x), rows = leading_rows(x);
  if (rows == 0 || h == 0) return RMA_STATUS_OK;
  const int threads = row_block_threads(h);
  const auto blocks = static_cast<unsigned>(rows < (1 << 30) ? rows : (1 << 30));
  return with_float_type(x.dtype, [&]<class T>() {
    layer_norm_kernel<T><<<blocks, threads, 0, ctx.stream>>>(
        ptr<const T>(x), ptr<const T>(w), b ? ptr<const T>(*b) : nullptr, ptr<T>(y), rows, h, eps);
    return check_launch(kOp, call, err);
  });
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_LAYER_NORM, supported, run);

}  // namespace rma::cuda
