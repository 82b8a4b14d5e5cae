// Tuning knobs of the cpu reduce op.
#pragma once

#include <cstdint>

namespace rma::cpu::reduce_config {
// Input elements per parallel piece.
constexpr int64_t kChunkElems = 16384;
// Output columns accumulated together when reducing a middle axis (a
// double per column on the stack).
constexpr int64_t kColumns = 256;
// f16/bf16 elements converted to f32 at a time.
constexpr int64_t kConvertElems = 1024;
}  // namespace rma::cpu::reduce_config
