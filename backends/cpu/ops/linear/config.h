// Tuning knobs of the cpu linear op (and of quant_linear's larger-T path,
// which reuses this GEMM). Measured on a 2-core Zen 5 (AVX-512, 48 KiB L1d,
// 1 MiB L2, 32 MiB L3) with `rma bench ops --op linear`.
#pragma once

#include <cstdint>

namespace rma::cpu::linear_config {

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

// Rows (T) up to which linear runs the GEMV path (streams w once, no packing).
constexpr int64_t kGemvMaxRows = 4;
// Rows (T) up to which linear with w [N, K] (trans_b) runs the small-M path:
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

// OpenBLAS dispatch policy (f32, T > kGemvMaxRows, builds with
// RMA_HAVE_OPENBLAS; RMA_CPU_LINEAR_OPENBLAS=0/1 overrides it): the shape
// classes where OpenBLAS 0.3.21's sgemm (SkylakeX kernels, same thread
// count) measurably beat our kernel get dispatched to it, the epilogue then
// applied by us. Measured side by side (ours / OpenBLAS, GFLOP/s, 2 threads,
// Zen 5): T=N=K=1024 1.00-1.05; T=8..16 x 1536 x 576 2.2-4.3 (small-M path);
// T=64, 128, 512 x 1536 x 576 1.0-1.16; T=128 x 576 x 1536 1.17;
// T=128 x 49152 x 576 0.99-1.03. No class where OpenBLAS wins beyond the
// noise, so none is dispatched.
constexpr bool openblas_wins(int64_t m, int64_t n, int64_t k) {
  (void)m, (void)n, (void)k;
  return false;
}

}  // namespace rma::cpu::linear_config
