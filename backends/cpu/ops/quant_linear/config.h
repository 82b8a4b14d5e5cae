// Tuning knobs of the cpu quant_linear op. Measured on a 2-core Zen 5
// (AVX-512 VNNI) with `rma bench ops --op quant_linear`.
#pragma once

#include <cstdint>

namespace rma::cpu::quant_linear_config {

// Rows of x (T) up to which the integer GEMV runs: x is quantized to q8
// blocks once and each weight row is read once, unpacked, and dotted with
// every row of x (in groups of kGemvGroup rows, while the row is in L1).
// Past it, the weights are dequantized exactly into the f32 GEMM's packed
// panels. Measured (1536 x 576 or 576 x 1536, GFLOP/s, integer / GEMM):
// T=16: 330-435 / 80-145 (then with scalar dequant); T=32: 330-430 / ~330;
// T=128: 320-436 / 380-411; T=512: 300-395 / 440-445.
constexpr int64_t kGemvMaxRows = 32;
constexpr int kGemvGroup = 4;
// (T = 1 has its own 4-weight-rows-per-pass kernels for q8_0 / q4_0 / q4_1;
// hot-cache 1536 x 576, 1 thread: q8_0 50 -> 61 GB/s, q4_0 34 -> 46 GB/s.)

// The GEMV prefetches weights this far ahead of where it reads (it does
// enough work per byte that the hardware prefetcher alone leaves DRAM idle
// between misses; 1 to 16 KiB measured alike within the noise, 0 worse).
constexpr int kPrefetchBytes = 4096;

// Weight rows per parallel chunk of the GEMV (a thread takes whole chunks).
constexpr int64_t kGemvRowGrain = 16;

}  // namespace rma::cpu::quant_linear_config
