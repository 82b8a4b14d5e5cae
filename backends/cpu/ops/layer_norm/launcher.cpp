// cpu layer_norm: y = (x - mean) / sqrt(var + eps) * w + b per row,
// f32/f16/bf16, rows split across threads.
#include <algorithm>
#include <vector>

#include "common/float_rows.h"
#include "ops/layer_norm/config.h"
#include "ops/layer_norm/kernels/layer_norm_kernel.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "layer_norm";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_arity(call, err, kOp, 2, 1, true)) return st;
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* b = optional_input(call, 2);
  if (!is_float_dtype(x.dtype) || w.dtype != x.dtype || y.dtype != x.dtype ||
      (b && b->dtype != x.dtype))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: cpu runs f32/f16/bf16 with one dtype", kOp);
  const int64_t h = last_dim(x);
  if (x.ndim < 1 || w.ndim != 1 || w.shape[0] != h || (b && (b->ndim != 1 || b->shape[0] != h)) ||
      !same_shape(x, y))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected x[..., H], w[H], b?[H], y like x",
                kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* b = optional_input(call, 2);
  const float eps = static_cast<const rma_norm_attrs*>(call.attrs)->eps;
  const int64_t h = last_dim(x), n = rows(x);
  if (n == 0 || h == 0) return RMA_STATUS_OK;
  const bool f32 = x.dtype == RMA_DTYPE_F32;
  std::vector<float> wbuf(f32 ? 0 : h), bbuf(f32 || !b ? 0 : h);
  const float* wf = read_f32(w, 0, h, wbuf.data());
  const float* bf = b ? read_f32(*b, 0, h, bbuf.data()) : nullptr;

  const int64_t grain = std::max<int64_t>(1, layer_norm_config::kChunkElems / h);
  ctx.pool.parallel_for(n, grain, [&](int64_t r0, int64_t r1) {
    std::vector<float> xb(f32 ? 0 : h);
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = read_f32(x, r * h, h, xb.data());
      float* yr = out_f32(y, r * h, xb.data());  // the kernel allows y == x
      layer_norm_row(xr, wf, bf, eps, yr, h);
      write_f32(y, r * h, h, yr);
    }
  });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_LAYER_NORM, supported, run);

}  // namespace rma::cpu
