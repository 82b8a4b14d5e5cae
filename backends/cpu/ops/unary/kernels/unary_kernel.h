#pragma once
#include <cstdint>

namespace rma::cpu {
// y[i] = f(x[i]) for i < n, f the float rma_unary_kind `kind` with
// parameters p0, p1 (leaky_relu's slope, clip's bounds); y may alias x.
void unary_f32(int32_t kind, float p0, float p1, const float* x, float* y, int64_t n);
}  // namespace rma::cpu
