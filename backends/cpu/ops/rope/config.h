// Tuning knobs of the cpu rope op.
#pragma once

#include <cstdint>

namespace rma::cpu::rope_config {
// Elements (tokens x heads x D) per parallel chunk.
constexpr int64_t kChunkElems = 16384;
}  // namespace rma::cpu::rope_config
