// Tuning knobs of the cpu matmul op.
#pragma once

#include <cstdint>

namespace rma::cpu::matmul_config {
// Batches whose M*N*K is at most this many multiply-adds run one per
// thread (each GEMM serial) rather than one after another (each GEMM
// parallel): attention-sized products are too small to split well.
constexpr int64_t kPerThreadBatchMaxMacs = int64_t{1} << 21;
}  // namespace rma::cpu::matmul_config
