#pragma once
#include <cstdint>
#include <vector>

namespace rma::cpu {
// l = x with NaN replaced by -inf (NaN ranks below every logit).
void sample_clean_row(const float* x, float* l, int64_t n);
// l[i] /= t (a true division: the same rounding as the reference's).
void sample_divide_row(float* l, int64_t n, float t);
// Index of the first maximum of l (0 when n == 0); l holds no NaN.
int64_t sample_argmax(const float* l, int64_t n);
// Sort key of (logit, id): ascending keys order logits descending, ties by
// lower id. -0 and +0 compare equal, as floats do.
inline uint64_t sample_key(float v, int64_t id) {
  uint32_t u;
  __builtin_memcpy(&u, &v, 4);
  u &= v == 0.f ? 0u : ~0u;  // -0 -> +0
  // Ascending as the float: flip all bits of negatives, the sign of the rest
  // (branch free: the signs of logits are random).
  u ^= static_cast<uint32_t>(static_cast<int32_t>(u) >> 31) | 0x80000000u;
  return (uint64_t(~u) << 32) | uint64_t(id);
}
inline int64_t sample_key_id(uint64_t key) { return static_cast<int64_t>(key & 0xFFFFFFFFu); }
// Sorts keys ascending; they must come in ascending id order. `tmp` is scratch.
void sample_sort_keys(std::vector<uint64_t>& keys, std::vector<uint64_t>& tmp);
}  // namespace rma::cpu
