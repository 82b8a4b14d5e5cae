#pragma once
#include <cstdint>

namespace rma::cpu {
// y[i] = a[i * a_step] <kind> b[i * b_step] for i < n, steps 0 or 1, for
// the arithmetic rma_binary_kinds (add, sub, mul, div, pow, max, min, mod)
// in f32. y may alias a or b when its step is 1.
void binary_f32(int32_t kind, const float* a, int64_t a_step, const float* b, int64_t b_step,
                float* y, int64_t n);
}  // namespace rma::cpu
