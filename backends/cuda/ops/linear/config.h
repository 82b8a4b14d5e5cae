// cuda linear: tuning knobs.
#pragma once

#include <cstdint>

#include "common/gemm.h"

namespace rma::cuda::linear_config {

// Up to this many rows (T) of x, !trans_a and trans_b, our warp-per-column
// GEMV reads each row of w once for all rows; beyond it, cuBLASLt.
constexpr int64_t kGemvMaxRows = ::rma::cuda::kGemvMaxRows;

}  // namespace rma::cuda::linear_config
