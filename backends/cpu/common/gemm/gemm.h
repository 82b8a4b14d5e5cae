// The f32-accumulating GEMM behind linear (and quant_linear's larger-T path):
// y[m, n] = act(alpha * sum_k A[m, k] * B[k, n] + bias[n]), written once in
// y's dtype. Two drivers:
//   gemm  cache-blocked (packed A and B panels, register-blocked micro-kernel),
//         parallel over the pool, for T past the GEMV range;
//   gemv  for a handful of rows: streams B once, no packing.
// Both fuse the epilogue into the write-back. Kernels are compiled per SIMD
// target (AVX-512, AVX2, portable) and picked at run time.
#pragma once

#include <cstdint>

#include "common/thread_pool.h"
#include "rma/plugin.h"

namespace rma::cpu {

// One operand as stored. Element (i, k), where i indexes A's rows (m) or B's
// columns (n), lives at i * ld + k when k_contig, else at k * ld + i.
struct GemmOperand {
  const void* data = nullptr;
  int32_t dtype = RMA_DTYPE_F32;  // f32, f16, bf16; other dtypes need load_rows
  int64_t ld = 0;
  bool k_contig = true;
  // For k_contig B of another dtype (block-quantized weights): writes rows
  // [i0, i0 + rows) restricted to k in [k0, k0 + kc) as f32, row r at
  // dst + r * ld_dst. k0 and kc are multiples of k_align (kc may end at K).
  void (*load_rows)(const void* ctx, int64_t i0, int64_t rows, int64_t k0, int64_t kc, float* dst,
                    int64_t ld_dst) = nullptr;
  const void* load_ctx = nullptr;
  int64_t k_align = 1;
};

struct Epilogue {
  float alpha = 1.f;
  const float* bias = nullptr;  // f32 [n] or null
  int32_t act = RMA_ACT_NONE;   // rma_activation
  float act_param = 0.f;
};

struct GemmArgs {
  int64_t m = 0, n = 0, k = 0;
  GemmOperand a, b;
  Epilogue ep;
  void* y = nullptr;  // [m, n] with row stride ldy, dtype y_dtype (f32/f16/bf16)
  int32_t y_dtype = RMA_DTYPE_F32;
  int64_t ldy = 0;
  // B already packed by pack_b() for this n, k and b.k_align (a prepared
  // linear's weight): gemm() reads its panels instead of packing b.
  const float* packed_b = nullptr;
};

// B packed ahead, as gemm() packs it per call: for each depth block, every
// NR-wide column panel of the SIMD target chosen at run time, f32.
// packed_b_floats() is the size pack_b() writes for n columns of depth k.
struct PackedBLayout {
  int64_t kc_max = 0;  // depth block
  int64_t panels = 0;  // ceil(n / NR)
  int nr = 0;
  uint64_t floats = 0;
};
PackedBLayout packed_b_layout(int64_t n, int64_t k, int64_t k_align);
// Packs B (n columns, depth k; dtype and layout in `b`) into dst
// (packed_b_layout(n, k, b.k_align).floats floats, 64-byte aligned),
// parallel over the pool.
void pack_b(ThreadPool& pool, const GemmOperand& b, int64_t n, int64_t k, float* dst);

// Cache-blocked GEMM with our micro-kernel. False when scratch memory could
// not be allocated.
bool gemm(ThreadPool& pool, const GemmArgs& args);
// Small-m GEMM that streams B once (a GEMV per row of A); falls back to gemm
// past kGemvMaxRows rows or for B given through load_rows.
bool gemv(ThreadPool& pool, const GemmArgs& args);
// y[m, n] (f32 raw sums, row stride ldy) -> act(alpha' * y + bias), in place
// (alpha' = ep.alpha). Used after an external sgemm.
void apply_epilogue(ThreadPool& pool, float* y, int64_t m, int64_t n, int64_t ldy,
                    const Epilogue& ep);
// y[i] = act(alpha * x[i] + bias[i]) for i < n, stored as `dtype` (bias
// f32 or null).
void epilogue_row(const float* x, int64_t n, const float* bias, float alpha, int32_t act,
                  float act_param, void* y, int32_t dtype);

// The micro-tile of the target chosen at run time (for reports).
struct GemmInfo {
  int mr, nr;
  const char* target;
};
GemmInfo gemm_info();

}  // namespace rma::cpu
