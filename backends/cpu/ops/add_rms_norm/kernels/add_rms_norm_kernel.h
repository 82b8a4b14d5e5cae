#pragma once
#include <cstdint>

namespace rma::cpu {
// s = a + b over one row of n (s may alias a or b).
void add_row_f32(const float* a, const float* b, float* s, int64_t n);
// y = s / sqrt(mean(s^2) + eps) * w over one row of n; y may alias s.
void rms_norm_row_f32(const float* s, const float* w, float eps, float* y, int64_t n);
}  // namespace rma::cpu
