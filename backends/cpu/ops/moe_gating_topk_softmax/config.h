// Tuning knobs of the cpu moe_gating_topk_softmax op.
#pragma once

#include <cstdint>

namespace rma::cpu::moe_gating_config {
// Logits per parallel chunk (rows grouped to about this many).
constexpr int64_t kChunkElems = 8192;
}  // namespace rma::cpu::moe_gating_config
