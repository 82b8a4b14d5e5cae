// opencl linear: tuning knobs and the own-kernel / CLBlast dispatch policy.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rma::opencl::linear_config {
// GEMM kernel: kWg x kWg work-items per group (256 fits every device's
// minimum work-group limit), each computing a kTm x kTn register block; A and
// B tiles of kTk along K in local memory.
constexpr size_t kWg = 16;
constexpr int kTm = 4;
constexpr int kTn = 4;
constexpr int kTk = 16;
// Up to kRows rows (decode batches, no trans_a) take the one-work-item-per-
// column kernel instead of a 64-row tile that would sit mostly idle.
constexpr int64_t kRows = 8;
constexpr size_t kRowsGroup = 64;

// Own kernel or CLBlast (when built with it), by shape class. Measured on
// PoCL (AMD EPYC, 2 cores, avx512), f32, w [N, K], GFLOP/s steady state
// (median; `rma bench ops --op linear` with RMA_OPENCL_LINEAR=own|clblast and
// a first-call harness). The old 16x16 one-output-per-work-item kernel did
// ~4.7 at T=N=K=1024.
//   shape                 own            CLBlast
//   T=N=K=1024            9.7 - 11.7     20.8 - 24.9
//   T=128 N=1536 K=576    8.9 - 10.9     11.6 - 18.9 (17.7 with bias+silu)
//   T=16..512, K=576      2.0 - 11.2     9.0 - 18.7
//   T=8 N=1536 K=576      8.3            9.0 (noisy: spread 95% on own)
//   T=4 N=1536 K=576      748 us         1687 us
//   T=1 N=1536 K=576      0.8 - 1.3 ms   1.6 - 1.7 ms (weights from DRAM)
// First call in a process: CLBlast builds its programs per process (no disk
// cache of its own): ~5.6 s with PoCL's kernel cache off, +50..60 ms over
// steady state with it warm; our kernel ~0.6-0.9 s cold, +20..45 ms warm.
// So: CLBlast for GEMM shapes (more than kRows rows, or trans_a, which the
// rows kernel does not take); our rows kernel for decode-sized T.
//
// f16 / bf16: our kernels read them directly; for CLBlast, x and w are
// widened into f32 scratch buffers first (its HGEMM would accumulate in half
// and needs cl_khr_fp16). Median ms, PoCL as above but on a host busy with
// other jobs (so 2-4x slower than the table above; compare within a row):
//   shape                 own f32   own f16   own bf16   CLBlast f32  f16   bf16
//   T=N=K=1024            831-846   807-845   734-776    421-464    432-460 422-442
//   T=128 N=1536 K=576    81-87     85-93     81-83      37-39      36-44   39-40
//   T=16 N=1536 K=576     30        32-33     30-32      4.7-7.5    4.1-4.3 3.8-4.0
//   T=1 N=1536 K=576      0.82      0.83      0.82       (rows kernel)
// Widening costs little next to the GEMM, so one policy serves every dtype.
constexpr bool use_clblast(int64_t t, bool trans_a) { return trans_a || t > kRows; }
}  // namespace rma::opencl::linear_config
