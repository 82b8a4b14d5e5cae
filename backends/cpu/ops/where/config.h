// Tuning knobs of the cpu where op.
#pragma once

#include <cstdint>

namespace rma::cpu::where_config {
// Output elements per parallel piece.
constexpr int64_t kChunkElems = 32768;
}  // namespace rma::cpu::where_config
