// Tuning knobs of the cpu paged_decode_attention op.
#pragma once

#include <cstdint>

namespace rma::cpu::paged_decode_config {
// Keys per step (at most one cache block's worth): their K and V rows are
// copied to scratch (kKeyStep x heads x D floats each, kept within L2) and
// scored, then folded into the running softmax. A multiple of 16 (vector
// width).
constexpr int64_t kKeyStep = 16;
// A sequence's context is split across threads (with a final merge of the
// partial softmax states) only in pieces of at least this many keys.
constexpr int64_t kMinSplitKeys = 256;
}  // namespace rma::cpu::paged_decode_config
