// opencl matmul: tuning knobs and the own-kernel / CLBlast dispatch policy.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rma::opencl::matmul_config {
// matmul_tiled: kWg x kWg work-items per group, each a kTm x kTn register
// block, kTk-deep tiles in local memory (linear's GEMM kernel layout).
constexpr size_t kWg = 16;
constexpr int kTm = 4;
constexpr int kTn = 4;
constexpr int kTk = 16;
// Up to kRows rows per batch (decode-shaped products, e.g. one query's
// attention scores) take matmul_rows: one work-item per column.
constexpr int64_t kRows = 8;

// CLBlast (when built with it) for GEMM-shaped products, as linear's policy
// (ops/linear/config.h, measured there: CLBlast 1.5-2.2x our tiled kernel
// on PoCL for more than 8 rows, slower for fewer): more than kRows rows per
// batch. A batch whose b is shared (b broadcast over every batch dim, a
// dense) is one GEMM with batches * M rows; other batches run CLBlast's
// strided-batched GEMM (one batch dim after collapsing) or its batched GEMM
// with per-batch offsets.
constexpr bool use_clblast(int64_t rows_per_gemm) { return rows_per_gemm > kRows; }
}  // namespace rma::opencl::matmul_config
