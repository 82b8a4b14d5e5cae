// layer_norm: y = (x - mean) / sqrt(var + eps) * w + b with the biased
// variance, docs/ops.md "layer_norm".
#include <cmath>

#include "ops/reference/reference.h"

namespace rma::reference {

void layer_norm(const rma_op_call& call) {
  const rma_tensor& x = call.inputs[0];
  const bool has_bias = call.num_inputs > 2 && present(call.inputs[2]);
  const float eps = static_cast<const rma_norm_attrs*>(call.attrs)->eps;
  const int64_t h = x.shape[x.ndim - 1];
  const int64_t rows = h > 0 ? numel(x) / h : 0;

  const std::vector<float> xv = read_floats(x);
  const std::vector<float> wv = read_floats(call.inputs[1]);
  const std::vector<float> bv = has_bias ? read_floats(call.inputs[2]) : std::vector<float>{};
  std::vector<float> out(xv.size());
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = xv.data() + r * h;
    double mean = 0;
    for (int64_t i = 0; i < h; ++i) mean += row[i];
    mean /= double(h);
    double var = 0;  // two passes: no cancellation for large means
    for (int64_t i = 0; i < h; ++i) var += (row[i] - mean) * (row[i] - mean);
    var /= double(h);
    const double inv_std = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < h; ++i) {
      const double v = (row[i] - mean) * inv_std * wv[i] + (has_bias ? double(bv[i]) : 0.0);
      out[r * h + i] = static_cast<float>(v);
    }
  }
  write_floats(call.outputs[0], out);
}

}  // namespace rma::reference
