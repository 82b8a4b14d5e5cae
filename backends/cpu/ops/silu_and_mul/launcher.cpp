// cpu silu_and_mul: y[..., I] = silu(x[..., :I]) * x[..., I:], rows in parallel.
#include <algorithm>
#include <vector>

#include "common/float_rows.h"
#include "ops/silu_and_mul/config.h"
#include "ops/silu_and_mul/kernels/silu_and_mul_kernel.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "silu_and_mul";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_arity(call, err, kOp, 1, 1, false)) return st;
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (!is_float_dtype(x.dtype) || y.dtype != x.dtype)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: cpu runs f32/f16/bf16 with one dtype", kOp);
  bool ok = x.ndim >= 1 && y.ndim == x.ndim && last_dim(x) % 2 == 0 &&
            last_dim(y) * 2 == last_dim(x);
  for (int i = 0; ok && i + 1 < x.ndim; ++i) ok = x.shape[i] == y.shape[i];
  if (!ok) return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected x[..., 2I], y[..., I]", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const int64_t half = last_dim(y), n = rows(y);
  if (n == 0 || half == 0) return RMA_STATUS_OK;
  const bool f32 = x.dtype == RMA_DTYPE_F32;
  const int64_t grain = std::max<int64_t>(1, silu_and_mul_config::kChunkElems / half);
  ctx.pool.parallel_for(n, grain, [&](int64_t r0, int64_t r1) {
    std::vector<float> xb(f32 ? 0 : 2 * half), yb(f32 ? 0 : half);
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = read_f32(x, r * 2 * half, 2 * half, xb.data());
      float* yr = out_f32(y, r * half, yb.data());
      silu_and_mul_row(xr, xr + half, yr, half);
      write_f32(y, r * half, half, yr);
    }
  });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_SILU_AND_MUL, supported, run);

}  // namespace rma::cpu
