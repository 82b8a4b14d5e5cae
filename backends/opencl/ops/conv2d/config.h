// Tuning knobs of the opencl conv2d op.
#pragma once

namespace rma::opencl::conv2d_config {
// Filters each work-item computes for its pixel: input taps are loaded once
// for this many filters.
constexpr int kFiltersPerItem = 4;
}  // namespace rma::opencl::conv2d_config
