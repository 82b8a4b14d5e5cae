#pragma once
#include <cstdint>

namespace rma::cpu {
// y[i] = silu(g[i]) * u[i] for i < n, silu(x) = x / (1 + e^-x).
void silu_and_mul_row(const float* g, const float* u, float* y, int64_t n);
}  // namespace rma::cpu
