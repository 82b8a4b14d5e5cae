// add_rms_norm: residual_out = x + residual (rounded to the dtype), then
// y = rms_norm(residual_out, w), docs/ops.md "add_rms_norm".
#include <cmath>

#include "ops/reference/reference.h"
#include "rma/half.h"

namespace rma::reference {
namespace {

// The value `v` takes once stored in `dtype`.
float round_to(DType dtype, float v) {
  switch (dtype) {
    case DType::kF16: return f16_to_f32(f32_to_f16(v));
    case DType::kBF16: return bf16_to_f32(f32_to_bf16(v));
    default: return v;
  }
}

}  // namespace

void add_rms_norm(const rma_op_call& call) {
  const rma_tensor& x = call.inputs[0];
  const float eps = static_cast<const rma_norm_attrs*>(call.attrs)->eps;
  const int64_t h = x.shape[x.ndim - 1];
  const int64_t rows = h > 0 ? numel(x) / h : 0;

  const std::vector<float> xv = read_floats(x);
  const std::vector<float> rv = read_floats(call.inputs[1]);
  const std::vector<float> wv = read_floats(call.inputs[2]);
  const DType res_dtype = dtype_of(call.outputs[1]);

  // The norm is computed from residual_out as stored, so that chained
  // layers see exactly the residual they will read back.
  std::vector<float> sum(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) sum[i] = round_to(res_dtype, xv[i] + rv[i]);

  std::vector<float> out(xv.size());
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = sum.data() + r * h;
    double sum_sq = 0;
    for (int64_t i = 0; i < h; ++i) sum_sq += double(row[i]) * row[i];
    const double inv_rms = 1.0 / std::sqrt(sum_sq / double(h) + eps);
    for (int64_t i = 0; i < h; ++i) out[r * h + i] = static_cast<float>(row[i] * inv_rms * wv[i]);
  }
  write_floats(call.outputs[0], out);
  write_floats(call.outputs[1], sum);
}

}  // namespace rma::reference
