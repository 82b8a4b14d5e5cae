#pragma once
#include <cstdint>

namespace rma::cpu {
// y = (x - mean) / sqrt(var + eps) * w + b over one row of n (biased
// variance); b may be null; y may alias x.
void layer_norm_row(const float* x, const float* w, const float* b, float eps, float* y, int64_t n);
}  // namespace rma::cpu
