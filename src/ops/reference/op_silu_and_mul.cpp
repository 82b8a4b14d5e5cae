// silu_and_mul: y = silu(x[..., :I]) * x[..., I:], docs/ops.md.
#include <cmath>

#include "ops/reference/reference.h"

namespace rma::reference {

void silu_and_mul(const rma_op_call& call) {
  const rma_tensor& x = call.inputs[0];
  const int64_t two_i = x.shape[x.ndim - 1], half = two_i / 2;
  const int64_t rows = two_i > 0 ? numel(x) / two_i : 0;
  const std::vector<float> xv = read_floats(x);
  std::vector<float> out(static_cast<size_t>(rows * half));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < half; ++i) {
      const double g = xv[r * two_i + i], u = xv[r * two_i + half + i];
      out[r * half + i] = static_cast<float>(g / (1.0 + std::exp(-g)) * u);
    }
  }
  write_floats(call.outputs[0], out);
}

}  // namespace rma::reference
