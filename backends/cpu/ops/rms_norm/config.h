// Tuning knobs of the cpu rms_norm op.
#pragma once

#include <cstdint>

namespace rma::cpu::rms_norm_config {
// Elements per parallel chunk: rows are grouped so a chunk holds about this
// many, keeping short rows from paying a thread hand-off each.
constexpr int64_t kChunkElems = 16384;
}  // namespace rma::cpu::rms_norm_config
