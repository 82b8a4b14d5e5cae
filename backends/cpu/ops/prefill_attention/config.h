// Tuning knobs of the cpu prefill_attention op.
#pragma once

#include <cstdint>

namespace rma::cpu::prefill_attention_config {
// Keys per tile: one tile of scores is 4 query rows x kKeyTile, a multiple of
// 4 vectors on every target (16 lanes on AVX-512).
constexpr int64_t kKeyTile = 64;
// Query rows per work item (query positions x the query heads sharing one kv
// head), so each key/value tile loaded is used by this many rows.
constexpr int64_t kItemRows = 64;
// Bytes of transposed K (and f32 V) prepared at a time: kv heads are
// processed in phases that fit, so a long prompt does not hold a second,
// f32 copy of all its keys.
constexpr int64_t kPhaseBytes = int64_t{64} << 20;
}  // namespace rma::cpu::prefill_attention_config
