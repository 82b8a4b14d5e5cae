// gelu_and_mul: y = gelu(x[..., :I]) * x[..., I:] (erf form, or tanh form
// when `approximate`), docs/ops.md.
#include <cmath>
#include <numbers>

#include "ops/reference/reference.h"

namespace rma::reference {

void gelu_and_mul(const rma_op_call& call) {
  const rma_tensor& x = call.inputs[0];
  const bool tanh_form = call.attrs && static_cast<const rma_gelu_attrs*>(call.attrs)->approximate;
  const int64_t two_i = x.shape[x.ndim - 1], half = two_i / 2;
  const int64_t rows = two_i > 0 ? numel(x) / two_i : 0;
  const std::vector<float> xv = read_floats(x);
  const double c = std::sqrt(2.0 / std::numbers::pi);
  std::vector<float> out(static_cast<size_t>(rows * half));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < half; ++i) {
      const double g = xv[r * two_i + i], u = xv[r * two_i + half + i];
      const double act = tanh_form ? 0.5 * g * (1.0 + std::tanh(c * (g + 0.044715 * g * g * g)))
                                   : 0.5 * g * (1.0 + std::erf(g / std::numbers::sqrt2));
      out[r * half + i] = static_cast<float>(act * u);
    }
  }
  write_floats(call.outputs[0], out);
}

}  // namespace rma::reference
