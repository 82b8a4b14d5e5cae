// Tuning knobs of the shared blocked GEMM (linear, and quant_linear past its
// integer GEMV). Measured on a 2-core Zen 5 (AVX-512, 48 KiB L1d, 1 MiB L2,
// 32 MiB L3) with `rma bench ops --op linear`.
#pragma once

#include <cstdint>

namespace rma::cpu::gemm_config {

// Micro-tile, rows x (vectors of 16 / 8 floats). 14x32 on AVX-512: 28
// accumulators + 2 B vectors + 1 broadcast fill the 32 registers and move the
// fewest bytes per flop of the shapes that reach peak in L1 (14x32, 12x32,
// 8x48, 6x64 all ran at ~100% of the FMA peak in isolation).
constexpr int kAvx512MR = 14;
constexpr int kAvx512NV = 2;
constexpr int kAvx2MR = 6;
constexpr int kAvx2NV = 2;

// Depth of the packed panels: a B micro-panel (kKC x 32 floats = 32 KiB)
// stays in L1 while the A block streams from L2. A multiple of 256 so that
// k-quant blocks never straddle two panels.
constexpr int64_t kKC = 256;
// Rows of A packed per thread at once (kMC x kKC floats, 168 KiB: in L2).
constexpr int64_t kMC = 168;
// Columns of the shared packed B block (kKC x kNC floats, 3 MiB: in L3).
constexpr int64_t kNC = 3072;
// With f16/bf16 outputs and K > kKC the partial sums live in an f32 scratch
// of M x NC; NC shrinks to keep it under this many floats.
constexpr int64_t kMaxPartialFloats = int64_t{8} << 20;

// Rows (T) up to which the GEMM runs the GEMV path (streams w once, no packing).
constexpr int64_t kGemvMaxRows = 4;
// Rows (T) up to which the GEMM with w [N, K] (trans_b) runs the small-M path:
// eight rows of x against two rows of w at a time, no packing, w streamed
// once, x from L1. Past it, the blocked GEMM. f32 x 1536 x 576, GFLOP/s:
// small-M T=8 310-320, T=16 300-330, T=24 210, T=32 210 (x leaves L1);
// GEMM T=17 250, T=24 300, T=32 330.
constexpr int64_t kSmallMaxRows = 16;
// The GEMV reads w rows one after the other; a software prefetch this far
// ahead (0: none) measured no better than the hardware prefetcher alone.
constexpr int64_t kGemvPrefetchBytes = 0;

// Threads split N (each packs its own B panels and all of A: no barriers,
// no cross-core traffic) when each gets at least this many column panels;
// otherwise they split M and share B. Splitting N measured as fast or
// faster at every shape tried (T=128 x 1536 x 576: 415-420 GFLOP/s against
// 377-390 splitting M; T=N=K=1024 on par).
constexpr int kMinPanelsPerThreadN = 4;

}  // namespace rma::cpu::gemm_config
