// opencl quant_linear: tuning knobs.
#pragma once
#include <cstddef>

namespace rma::opencl::quant_linear_config {
// Work-group: kLanes work-items split K of one output row n, times kTokens
// tokens; the group dequantizes kLanes * kTokens weights of row n per step
// into local memory (a multiple of every block size: 32 and 256).
constexpr size_t kLanes = 16;
constexpr size_t kTokens = 16;
}  // namespace rma::opencl::quant_linear_config
