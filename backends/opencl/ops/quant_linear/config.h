// opencl quant_linear: tuning knobs.
#pragma once
#include <cstddef>

namespace rma::opencl::quant_linear_config {
// Work-group: kLanes work-items split K of one output row n, times kTokens
// tokens; the group dequantizes kLanes * kTokens weights of row n per step
// into local memory (a multiple of every block size: 32 and 256).
constexpr size_t kLanes = 16;
constexpr size_t kTokens = 16;

// Decode path: for T <= kDecodeMaxTokens one work-item owns one output row n
// (kDecodeGroup rows per work-group), decodes each 32-weight chunk once into
// private memory and dots it with all T activation rows. Measured on PoCL CPU
// (2 cores): T=1 N=1536 K=576 q8_0 2.76-3.1 ms -> 0.3-0.6 ms, T=8 3.7 ms ->
// 1.5 ms; at T=16 it was still ahead (3.0-4.3 ms vs 4.4-5.8 ms) but the margin
// shrinks as cost grows ~linearly in T, while the tiled kernel's per-token cost
// falls, so the tiled kernel keeps T > 8. A group of 32 was no better than 64.
constexpr size_t kDecodeMaxTokens = 8;
constexpr size_t kDecodeGroup = 64;
}  // namespace rma::opencl::quant_linear_config
