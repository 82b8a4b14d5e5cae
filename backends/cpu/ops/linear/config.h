// Tuning knobs of the cpu linear op: when to hand a shape to OpenBLAS. The
// GEMM's own knobs (tiles, blocking, GEMV and small-M thresholds) are in
// common/gemm/config.h.
#pragma once

#include <cstdint>

namespace rma::cpu::linear_config {

// OpenBLAS dispatch policy (f32, T > gemm_config::kGemvMaxRows, builds with
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
