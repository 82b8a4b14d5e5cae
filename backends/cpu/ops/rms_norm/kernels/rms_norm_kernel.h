#pragma once
#include <cstdint>

namespace rma::cpu {
// y = x / sqrt(mean(x^2) + eps) * w over one row of n; y may alias x.
void rms_norm_row(const float* x, const float* w, float eps, float* y, int64_t n);
}  // namespace rma::cpu
