// Tuning knobs of the cpu cast op.
#pragma once

#include <cstdint>

namespace rma::cpu::cast_config {
// Elements per parallel piece.
constexpr int64_t kChunkElems = 32768;
// Elements converted through the intermediate buffer at a time.
constexpr int64_t kBlockElems = 1024;
}  // namespace rma::cpu::cast_config
