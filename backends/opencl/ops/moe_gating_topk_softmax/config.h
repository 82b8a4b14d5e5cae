// opencl moe_gating_topk_softmax: tuning knobs.
#pragma once
#include <cstddef>

namespace rma::opencl::moe_gating_config {
// Work-items per token row (a power of two), within every device's 256 minimum.
constexpr size_t kLocalSize = 64;
}  // namespace rma::opencl::moe_gating_config
