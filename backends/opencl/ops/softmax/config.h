// opencl softmax: tuning knobs.
#pragma once
#include <cstddef>

namespace rma::opencl::softmax_config {
// Work-items per row (a power of two), within every device's 256 minimum.
constexpr size_t kLocalSize = 64;
}  // namespace rma::opencl::softmax_config
