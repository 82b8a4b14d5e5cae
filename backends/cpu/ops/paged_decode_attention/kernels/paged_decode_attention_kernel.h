#pragma once
#include <cstdint>

namespace rma::cpu {

struct PagedDecodeArgs {
  const void* q;  // [B, Hq, D] of q_dtype, also o's dtype
  int32_t q_dtype;
  const void* k_cache;  // [num_blocks, block_size, Hkv, D] of cache_dtype
  const void* v_cache;
  int32_t cache_dtype;
  const int64_t* block_table;  // [B, max_blocks], entries used already checked
  int64_t max_blocks, block_size, hq, hkv, d;
  const float* alibi;  // [Hq] or null
  float scale;
};

// Floats of scratch paged_decode_partial needs for `heads` kv heads.
int64_t paged_decode_scratch_floats(int64_t heads, int64_t group, int64_t d);

// Attention of sequence b (its query at position len - 1) over cache keys
// [j_begin, j_end) for kv heads [g0, g1), each with its `group` query heads:
// every K and V row is read once for all query heads sharing it, and the
// heads of one token row are read together (they are contiguous in the
// cache). Leaves per kv head h, at state + (h - g0) * group * (d + 2), the
// partial softmax state of its query heads: running max m[group], sum
// l[group], unnormalised output acc[group][d].
void paged_decode_partial(const PagedDecodeArgs& args, int64_t b, int64_t g0, int64_t g1,
                          int64_t len, int64_t j_begin, int64_t j_end, float* state,
                          float* scratch);

}  // namespace rma::cpu
