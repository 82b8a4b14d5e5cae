// Tuning knobs of the cpu unary op.
#pragma once

#include <cstdint>

namespace rma::cpu::unary_config {
// Elements per parallel piece: a few microseconds of exp or erf, so small
// tensors run on the calling thread and large ones on every thread.
constexpr int64_t kChunkElems = 16384;
// f16/bf16 elements converted to f32 at a time (stack buffer, in L1).
constexpr int64_t kConvertElems = 1024;
}  // namespace rma::cpu::unary_config
