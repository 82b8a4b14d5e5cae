// The per-element math shared by CUDA prefill_attention and
// paged_decode_attention (docs/ops.md), as host and device functions so
// tests/cpp/test_cuda_attention.cpp checks it on the host against the
// reference: which keys a query attends, the mapping of a tile's rows to
// (token, query head), and the online-softmax state and its merge.
//
// Scores are kept in log2 units (scale and ALiBi slopes premultiplied by
// log2(e)) so the kernels exponentiate with exp2f; the softmax is unchanged.
#pragma once

#include <cmath>
#include <cstdint>

#ifndef RMA_HD
#ifdef __CUDACC__
#define RMA_HD __host__ __device__ inline
#else
#define RMA_HD inline
#endif
#endif

namespace rma::cuda::attention_math {

constexpr float kLog2e = 1.4426950408889634f;

// ------------------------------------------------------------ which keys

// The sequence owning packed token t: the largest b in [0, batch) with
// cu[b] <= t, so empty sequences (cu[b] == cu[b + 1]) are passed over.
// cu has batch + 1 entries (checked: cu[0] = 0, non-decreasing, cu[batch] =
// T); t in [0, T).
RMA_HD int32_t sequence_of(const int32_t* cu, int32_t batch, int64_t t) {
  int32_t lo = 0, hi = batch - 1;
  while (lo < hi) {
    const int32_t mid = lo + (hi - lo + 1) / 2;
    if (cu[mid] <= t)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// Whether the query at packed token i attends the key at packed token j of
// the same sequence (positions differ by i - j inside it too).
RMA_HD bool attends(int64_t i, int64_t j, bool causal, int32_t window) {
  if (causal && j > i) return false;
  if (window > 0 && i - j >= window) return false;
  return true;
}

// The keys [*begin, *end) that the query at packed token i of the sequence
// [start, end) may attend. Both bounds are non-decreasing in i, so a tile of
// consecutive tokens needs the range from its first token's begin to its
// last token's end.
RMA_HD void key_range(int64_t i, int64_t start, int64_t end, bool causal, int32_t window,
                      int64_t* begin_out, int64_t* end_out) {
  int64_t b = start, e = end;
  if (window > 0 && i - window + 1 > b) b = i - window + 1;
  if (causal && i + 1 < e) e = i + 1;
  *begin_out = b;
  *end_out = e;
}

// A score in log2 units: scale_log2 * q.k plus the ALiBi term
// slope_log2 * (j - i) (slope_log2 0 without ALiBi).
RMA_HD float score_log2(float dot, float scale_log2, float slope_log2, int64_t j, int64_t i) {
  return dot * scale_log2 + slope_log2 * static_cast<float>(j - i);
}

// ------------------------------------------------------- rows of a tile

// A prefill tile has `rows` rows: gh query heads (of one kv head's group,
// chunk `chunk` of it) times tpt consecutive tokens, the heads fastest, so
// every row of the tile reads the same K/V tile. Row r of tile `tile` is
// query (token *t, head-in-group *hi), valid when inside T and the group.
struct TileShape {
  int32_t group;  // query heads per kv head
  int32_t gh;     // query heads per tile, min(group, rows)
  int32_t nhc;    // chunks the group is split into, ceil(group / gh)
  int32_t tpt;    // tokens per tile, rows / gh
};

RMA_HD TileShape tile_shape(int32_t group, int32_t rows) {
  TileShape s;
  s.group = group;
  s.gh = group < rows ? group : rows;
  s.nhc = (group + s.gh - 1) / s.gh;
  s.tpt = rows / s.gh;
  return s;
}

RMA_HD bool tile_row(const TileShape& s, int64_t tile, int32_t chunk, int32_t r, int64_t tokens,
                     int64_t* t, int32_t* hi) {
  *t = tile * s.tpt + r / s.gh;
  *hi = chunk * s.gh + r % s.gh;
  return r < s.tpt * s.gh && *t < tokens && *hi < s.group;
}

// ------------------------------------------------------- online softmax

// 2^(m_old - m_new), the factor a running state with max m_old is rescaled by
// when the max becomes m_new >= m_old; 0 when m_old is -inf (nothing seen,
// so its accumulators are 0 anyway), never NaN.
RMA_HD float rescale(float m_old, float m_new) {
  return m_old == -INFINITY ? 0.f : ::exp2f(m_old - m_new);
}

// The weight 2^(s - m) of score s under running max m >= s; 0 for a masked
// score (-inf), also when m is -inf.
RMA_HD float weight(float s, float m) { return s == -INFINITY ? 0.f : ::exp2f(s - m); }

// A partial softmax over some keys: max score m (log2 units, -inf when none),
// l = sum 2^(s - m), and (kept by the caller) acc = sum 2^(s - m) v.
struct Partial {
  float m = -INFINITY;
  float l = 0.f;
};

// The state over the union of a's and b's keys; acc = acc_a * *scale_a +
// acc_b * *scale_b. Merging is how split-K partitions are combined and what
// the online softmax does tile by tile.
RMA_HD Partial merge(const Partial& a, const Partial& b, float* scale_a, float* scale_b) {
  Partial out;
  out.m = a.m > b.m ? a.m : b.m;
  *scale_a = rescale(a.m, out.m);
  *scale_b = rescale(b.m, out.m);
  out.l = a.l * *scale_a + b.l * *scale_b;
  return out;
}

// The output element from a final state: acc / l, 0 for a query that
// attended no key.
RMA_HD float finish(float acc, float l) { return l > 0.f ? acc / l : 0.f; }

}  // namespace rma::cuda::attention_math
