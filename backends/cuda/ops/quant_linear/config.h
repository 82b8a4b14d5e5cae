// cuda quant_linear: tuning knobs.
#pragma once

#include <cstdint>

#include "common/gemm.h"

namespace rma::cuda::quant_linear_config {

// Up to this many rows (T) of x, the GEMV kernels decode each weight chunk
// in registers once for all rows; beyond it, weights are decoded into
// scratch tiles and multiplied by cuBLASLt.
constexpr int64_t kGemvMaxRows = ::rma::cuda::kGemvMaxRows;

// Most scratch memory one decoded weight tile may take (rows of w at a time).
constexpr int64_t kTileScratchBytes = 64ll << 20;

// Threads per block of the GEMV (one warp per output column).
constexpr int kGemvThreads = 256;

}  // namespace rma::cuda::quant_linear_config
