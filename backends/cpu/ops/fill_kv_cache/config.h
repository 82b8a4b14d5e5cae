// Tuning knobs of the cpu fill_kv_cache op.
#pragma once

#include <cstdint>

namespace rma::cpu::fill_kv_cache_config {
// Elements (tokens x Hkv x D, for k and v each) per parallel chunk; below
// this a scatter is a few memcpys and not worth a thread hand-off.
constexpr int64_t kChunkElems = 32768;
}  // namespace rma::cpu::fill_kv_cache_config
