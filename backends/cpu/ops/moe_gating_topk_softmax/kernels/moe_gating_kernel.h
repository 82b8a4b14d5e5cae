#pragma once
#include <cstdint>

namespace rma::cpu {
// p = softmax(x) over one row of n experts (max subtracted). Returns the max.
float moe_softmax_row(const float* x, float* p, int64_t n);
}  // namespace rma::cpu
