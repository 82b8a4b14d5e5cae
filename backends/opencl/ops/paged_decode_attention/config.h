// opencl paged_decode_attention: tuning knobs.
#pragma once
#include <cstddef>

namespace rma::opencl::paged_decode_attention_config {
// Work-items per (sequence, kv head, head chunk) work-group (a power of two):
// each takes every kLocalSize-th key of the context, then the partials are
// merged. At B=8 ctx=512 Hq=9 Hkv=3 D=64 (PoCL, 2 cores, noisy host):
// 64 items 4.5 ms, 16 items 0.72 ms, 8 items 0.68-1.2 ms, 4 items 1.1 ms;
// on a CPU device fewer items mean less per-item private state to spill
// (B=1: 64 0.35 ms, 8 0.12-0.17 ms). A GPU would want more.
constexpr size_t kLocalSize = 8;
// Most query heads one work-group serves (all of a kv head's group up to this;
// a larger group is split into chunks). Each cache row is read once per chunk;
// each work-item keeps 2 * kMaxGroupHeads * D floats of private state.
constexpr int kMaxGroupHeads = 8;
// Largest head dim: the partials of a head (kLocalSize * D floats) are merged
// through local memory.
constexpr int kMaxHeadDim = 256;
}  // namespace rma::opencl::paged_decode_attention_config
