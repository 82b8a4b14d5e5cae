// cuda prefill_attention: tuning knobs.
#pragma once

namespace rma::cuda::prefill_attention_config {
// Keys per K/V tile of the tensor-core kernel for head dims up to 128 (each
// warp keeps BN / 2 S accumulators and D / 2 O accumulators per thread, and
// the block 64 + 4 * BN padded rows in shared memory: 87 KiB at D = 128).
constexpr int kTcKeysPerTile = 64;
// The same for D = 256, where registers (128 O accumulators per thread) and
// shared memory (99 KiB, the sm_86/sm_89 per-block limit) are tighter.
constexpr int kTcKeysPerTileD256 = 32;
// Largest head dim the SIMT kernel takes (32 * its widest lane share).
constexpr int kSimtMaxHeadDim = 256;
}  // namespace rma::cuda::prefill_attention_config
