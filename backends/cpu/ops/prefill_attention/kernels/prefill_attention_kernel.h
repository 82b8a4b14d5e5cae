#pragma once
#include <cstdint>

namespace rma::cpu {

// What one prefill call shares across its work items.
struct PrefillAttentionArgs {
  const void* q;  // [T, Hq, D] of q_dtype
  void* o;        // [T, Hq, D] of q_dtype
  int32_t q_dtype;
  // K transposed per kv head, f32, for kv heads from kt_g0: key t's element
  // e of head g is at kt[((g - kt_g0) * d + e) * kt_stride + t];
  // kt_stride >= T + kKeyTile, the padding zeroed, so a tile may read past
  // the last key.
  const float* kt;
  int64_t kt_stride, kt_g0;
  // V as f32 for kv heads from v_g0: row t of head g at
  // v[t * v_ld + (g - v_g0) * d].
  const float* v;
  int64_t v_ld, v_g0;
  const float* alibi;  // [Hq] or null
  int64_t hq, hkv, d;
  float scale;
  int32_t causal;
  int32_t window;  // > 0: sliding window
};

// Query positions [i0, i1) (local to the sequence at token `start`, `len`
// tokens) of the query heads reading kv head g.
struct PrefillAttentionItem {
  int64_t start, len, g, i0, i1;
};

// Floats of scratch prefill_attention_item needs for items of up to `rows`
// query rows (positions x heads per kv head).
int64_t prefill_attention_scratch_floats(int64_t rows, int64_t d);
// Flash-style attention of one item: key tiles in order with an online
// softmax; tiles outside the causal / window range are never visited.
void prefill_attention_item(const PrefillAttentionArgs& args, const PrefillAttentionItem& item,
                            float* scratch);

}  // namespace rma::cpu
