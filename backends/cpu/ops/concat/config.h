// Tuning knobs of the cpu concat op.
#pragma once

#include <cstdint>

namespace rma::cpu::concat_config {
// Output bytes per parallel piece.
constexpr int64_t kChunkBytes = 128 * 1024;
}  // namespace rma::cpu::concat_config
