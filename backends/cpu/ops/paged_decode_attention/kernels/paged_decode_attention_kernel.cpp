// Paged decode attention: one query per sequence against its cached keys.
// Decode is bound by reading the cache, so each step takes the K and V rows
// of a run of keys (one block at most) in address order - in place for an
// f32 cache, widened into f32 scratch for a 16-bit one - and every query
// head sharing a kv head computes from them: scores as register-blocked
// dot products whose lane sums are reduced together, an online softmax, and
// P.V with two heads per pass.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/paged_decode_attention/kernels/paged_decode_attention_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include <hwy/contrib/math/math-inl.h>

#include "common/convert.h"
#include "ops/paged_decode_attention/config.h"
#include "ops/paged_decode_attention/kernels/paged_decode_attention_kernel.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
constexpr int64_t kStep = paged_decode_config::kKeyStep;

// Vectors per register block in P.V: 2 rows x kPvVecs accumulators plus
// kPvVecs loads must fit the register file.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
constexpr int kPvVecs = 8;
#elif HWY_TARGET == HWY_AVX2
constexpr int kPvVecs = 4;
#else
constexpr int kPvVecs = 2;
#endif

HWY_INLINE float dot(const float* a, const float* b, int64_t d) {
  const DF df;
  const int64_t L = hn::Lanes(df);
  VF a0 = hn::Zero(df), a1 = a0;
  int64_t e = 0;
  for (; e + 2 * L <= d; e += 2 * L) {
    a0 = hn::MulAdd(hn::LoadU(df, a + e), hn::LoadU(df, b + e), a0);
    a1 = hn::MulAdd(hn::LoadU(df, a + e + L), hn::LoadU(df, b + e + L), a1);
  }
  for (; e + L <= d; e += L) a0 = hn::MulAdd(hn::LoadU(df, a + e), hn::LoadU(df, b + e), a0);
  float acc = hn::GetLane(hn::SumOfLanes(df, hn::Add(a0, a1)));
  for (; e < d; ++e) acc += a[e] * b[e];
  return acc;
}

#if HWY_TARGET != HWY_SCALAR
// Lane i of the result is the sum of the lanes of v[i], for kL = Lanes
// vectors: pairs fold their upper half onto the lower, then adjacent lanes
// pair up, log2(kL) levels in all - about 3 operations per sum instead of
// one full reduction each. Overwrites v.
template <size_t kL>
HWY_INLINE VF sum_each(VF* v) {
  const DF df;
#pragma GCC unroll 16
  for (size_t i = 0; i < kL / 2; ++i)
    v[i] = hn::Add(hn::ConcatLowerLower(df, v[2 * i + 1], v[2 * i]),
                   hn::ConcatUpperUpper(df, v[2 * i + 1], v[2 * i]));
#pragma GCC unroll 4
  for (size_t count = kL / 4; count >= 1; count /= 2)
#pragma GCC unroll 8
    for (size_t i = 0; i < count; ++i)
      v[i] = hn::Add(hn::ConcatEven(df, v[2 * i + 1], v[2 * i]),
                     hn::ConcatOdd(df, v[2 * i + 1], v[2 * i]));
  return v[0];
}

// Scores of kR query rows (q rows d apart) against kL / kR keys from key j
// (k rows ldk apart): one accumulator per (row, key), reduced together.
template <int kR>
HWY_INLINE void score_block(const float* q, const float* k, int64_t ldk, int64_t d, float* s) {
  const DF df;
  constexpr size_t kL = hn::MaxLanes(DF());
  constexpr int kK = static_cast<int>(kL) / kR;
  VF acc[kL];
#pragma GCC unroll 16
  for (size_t i = 0; i < kL; ++i) acc[i] = hn::Zero(df);
  int64_t e = 0;
  for (; e + static_cast<int64_t>(kL) <= d; e += kL) {
    VF qv[kR];
#pragma GCC unroll 4
    for (int r = 0; r < kR; ++r) qv[r] = hn::LoadU(df, q + r * d + e);
#pragma GCC unroll 16
    for (int t = 0; t < kK; ++t) {
      const VF kv = hn::LoadU(df, k + t * ldk + e);
#pragma GCC unroll 4
      for (int r = 0; r < kR; ++r) acc[r * kK + t] = hn::MulAdd(qv[r], kv, acc[r * kK + t]);
    }
  }
  alignas(64) float out[kL];
  hn::Store(sum_each<kL>(acc), df, out);
  for (int r = 0; r < kR; ++r)
    for (int t = 0; t < kK; ++t) {
      float v = out[r * kK + t];
      for (int64_t e2 = e; e2 < d; ++e2) v += q[r * d + e2] * k[t * ldk + e2];
      s[r * kStep + t] = v;
    }
}
#endif  // HWY_TARGET != HWY_SCALAR

// s[r * kStep + j] = q[r] . k[j] for r < rows, j < n (k rows ldk apart).
HWY_INLINE void decode_scores(const float* q, int64_t rows, const float* k, int64_t ldk, int64_t n,
                              int64_t d, float* s) {
#if HWY_TARGET != HWY_SCALAR
  constexpr size_t kL = hn::MaxLanes(DF());
  {
    int64_t r = 0;
    auto rows_block = [&](auto rows_tag) {
      constexpr int kR = decltype(rows_tag)::value;
      constexpr int64_t kK = static_cast<int64_t>(kL) / kR;
      int64_t j = 0;
      for (; j + kK <= n; j += kK)
        score_block<kR>(q + r * d, k + j * ldk, ldk, d, s + r * kStep + j);
      for (; j < n; ++j)
        for (int rr = 0; rr < kR; ++rr)
          s[(r + rr) * kStep + j] = dot(q + (r + rr) * d, k + j * ldk, d);
      r += kR;
    };
    while (rows - r >= 4) rows_block(std::integral_constant<int, 4>());
    if (rows - r >= 2) rows_block(std::integral_constant<int, 2>());
    if (rows - r >= 1) rows_block(std::integral_constant<int, 1>());
  }
#else
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) s[r * kStep + j] = dot(q + r * d, k + j * ldk, d);
#endif
}

// acc[r][:] += sum_{j < n} p[r][j] * v[j][:] for kR rows (p rows kStep
// apart, acc rows d apart, v rows ldv apart).
template <int kR>
HWY_INLINE void pv_rows(const float* p, const float* v, int64_t ldv, int64_t n, int64_t d,
                        float* acc) {
  const DF df;
  const int64_t L = hn::Lanes(df);
  int64_t c = 0;
  for (; c + kPvVecs * L <= d; c += kPvVecs * L) {
    VF a[kR][kPvVecs];
#pragma GCC unroll 2
    for (int r = 0; r < kR; ++r)
#pragma GCC unroll 8
      for (int u = 0; u < kPvVecs; ++u) a[r][u] = hn::LoadU(df, acc + r * d + c + u * L);
    for (int64_t j = 0; j < n; ++j) {
      VF vv[kPvVecs];
#pragma GCC unroll 8
      for (int u = 0; u < kPvVecs; ++u) vv[u] = hn::LoadU(df, v + j * ldv + c + u * L);
#pragma GCC unroll 2
      for (int r = 0; r < kR; ++r) {
        const VF b = hn::Set(df, p[r * kStep + j]);
#pragma GCC unroll 8
        for (int u = 0; u < kPvVecs; ++u) a[r][u] = hn::MulAdd(b, vv[u], a[r][u]);
      }
    }
#pragma GCC unroll 2
    for (int r = 0; r < kR; ++r)
#pragma GCC unroll 8
      for (int u = 0; u < kPvVecs; ++u) hn::StoreU(a[r][u], df, acc + r * d + c + u * L);
  }
  for (; c + L <= d; c += L)
    for (int r = 0; r < kR; ++r) {
      VF a0 = hn::LoadU(df, acc + r * d + c);
      for (int64_t j = 0; j < n; ++j)
        a0 = hn::MulAdd(hn::Set(df, p[r * kStep + j]), hn::LoadU(df, v + j * ldv + c), a0);
      hn::StoreU(a0, df, acc + r * d + c);
    }
  for (; c < d; ++c)
    for (int r = 0; r < kR; ++r) {
      float a0 = acc[r * d + c];
      for (int64_t j = 0; j < n; ++j) a0 += p[r * kStep + j] * v[j * ldv + c];
      acc[r * d + c] = a0;
    }
}

// acc[r] += P[r] V for r < rows, two rows per pass so each V load feeds two.
HWY_INLINE void decode_pv(const float* p, int64_t rows, const float* v, int64_t ldv, int64_t n,
                          int64_t d, float* acc) {
  int64_t r = 0;
  for (; r + 2 <= rows; r += 2) pv_rows<2>(p + r * kStep, v, ldv, n, d, acc + r * d);
  if (r < rows) pv_rows<1>(p + r * kStep, v, ldv, n, d, acc + r * d);
}

// Folds n scores (s, padded with -inf to a whole number of vectors) into
// the running (m, l, acc); s becomes the probabilities.
HWY_INLINE void decode_online_softmax(float* s, int64_t n, float& m, float& l, float* acc,
                                      int64_t d) {
  const DF df;
  const int64_t L = hn::Lanes(df);
  const int64_t np = (n + L - 1) / L * L;
  for (int64_t j = n; j < np; ++j) s[j] = -INFINITY;
  VF mx = hn::Set(df, -INFINITY);
  for (int64_t j = 0; j < np; j += L) mx = hn::Max(mx, hn::LoadU(df, s + j));
  const float m_new = std::max(m, hn::GetLane(hn::MaxOfLanes(df, mx)));
  if (m_new == -INFINITY) {
    for (int64_t j = 0; j < np; ++j) s[j] = 0.f;
    return;
  }
  const VF vm = hn::Set(df, m_new);
  VF sum = hn::Zero(df);
  for (int64_t j = 0; j < np; j += L) {
    const VF p = hn::Exp(df, hn::Sub(hn::LoadU(df, s + j), vm));
    hn::StoreU(p, df, s + j);
    sum = hn::Add(sum, p);
  }
  const float corr = m == -INFINITY ? 0.f : std::exp(m - m_new);
  l = l * corr + hn::GetLane(hn::SumOfLanes(df, sum));
  m = m_new;
  if (corr != 1.f) {
    const VF vc = hn::Set(df, corr);
    int64_t e = 0;
    for (; e + L <= d; e += L) hn::StoreU(hn::Mul(hn::LoadU(df, acc + e), vc), df, acc + e);
    for (; e < d; ++e) acc[e] *= corr;
  }
}

}  // namespace

void paged_decode_partial(const PagedDecodeArgs& a, int64_t b, int64_t g0, int64_t g1, int64_t len,
                          int64_t j_begin, int64_t j_end, float* state, float* scratch) {
  const DF df;
  const int64_t L = hn::Lanes(df);
  const int64_t d = a.d, group = a.hq / a.hkv, heads = g1 - g0;
  const int64_t state_floats = group * (d + 2);
  const int64_t qfb = a.q_dtype == RMA_DTYPE_F32 ? 4 : 2;
  const int64_t cfb = a.cache_dtype == RMA_DTYPE_F32 ? 4 : 2;
  float* qb = scratch;                 // [heads * group, d] scaled queries
  float* sb = qb + heads * group * d;  // [group, kStep] scores / probabilities
  float* kb = sb + group * kStep;      // [kStep, heads, d] K rows as f32
  float* vb = kb + kStep * heads * d;  // [kStep, heads, d] V rows as f32

  // Query heads g0 * group .. g1 * group are consecutive rows of q.
  const VF vscale = hn::Set(df, a.scale);
  for (int64_t r = 0; r < heads * group; ++r) {
    float* qr = qb + r * d;
    load_f32(a.q_dtype, static_cast<const uint8_t*>(a.q) + (b * a.hq + g0 * group + r) * d * qfb,
             qr, d);
    int64_t e = 0;
    for (; e + L <= d; e += L) hn::StoreU(hn::Mul(hn::LoadU(df, qr + e), vscale), df, qr + e);
    for (; e < d; ++e) qr[e] *= a.scale;
  }
  for (int64_t h = 0; h < heads; ++h) {
    float* st = state + h * state_floats;
    std::fill(st, st + group, -INFINITY);
    std::fill(st + group, st + state_floats, 0.f);
  }

  const int64_t row_elems = a.hkv * d;  // one cache row: a token of all kv heads
  const int64_t span = heads * d;       // the part of a row this call reads
  for (int64_t j = j_begin, n; j < j_end; j += n) {
    // Keys [j, j + n) lie in one block. A 16-bit cache has their rows
    // (heads g0..g1 of each token, contiguous) widened to f32 scratch in
    // address order; every head then computes from the copy.
    const int64_t off = j % a.block_size;
    n = std::min({a.block_size - off, j_end - j, kStep});
    const int64_t block = a.block_table[b * a.max_blocks + j / a.block_size];
    const int64_t first = ((block * a.block_size + off) * row_elems + g0 * d) * cfb;
    const auto* k_src = static_cast<const uint8_t*>(a.k_cache) + first;
    const auto* v_src = static_cast<const uint8_t*>(a.v_cache) + first;
    // An f32 cache is read in place (rows row_elems apart): copying it to
    // scratch would write and re-read every byte decode streams.
    const bool in_place = a.cache_dtype == RMA_DTYPE_F32;
    const float* k_rows = in_place ? reinterpret_cast<const float*>(k_src) : kb;
    const float* v_rows = in_place ? reinterpret_cast<const float*>(v_src) : vb;
    const int64_t ld = in_place ? row_elems : span;  // from one key's row to the next
    if (!in_place && span == row_elems) {
      load_f32(a.cache_dtype, k_src, kb, n * span);
      load_f32(a.cache_dtype, v_src, vb, n * span);
    } else if (!in_place) {
      for (int64_t t = 0; t < n; ++t) {
        load_f32(a.cache_dtype, k_src + t * row_elems * cfb, kb + t * span, span);
        load_f32(a.cache_dtype, v_src + t * row_elems * cfb, vb + t * span, span);
      }
    }
    for (int64_t h = 0; h < heads; ++h) {
      const float* kp = k_rows + h * d;
      const float* vp = v_rows + h * d;
      float* st = state + h * state_floats;
      float *m = st, *l = st + group, *acc = st + 2 * group;
      decode_scores(qb + h * group * d, group, kp, ld, n, d, sb);
      for (int64_t r = 0; r < group; ++r) {
        float* s = sb + r * kStep;
        if (a.alibi) {
          const float slope = a.alibi[(g0 + h) * group + r];
          for (int64_t t = 0; t < n; ++t) s[t] += slope * static_cast<float>(j + t - (len - 1));
        }
        decode_online_softmax(s, n, m[r], l[r], acc + r * d, d);
      }
      decode_pv(sb, group, vp, ld, n, d, acc);
    }
  }
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(paged_decode_partial);

int64_t paged_decode_scratch_floats(int64_t heads, int64_t group, int64_t d) {
  constexpr int64_t kStep = paged_decode_config::kKeyStep;
  return heads * group * d + group * kStep + 2 * kStep * heads * d;
}

void paged_decode_partial(const PagedDecodeArgs& args, int64_t b, int64_t g0, int64_t g1,
                          int64_t len, int64_t j_begin, int64_t j_end, float* state,
                          float* scratch) {
  HWY_DYNAMIC_DISPATCH(paged_decode_partial)(args, b, g0, g1, len, j_begin, j_end, state, scratch);
}
}  // namespace rma::cpu
#endif
