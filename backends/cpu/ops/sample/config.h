// Tuning knobs of the cpu sample op.
#pragma once

#include <cstdint>

namespace rma::cpu::sample_config {
// Candidate lists at least this long are ordered by radix sort, shorter ones
// by std::sort.
constexpr int64_t kRadixMinCandidates = 4096;
// Bits per radix digit (2^11 counters fit in L1).
constexpr int kRadixBits = 11;
}  // namespace rma::cpu::sample_config
