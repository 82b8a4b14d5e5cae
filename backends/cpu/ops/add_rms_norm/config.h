// Tuning knobs of the cpu add_rms_norm op.
#pragma once

#include <cstdint>

namespace rma::cpu::add_rms_norm_config {
// Elements per parallel chunk (rows grouped to about this many).
constexpr int64_t kChunkElems = 16384;
}  // namespace rma::cpu::add_rms_norm_config
