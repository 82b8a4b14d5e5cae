// opencl paged_decode_attention: tuning knobs.
#pragma once
#include <cstddef>

namespace rma::opencl::paged_decode_attention_config {
// Work-items per (sequence, head) work-group (a power of two): each scores
// one key of a chunk of kLocalSize keys and owns head dims lid, lid + kLocalSize, ...
constexpr size_t kLocalSize = 64;
// Largest head dim: the query row lives in local memory and each work-item
// keeps kMaxHeadDim / kLocalSize accumulators.
constexpr int kMaxHeadDim = 256;
}  // namespace rma::opencl::paged_decode_attention_config
