#pragma once
#include <cstdint>

namespace rma::cpu {
// y = softmax(x) over one row of n (max subtracted); y may alias x.
void softmax_row(const float* x, float* y, int64_t n);
// y = log_softmax(x) = x - max - log(sum(exp(x - max))) over one row of n;
// y may alias x.
void log_softmax_row(const float* x, float* y, int64_t n);
}  // namespace rma::cpu
