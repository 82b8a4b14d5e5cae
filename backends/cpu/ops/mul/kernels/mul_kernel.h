#pragma once
#include <cstdint>

namespace rma::cpu {
// y[i] = a[i * a_step] * b[i * b_step] for i < n; steps are 0 or 1.
void mul_row(const float* a, int a_step, const float* b, int b_step, float* y, int64_t n);
}  // namespace rma::cpu
