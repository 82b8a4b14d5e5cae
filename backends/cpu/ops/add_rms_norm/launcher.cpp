// cpu add_rms_norm: residual_out = x + residual rounded to the dtype, and
// y = rms_norm(residual_out, w) from those rounded values; rows in parallel.
#include <algorithm>
#include <vector>

#include "common/float_rows.h"
#include "ops/add_rms_norm/config.h"
#include "ops/add_rms_norm/kernels/add_rms_norm_kernel.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "add_rms_norm";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_arity(call, err, kOp, 3, 2, true)) return st;
  const rma_tensor &x = call.inputs[0], &r = call.inputs[1], &w = call.inputs[2];
  const rma_tensor &y = call.outputs[0], &s = call.outputs[1];
  const int32_t dt = x.dtype;
  if (!is_float_dtype(dt) || r.dtype != dt || w.dtype != dt || y.dtype != dt || s.dtype != dt)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: cpu runs f32/f16/bf16 with one dtype", kOp);
  if (x.ndim < 1 || !same_shape(x, r) || w.ndim != 1 || w.shape[0] != last_dim(x) ||
      !same_shape(x, y) || !same_shape(x, s))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected x, residual [..., H], w[H], outputs like x", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  const rma_tensor &x = call.inputs[0], &r = call.inputs[1], &w = call.inputs[2];
  const rma_tensor &y = call.outputs[0], &s = call.outputs[1];
  const float eps = static_cast<const rma_norm_attrs*>(call.attrs)->eps;
  const int64_t h = last_dim(x), n = rows(x);
  if (n == 0 || h == 0) return RMA_STATUS_OK;
  const bool f32 = x.dtype == RMA_DTYPE_F32;
  std::vector<float> wbuf(f32 ? 0 : h);
  const float* wf = read_f32(w, 0, h, wbuf.data());

  const int64_t grain = std::max<int64_t>(1, add_rms_norm_config::kChunkElems / h);
  ctx.pool.parallel_for(n, grain, [&](int64_t r0, int64_t r1) {
    std::vector<float> xb(f32 ? 0 : h), rb(xb.size()), sb(xb.size());
    for (int64_t row = r0; row < r1; ++row) {
      const int64_t at = row * h;
      const float* xr = read_f32(x, at, h, xb.data());
      const float* rr = read_f32(r, at, h, rb.data());
      float* sr = out_f32(s, at, sb.data());
      add_row_f32(xr, rr, sr, h);
      if (!f32) {
        // Round through the stored dtype: the norm sees residual_out as stored.
        write_f32(s, at, h, sr);
        load_f32(s.dtype, elem_ptr(s, at), sr, h);
      }
      float* yr = out_f32(y, at, sb.data());
      rms_norm_row_f32(sr, wf, eps, yr, h);
      write_f32(y, at, h, yr);
    }
  });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_ADD_RMS_NORM, supported, run);

}  // namespace rma::cpu
