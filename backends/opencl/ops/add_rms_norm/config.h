// opencl add_rms_norm: tuning knobs.
#pragma once
#include <cstddef>

namespace rma::opencl::add_rms_norm_config {
// Work-items per row (a power of two): enough to spread a 4096-wide row,
// small enough for every device's minimum work-group limit (256).
constexpr size_t kLocalSize = 64;
}  // namespace rma::opencl::add_rms_norm_config
