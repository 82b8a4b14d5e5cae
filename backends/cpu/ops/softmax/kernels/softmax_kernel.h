#pragma once
#include <cstdint>

namespace rma::cpu {
// y = softmax(x) over one row of n (max subtracted); y may alias x.
void softmax_row(const float* x, float* y, int64_t n);
}  // namespace rma::cpu
