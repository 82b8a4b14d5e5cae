// Tuning knobs of the cpu embedding op.
#pragma once

#include <cstdint>

namespace rma::cpu::embedding_config {
// Output elements per parallel chunk: gathering a row is a copy or a decode,
// so small lookups (one decode token) stay on the calling thread.
constexpr int64_t kChunkElems = 32768;
}  // namespace rma::cpu::embedding_config
