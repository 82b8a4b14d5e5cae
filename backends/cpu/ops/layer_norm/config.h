// Tuning knobs of the cpu layer_norm op.
#pragma once

#include <cstdint>

namespace rma::cpu::layer_norm_config {
// Elements per parallel chunk (rows grouped to about this many).
constexpr int64_t kChunkElems = 16384;
}  // namespace rma::cpu::layer_norm_config
