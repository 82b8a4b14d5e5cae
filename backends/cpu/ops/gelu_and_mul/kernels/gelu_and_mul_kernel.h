#pragma once
#include <cstdint>

namespace rma::cpu {
// y[i] = gelu(g[i]) * u[i] for i < n: erf form 0.5x(1 + erf(x/sqrt2)), or
// with tanh_form 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))).
void gelu_and_mul_row(const float* g, const float* u, float* y, int64_t n, bool tanh_form);
}  // namespace rma::cpu
