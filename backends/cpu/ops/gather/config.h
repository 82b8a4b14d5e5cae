// Tuning knobs of the cpu gather op.
#pragma once

#include <cstdint>

namespace rma::cpu::gather_config {
// Output bytes per parallel piece.
constexpr int64_t kChunkBytes = 128 * 1024;
}  // namespace rma::cpu::gather_config
