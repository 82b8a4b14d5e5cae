// cuda softmax (or log_softmax): over the last axis, f32, f16 or bf16
// (computed in f32, rounded once).
#include <cstddef>

#include "common/op_checks.h"
#include "ops/softmax/config.h"
#include "ops/softmax/kernels/softmax.cuh"

namespace rma::cuda {
namespace {

constexpr const char* kOp = "softmax";

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 1 || call.num_outputs < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x and one output", kOp);
  // `log` was appended to the struct: a caller built before it passes the
  // shorter form (softmax).
  const auto* attrs = attrs_of<rma_softmax_attrs>(call, offsetof(rma_softmax_attrs, log));
  if (!attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_softmax_attrs missing or too small",
                kOp);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (attrs->axis != -1 && attrs->axis != x.ndim - 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: only the last axis is supported (got %d)",
                kOp, attrs->axis);
  if (y.dtype != x.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: x and y must share one dtype", kOp);
  if (rma_status st = require_float_on(dev, kOp, "x", x, err)) return st;
  if (x.ndim < 1 || !same_shape(x, y))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected x[..., N] and y like x", kOp);
  return require_dense(kOp, {&x, &y}, err);
}

// `log` is read only when struct_size covers it; a shorter struct means
// softmax.
bool log_softmax(const rma_op_call& call) {
  const auto* a = static_cast<const rma_softmax_attrs*>(call.attrs);
  return a->struct_size >= offsetof(rma_softmax_attrs, log) + sizeof(a->log) && a->log;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const bool log_rows = log_softmax(call);
  const int64_t n = last_dim(x), rows = leading_rows(x);
  if (rows == 0 || n == 0) return RMA_STATUS_OK;
  const int threads = row_block_threads(n);
  const auto blocks = static_cast<unsigned>(rows < (1 << 30) ? rows : (1 << 30));
  return with_float_type(x.dtype, [&]<class T>() {
    softmax_kernel<T>
        <<<blocks, threads, 0, ctx.stream>>>(ptr<const T>(x), ptr<T>(y), rows, n, log_rows);
    return check_launch(kOp, call, err);
  });
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_SOFTMAX, supported, run);

}  // namespace rma::cuda
