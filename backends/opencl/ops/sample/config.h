// opencl sample: tuning knobs.
#pragma once
#include <cstddef>

namespace rma::opencl::sample_config {
// Work-items per row's work-group (a power of two): the argmax reduction and
// the bitonic sort's compare-exchanges are spread over them.
constexpr size_t kGroup = 256;
}  // namespace rma::opencl::sample_config
