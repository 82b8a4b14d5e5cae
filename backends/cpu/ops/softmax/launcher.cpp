// cpu softmax (or log_softmax) over the last axis, f32/f16/bf16, rows in
// parallel.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "common/float_rows.h"
#include "ops/softmax/config.h"
#include "ops/softmax/kernels/softmax_kernel.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "softmax";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_arity(call, err, kOp, 1, 1, false)) return st;
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (!is_float_dtype(x.dtype) || y.dtype != x.dtype)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: cpu runs f32/f16/bf16 with one dtype", kOp);
  if (x.ndim < 1 || !same_shape(x, y))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected x[..., N] and y like x", kOp);
  if (call.attrs) {
    const auto* a = static_cast<const rma_softmax_attrs*>(call.attrs);
    if (a->axis != -1 && a->axis != x.ndim - 1)
      return fail(err, RMA_STATUS_UNSUPPORTED, "%s: only the last axis, got axis %d", kOp, a->axis);
  }
  return RMA_STATUS_OK;
}

// `log` was appended to rma_softmax_attrs: read only when struct_size
// covers it; a shorter struct (or none) means softmax.
bool log_softmax(const rma_op_call& call) {
  const auto* a = static_cast<const rma_softmax_attrs*>(call.attrs);
  return a && a->struct_size >= offsetof(rma_softmax_attrs, log) + sizeof(a->log) && a->log;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const int64_t n = last_dim(x), nrows = rows(x);
  if (nrows == 0 || n == 0) return RMA_STATUS_OK;
  const bool f32 = x.dtype == RMA_DTYPE_F32;
  const auto row = log_softmax(call) ? log_softmax_row : softmax_row;
  const int64_t grain = std::max<int64_t>(1, softmax_config::kChunkElems / n);
  ctx.pool.parallel_for(nrows, grain, [&](int64_t r0, int64_t r1) {
    std::vector<float> buf(f32 ? 0 : n);
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = read_f32(x, r * n, n, buf.data());
      float* yr = out_f32(y, r * n, buf.data());  // the kernel allows y == x
      row(xr, yr, n);
      write_f32(y, r * n, n, yr);
    }
  });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_SOFTMAX, supported, run);

}  // namespace rma::cpu
