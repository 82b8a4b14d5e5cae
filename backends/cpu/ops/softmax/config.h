// Tuning knobs of the cpu softmax op.
#pragma once

#include <cstdint>

namespace rma::cpu::softmax_config {
// Elements per parallel chunk (rows grouped to about this many).
constexpr int64_t kChunkElems = 16384;
}  // namespace rma::cpu::softmax_config
