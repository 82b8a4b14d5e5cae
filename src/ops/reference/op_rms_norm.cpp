// rms_norm: y = x / sqrt(mean(x^2) + eps) * w per row, docs/ops.md "rms_norm".
#include <cmath>

#include "ops/reference/reference.h"

namespace rma::reference {

void rms_norm(const rma_op_call& call) {
  const rma_tensor& x = call.inputs[0];
  const float eps = static_cast<const rma_norm_attrs*>(call.attrs)->eps;
  const int64_t h = x.shape[x.ndim - 1];
  const int64_t rows = h > 0 ? numel(x) / h : 0;

  const std::vector<float> xv = read_floats(x);
  const std::vector<float> wv = read_floats(call.inputs[1]);
  std::vector<float> out(xv.size());
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = xv.data() + r * h;
    double sum_sq = 0;
    for (int64_t i = 0; i < h; ++i) sum_sq += double(row[i]) * row[i];
    const double inv_rms = 1.0 / std::sqrt(sum_sq / double(h) + eps);
    for (int64_t i = 0; i < h; ++i) out[r * h + i] = static_cast<float>(row[i] * inv_rms * wv[i]);
  }
  write_floats(call.outputs[0], out);
}

}  // namespace rma::reference
