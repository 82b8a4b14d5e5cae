// Tuning knobs of the cpu quant_linear op. Measured on a 2-core Zen 5
// (AVX-512 VNNI) with `rma bench ops --op quant_linear`.
#pragma once

#include <cstdint>

namespace rma::cpu::quant_linear_config {

// Rows of x (T) up to which the integer GEMV runs for fast: x is quantized
// to q8 blocks once and each weight row is read once, unpacked, and dotted
// with every row of x (in groups of kGemvGroup rows, while the row is in L1).
// Past it, the weights are dequantized exactly into the f32 GEMM's packed
// panels. Measured (1536 x 576 or 576 x 1536, GFLOP/s, integer / GEMM):
// T=16: 330-435 / 80-145 (then with scalar dequant); T=32: 330-430 / ~330;
// T=128: 320-436 / 380-411; T=512: 300-395 / 440-445.
constexpr int64_t kGemvMaxRows = 32;
constexpr int kGemvGroup = 4;
// The same for accurate on AVX-512 VNNI (x in three int8 digits: three
// dots per weight). 1 thread, GFLOP/s, GEMV / GEMM: T=8: q4_1 132 / 78,
// q5_k 112 / 84, q8_0 99 / 84; T=12: 131 / 103, 114 / 109, 99 / 109;
// T=16: 131 / 113, 111 / 116, 98 / 120; T=32: 130 / 156.
constexpr int64_t kAccurateGemvMaxRows = 12;
// Accurate on AVX2 / AVX-512 without VNNI: the GEMV dequantizes each weight
// row to f32 and dots it in f32. Forced AVX-512 target, q4_1 1536 x 576,
// GFLOP/s, GEMV / GEMM: T=4 61 / 45, T=8 63 / 79, T=16 65 / 113 (AVX2:
// 47 / 39, 46 / 55, 48 / 80). (The portable target's GEMV beats its GEMM
// at every T, 8 / 4 at T=16, and keeps kGemvMaxRows.)
constexpr int64_t kF32GemvMaxRows = 6;
// (T = 1 reads four adjacent weight rows per pass, every type, so each load
// of x serves four rows: hot-cache q4_1 1536 x 576, 1 thread, 29 -> 40 GB/s.)

// The VNNI GEMV runs one software-prefetch stream this far ahead of the
// furthest weight byte it reads. Without it (hardware prefetcher alone)
// DRAM idles between misses: T = 1, 1 thread, q4_1 1536 x 576 read at 0.47
// of a plain read of the same bytes, 0.55 with 4 KiB per row pointer (the
// four interleaved rows then lead the last row by too little), 0.75-0.83
// with one stream 8 KiB ahead; 16 KiB measured the same on large N and
// slower on the small matrices of a decode step (SmolLM2 tg 212 -> 188).
constexpr int kPrefetchBytes = 8192;

// Weight rows per parallel chunk of the GEMV (a thread takes whole chunks).
constexpr int64_t kGemvRowGrain = 16;
// GEMV calls reading fewer weight bytes than this (times T) run on the
// calling thread alone: handing half to the other thread costs more than it
// saves. T = 1 accurate, weights from DRAM, us, 1 thread / 2: q4_1
// 192 x 576 (69 KB) 4.4 / 5.2; 288 x 576 (104 KB) 5.8 / 5.7; 384 x 576
// 7.7 / 6.6; 576 x 576 11.4 / 8.2.
constexpr int64_t kMinParallelBytes = 96 << 10;

}  // namespace rma::cpu::quant_linear_config
