// Flash-style prefill attention on the CPU. One work item is a block of
// query positions times the query heads of one kv head; it walks the key
// tiles that its causal / sliding-window range can reach, keeping per row a
// running max m, a running sum l and an unnormalised output O:
//   S = Q K^T (register-blocked: 4 rows x a few vectors of keys, K stored
//       transposed so each key column is contiguous),
//   mask / alibi, m' = max(m, max S), P = exp(S - m'),
//   l = l e^(m - m') + sum P,  O = O e^(m - m') + P V.
// Q is pre-scaled by `scale`.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/prefill_attention/kernels/prefill_attention_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include <hwy/contrib/math/math-inl.h>

#include "common/convert.h"
#include "ops/prefill_attention/config.h"
#include "ops/prefill_attention/kernels/prefill_attention_kernel.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
constexpr int64_t kTile = prefill_attention_config::kKeyTile;
constexpr int kRows = 4;  // query rows per register block
// Vectors of keys (scores) or of D (P.V) per register block: 4 rows x kVecs
// accumulators plus kVecs loads must fit the register file.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
constexpr int kVecs = 4;
#else
constexpr int kVecs = 2;
#endif

// s[r][c] = sum_e q[r][e] * kt[e][c], 4 rows (q rows d apart), kTile columns.
HWY_INLINE void score_tile(const float* q, int64_t d, const float* kt, int64_t ldk, float* s) {
  const DF df;
  const int64_t L = hn::Lanes(df);
  for (int64_t c = 0; c < kTile; c += kVecs * L) {
    VF acc[kRows][kVecs];
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 16
      for (int v = 0; v < kVecs; ++v) acc[r][v] = hn::Zero(df);
    for (int64_t e = 0; e < d; ++e) {
      const float* k = kt + e * ldk + c;
      VF kv[kVecs];
#pragma GCC unroll 16
      for (int v = 0; v < kVecs; ++v) kv[v] = hn::LoadU(df, k + v * L);
#pragma GCC unroll 16
      for (int r = 0; r < kRows; ++r) {
        const VF b = hn::Set(df, q[r * d + e]);
#pragma GCC unroll 16
        for (int v = 0; v < kVecs; ++v) acc[r][v] = hn::MulAdd(b, kv[v], acc[r][v]);
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 16
      for (int v = 0; v < kVecs; ++v) hn::StoreU(acc[r][v], df, s + r * kTile + c + v * L);
  }
}

// o[r][:] += sum_{j < n} p[r][j] * v[j][:], 4 rows (p rows kTile apart, o
// rows d apart), v rows ldv apart.
HWY_INLINE void pv_tile(const float* p, const float* v, int64_t ldv, int64_t n, int64_t d,
                        float* o) {
  const DF df;
  const int64_t L = hn::Lanes(df);
  int64_t c = 0;
  for (; c + kVecs * L <= d; c += kVecs * L) {
    VF acc[kRows][kVecs];
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 16
      for (int u = 0; u < kVecs; ++u) acc[r][u] = hn::LoadU(df, o + r * d + c + u * L);
    for (int64_t j = 0; j < n; ++j) {
      VF vv[kVecs];
#pragma GCC unroll 16
      for (int u = 0; u < kVecs; ++u) vv[u] = hn::LoadU(df, v + j * ldv + c + u * L);
#pragma GCC unroll 16
      for (int r = 0; r < kRows; ++r) {
        const VF b = hn::Set(df, p[r * kTile + j]);
#pragma GCC unroll 16
        for (int u = 0; u < kVecs; ++u) acc[r][u] = hn::MulAdd(b, vv[u], acc[r][u]);
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 16
      for (int u = 0; u < kVecs; ++u) hn::StoreU(acc[r][u], df, o + r * d + c + u * L);
  }
  for (; c + L <= d; c += L) {
    VF acc[kRows];
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) acc[r] = hn::LoadU(df, o + r * d + c);
    for (int64_t j = 0; j < n; ++j) {
      const VF vv = hn::LoadU(df, v + j * ldv + c);
#pragma GCC unroll 16
      for (int r = 0; r < kRows; ++r)
        acc[r] = hn::MulAdd(hn::Set(df, p[r * kTile + j]), vv, acc[r]);
    }
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) hn::StoreU(acc[r], df, o + r * d + c);
  }
  for (; c < d; ++c)
    for (int r = 0; r < kRows; ++r) {
      float acc = o[r * d + c];
      for (int64_t j = 0; j < n; ++j) acc += p[r * kTile + j] * v[j * ldv + c];
      o[r * d + c] = acc;
    }
}

// Which keys of the tile at j0 row `pos` attends: lo < j < hi.
struct KeyRange {
  int64_t lo, hi;
};

// Turns one row of scores into probabilities under the running max and
// updates (m, l, o). Keys outside `range` (when `masked`) get probability 0;
// `slope` != 0 adds the alibi term slope * (j - pos).
HWY_INLINE void online_softmax_row(float* s, int64_t j0, bool masked, KeyRange range, int64_t pos,
                                   float slope, float& m, float& l, float* o, int64_t d) {
  const DF df;
  const hn::RebindToSigned<DF> di;
  const int64_t L = hn::Lanes(df);
  const VF ninf = hn::Set(df, -INFINITY);
  VF mx = ninf;
  if (masked || slope != 0.f) {
    // Relative to j0, so everything fits int32.
    const auto lo = hn::Set(di, static_cast<int32_t>(std::max<int64_t>(range.lo - j0, -1)));
    const auto hi = hn::Set(di, static_cast<int32_t>(std::min<int64_t>(range.hi - j0, kTile)));
    const VF vslope = hn::Set(df, slope);
    const VF rel = hn::Set(df, static_cast<float>(j0 - pos));  // j - pos at column 0
    for (int64_t c = 0; c < kTile; c += L) {
      const auto jc = hn::Iota(di, static_cast<int32_t>(c));
      VF sv = hn::LoadU(df, s + c);
      if (slope != 0.f) sv = hn::MulAdd(vslope, hn::Add(hn::ConvertTo(df, jc), rel), sv);
      if (masked) {
        const auto ok = hn::And(hn::Gt(jc, lo), hn::Lt(jc, hi));
        sv = hn::IfThenElse(hn::RebindMask(df, ok), sv, ninf);
      }
      hn::StoreU(sv, df, s + c);
      mx = hn::Max(mx, sv);
    }
  } else {
    for (int64_t c = 0; c < kTile; c += L) mx = hn::Max(mx, hn::LoadU(df, s + c));
  }
  const float m_new = std::max(m, hn::GetLane(hn::MaxOfLanes(df, mx)));
  if (m_new == -INFINITY) {  // nothing attended yet: P = 0, state unchanged
    for (int64_t c = 0; c < kTile; c += L) hn::StoreU(hn::Zero(df), df, s + c);
    return;
  }
  const VF vm = hn::Set(df, m_new);
  VF sum = hn::Zero(df);
  for (int64_t c = 0; c < kTile; c += L) {
    const VF p = hn::Exp(df, hn::Sub(hn::LoadU(df, s + c), vm));
    hn::StoreU(p, df, s + c);
    sum = hn::Add(sum, p);
  }
  const float corr = m == -INFINITY ? 0.f : std::exp(m - m_new);
  l = l * corr + hn::GetLane(hn::SumOfLanes(df, sum));
  m = m_new;
  if (corr != 1.f) {
    const VF vc = hn::Set(df, corr);
    int64_t e = 0;
    for (; e + L <= d; e += L) hn::StoreU(hn::Mul(hn::LoadU(df, o + e), vc), df, o + e);
    for (; e < d; ++e) o[e] *= corr;
  }
}

}  // namespace

void prefill_attention_item(const PrefillAttentionArgs& a, const PrefillAttentionItem& it,
                            float* scratch) {
  const DF df;
  const int64_t L = hn::Lanes(df);
  const int64_t d = a.d, group = a.hq / a.hkv;
  const int64_t rows = (it.i1 - it.i0) * group;
  const int64_t rows_pad = (rows + kRows - 1) / kRows * kRows;
  float* qb = scratch;               // [rows_pad, d] scaled queries
  float* ob = qb + rows_pad * d;     // [rows_pad, d] unnormalised outputs
  float* sb = ob + rows_pad * d;     // [kRows, kTile] scores, then probabilities
  float* mrow = sb + kRows * kTile;  // [rows_pad] running max
  float* lrow = mrow + rows_pad;     // [rows_pad] running sum
  const int64_t fb = a.q_dtype == RMA_DTYPE_F32 ? 4 : 2;

  // Row r is query position i0 + r / group, head g * group + r % group; the
  // pad rows repeat the last position with zero queries.
  auto pos_of = [&](int64_t r) { return r < rows ? it.i0 + r / group : it.i1 - 1; };
  const VF vscale = hn::Set(df, a.scale);
  for (int64_t r = 0; r < rows_pad; ++r) {
    float* qr = qb + r * d;
    if (r < rows) {
      const int64_t t = it.start + it.i0 + r / group, h = it.g * group + r % group;
      load_f32(a.q_dtype, static_cast<const uint8_t*>(a.q) + (t * a.hq + h) * d * fb, qr, d);
      int64_t e = 0;
      for (; e + L <= d; e += L) hn::StoreU(hn::Mul(hn::LoadU(df, qr + e), vscale), df, qr + e);
      for (; e < d; ++e) qr[e] *= a.scale;
    } else {
      std::fill(qr, qr + d, 0.f);
    }
    std::fill(ob + r * d, ob + (r + 1) * d, 0.f);
    mrow[r] = -INFINITY;
    lrow[r] = 0.f;
  }

  // Keys any row of the item may attend.
  const int64_t j_lo = a.window > 0 ? std::max<int64_t>(0, it.i0 - a.window + 1) : 0;
  const int64_t j_hi = a.causal ? it.i1 : it.len;
  for (int64_t j0 = j_lo; j0 < j_hi; j0 += kTile) {
    const int64_t n = std::min(kTile, j_hi - j0);
    const float* kt = a.kt + (it.g - a.kt_g0) * d * a.kt_stride + it.start + j0;
    const float* vt = a.v + (it.start + j0) * a.v_ld + (it.g - a.v_g0) * d;
    for (int64_t rb = 0; rb < rows_pad; rb += kRows) {
      const int64_t p_first = pos_of(rb), p_last = pos_of(rb + kRows - 1);
      // Skip the block when the tile is past (causal) or before (window)
      // every row's range; mask only where some row's range cuts the tile.
      if (a.causal && j0 > p_last) continue;
      if (a.window > 0 && j0 + n - 1 <= p_first - a.window) continue;
      const bool masked = n < kTile || (a.causal && j0 + n - 1 > p_first) ||
                          (a.window > 0 && j0 <= p_last - a.window);
      score_tile(qb + rb * d, d, kt, a.kt_stride, sb);
      for (int r = 0; r < kRows; ++r) {
        const int64_t row = rb + r, pos = pos_of(row);
        KeyRange range{a.window > 0 ? pos - a.window : j0 - 1, j0 + n};
        if (a.causal) range.hi = std::min(range.hi, pos + 1);
        const float slope = a.alibi && row < rows ? a.alibi[it.g * group + row % group] : 0.f;
        online_softmax_row(sb + r * kTile, j0, masked, range, pos, slope, mrow[row], lrow[row],
                           ob + row * d, d);
      }
      pv_tile(sb, vt, a.v_ld, n, d, ob + rb * d);
    }
  }

  // o = O / l; a row that attended nothing stays 0.
  for (int64_t r = 0; r < rows; ++r) {
    float* orow = ob + r * d;
    const float inv = lrow[r] > 0.f ? 1.f / lrow[r] : 0.f;
    const VF vinv = hn::Set(df, inv);
    int64_t e = 0;
    for (; e + L <= d; e += L) hn::StoreU(hn::Mul(hn::LoadU(df, orow + e), vinv), df, orow + e);
    for (; e < d; ++e) orow[e] *= inv;
    const int64_t t = it.start + it.i0 + r / group, h = it.g * group + r % group;
    store_f32(a.q_dtype, orow, static_cast<uint8_t*>(a.o) + (t * a.hq + h) * d * fb, d);
  }
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(prefill_attention_item);

int64_t prefill_attention_scratch_floats(int64_t rows, int64_t d) {
  const int64_t rows_pad = (rows + 3) / 4 * 4;
  return 2 * rows_pad * d + 4 * prefill_attention_config::kKeyTile + 2 * rows_pad;
}

void prefill_attention_item(const PrefillAttentionArgs& args, const PrefillAttentionItem& item,
                            float* scratch) {
  HWY_DYNAMIC_DISPATCH(prefill_attention_item)(args, item, scratch);
}
}  // namespace rma::cpu
#endif
