// Tuning knobs of the cpu silu_and_mul op.
#pragma once

#include <cstdint>

namespace rma::cpu::silu_and_mul_config {
// Output elements per parallel chunk (rows grouped to about this many).
constexpr int64_t kChunkElems = 16384;
}  // namespace rma::cpu::silu_and_mul_config
