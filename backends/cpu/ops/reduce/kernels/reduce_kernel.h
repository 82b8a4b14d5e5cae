#pragma once
#include <cstdint>

namespace rma::cpu {
// One row of n floats reduced by `kind`: sum, sum_square, max, min or prod
// (rma_reduce_kind; mean is the caller's sum / count). Sums run in f32
// lanes flushed to double every few thousand elements, products in double. An empty
// row gives the identity (0, or 1 for prod; -inf / inf for max / min).
double reduce_row_f32(int32_t kind, const float* x, int64_t n);
}  // namespace rma::cpu
