// opencl prefill_attention: tuning knobs.
#pragma once
#include <cstddef>

namespace rma::opencl::prefill_attention_config {
// Work-items per work-group: rows (query token, query head) of one block of
// consecutive tokens times the query heads of one kv head's group (all of
// them up to kLocalSize). At T=128 Hq=9 Hkv=3 D=64 causal (PoCL, 2 cores):
// 64 rows 1.51 ms (12.6 GF/s), 16 rows 1.59 ms; more rows share each K/V tile.
constexpr size_t kLocalSize = 64;
// Keys per K/V tile in local memory (shrunk to fit the device's local memory
// at large head dims). 32 keeps few barriers per key while loading few keys
// past the causal diagonal (not swept: time-boxed).
constexpr int kTileKeys = 32;
// Largest head dim: each work-item keeps its query row and accumulators
// (kMaxHeadDim floats each) in private memory.
constexpr int kMaxHeadDim = 256;
}  // namespace rma::opencl::prefill_attention_config
