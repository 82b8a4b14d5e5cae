// What both prefill_attention kernels share: the parameters, the mapping of
// a block to its tile (tokens x query heads of one kv head) and the keys the
// tile needs, and each row's sequence bounds.
#pragma once

#include <cstdint>

#include "common/kernel_utils.cuh"
#include "ops/prefill_attention/kernels/attention_math.h"

namespace rma::cuda::prefill_kernels {

struct PrefillParams {
  const void* q;              // [T, Hq, D]
  const void* k;              // [T, Hkv, D]
  const void* v;              // [T, Hkv, D]
  void* o;                    // [T, Hq, D]
  const int32_t* cu_seqlens;  // [batch + 1], checked on the host when possible
  const float* alibi;         // [Hq] or null
  int64_t tokens;
  int32_t batch, hq, hkv, d;
  attention_math::TileShape tile;  // for the kernel's rows per tile
  float scale_log2;                // scale * log2(e)
  bool causal;
  int32_t window;
};

// A packed token's sequence bounds [*start, *end). cu_seqlens is clamped into
// [0, T] so a corrupt one (possible only under graph capture, where it is not
// read back) cannot make a kernel read outside q, k, v.
__device__ __forceinline__ void sequence_bounds(const PrefillParams& p, int64_t t, int64_t* start,
                                                int64_t* end) {
  const int32_t b = attention_math::sequence_of(p.cu_seqlens, p.batch, t);
  int64_t s = p.cu_seqlens[b], e = p.cu_seqlens[b + 1];
  s = s < 0 ? 0 : s > p.tokens ? p.tokens : s;
  e = e < s ? s : e > p.tokens ? p.tokens : e;
  *start = s;
  *end = e;
}

// The block's tile: tiles are handed out last first, so under a causal mask
// the longest (latest) tiles start first and the short ones fill the tail.
__device__ __forceinline__ int64_t block_tile() { return int64_t(gridDim.x) - 1 - blockIdx.x; }

// The keys [*begin, *end) the tile's rows may attend: from the first
// token's first key to the last token's last (attention_math::key_range is
// monotonic in the token).
__device__ __forceinline__ void tile_keys(const PrefillParams& p, int64_t tile, int64_t* begin,
                                          int64_t* end) {
  const int64_t t_first = tile * p.tile.tpt;
  int64_t t_last = t_first + p.tile.tpt - 1;
  if (t_last >= p.tokens) t_last = p.tokens - 1;
  int64_t s = 0, e = 0, unused = 0;
  sequence_bounds(p, t_first, &s, &e);
  attention_math::key_range(t_first, s, e, p.causal, p.window, begin, &unused);
  sequence_bounds(p, t_last, &s, &e);
  attention_math::key_range(t_last, s, e, p.causal, p.window, &unused, end);
}

// One query row of the tile as a thread sees it. The keys a query attends
// are contiguous: [key_lo, key_hi) (attention_math::key_range inside its
// sequence); empty for a padding row.
struct RowInfo {
  bool valid = false;
  int64_t token = 0;  // packed token
  int64_t key_lo = 0, key_hi = 0;
  int32_t head = 0;      // query head
  float slope_log2 = 0;  // ALiBi slope * log2(e), 0 without ALiBi
};

__device__ __forceinline__ RowInfo row_info(const PrefillParams& p, int64_t tile, int32_t kv_head,
                                            int32_t chunk, int32_t r) {
  RowInfo ri;
  int32_t hi = 0;
  ri.valid = attention_math::tile_row(p.tile, tile, chunk, r, p.tokens, &ri.token, &hi);
  if (!ri.valid) return ri;
  ri.head = kv_head * p.tile.group + hi;
  int64_t start = 0, end = 0;
  sequence_bounds(p, ri.token, &start, &end);
  attention_math::key_range(ri.token, start, end, p.causal, p.window, &ri.key_lo, &ri.key_hi);
  if (p.alibi) ri.slope_log2 = p.alibi[ri.head] * attention_math::kLog2e;
  return ri;
}

// The score of row `ri` against key j in log2 units, or -inf where the row
// does not attend it.
__device__ __forceinline__ float masked_score(const PrefillParams& p, const RowInfo& ri, float dot,
                                              int64_t j) {
  if (j < ri.key_lo || j >= ri.key_hi) return -INFINITY;
  return attention_math::score_log2(dot, p.scale_log2, ri.slope_log2, j, ri.token);
}

}  // namespace rma::cuda::prefill_kernels
