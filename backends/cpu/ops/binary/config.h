// Tuning knobs of the cpu binary op.
#pragma once

#include <cstdint>

namespace rma::cpu::binary_config {
// Output elements per parallel piece (rows grouped, or long rows split).
constexpr int64_t kChunkElems = 16384;
// f16/bf16 elements converted to f32 at a time (stack buffers, in L1).
constexpr int64_t kConvertElems = 1024;
}  // namespace rma::cpu::binary_config
