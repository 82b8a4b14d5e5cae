// quant_linear kernels per SIMD target (see qlinear.h).
//
// GEMV. Each row of x is quantized once per call to int8 blocks of 32 with
// an f32 scale (amax / 127), plus the integer sums of each block (and of
// each half block, for q6_k). A weight row then contributes, per block,
//   d_w * d_x * sum_i (w_i * q_i)        (+ the q4_1 / q4_k min terms),
// where the integer dot runs on unsigned x signed bytes:
//   q8_0  (w ^ 0x80) = w + 128 as u8; the 128 * sum(q) excess is removed by
//         starting the accumulator at -16 * sum(q) in each of a block's 8
//         lanes;
//   q4_0  nibbles n = w + 8 as u8, start at -sum(q) per lane;
//   q4_1  nibbles n, the min term m * d_x * sum(q) added in f32;
//   q4_k  nibbles per sub-block of 32 with 6-bit scales and mins;
//   q5_k  as q4_k, the fifth bit (from qh) or-ed in: values 0..31;
//   q6_k  6-bit values u = w + 32, start at -8 * sum16(q) per lane.
// On AVX-512 VNNI one vpdpbusd covers two blocks of 32 (one zmm), and the
// per-block f32 scaling stays lane-wise (no horizontal sums) until the end
// of the row. Weight rows are read one after another, one stream per
// thread, which is what keeps the hardware prefetcher at full DRAM speed.
// With one row of x (decode), q8_0 / q4_0 / q4_1 take four adjacent weight
// rows per pass so that each activation load serves four rows.
// Other targets dequantize each weight row to f32 and dot it with x.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/quant_linear/kernels/qlinear_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "common/gemm/gemm_util.h"
#include "ops/quant_linear/config.h"
#include "ops/quant_linear/kernels/qlinear.h"
#include "rma/formats.h"
#include "rma/half.h"

#if defined(__GNUC__)
#define RMA_UNROLL _Pragma("GCC unroll 16")
#else
#define RMA_UNROLL
#endif

// ---------------------------------------------------------------- scalar
// Exact dequantization, operation for operation as rma::dequantize_row
// (include/rma/formats.h layouts), compiled once.
#ifndef RMA_QLINEAR_SCALAR_ONCE
#define RMA_QLINEAR_SCALAR_ONCE
namespace rma::cpu::qdetail {

inline float half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

inline void k4_scale_min(int j, const uint8_t* s, int* sc, int* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// nb blocks starting at src -> f32 at dst.
inline void dequant_blocks_scalar(int32_t dtype, const uint8_t* src, int64_t nb, float* y) {
  switch (dtype) {
    case RMA_DTYPE_Q8_0:
      for (int64_t b = 0; b < nb; ++b, src += sizeof(rma_block_q8_0), y += 32) {
        const float d = half(src);
        const auto* qs = reinterpret_cast<const int8_t*>(src + 2);
        for (int i = 0; i < 32; ++i) y[i] = d * static_cast<float>(qs[i]);
      }
      return;
    case RMA_DTYPE_Q4_0:
      for (int64_t b = 0; b < nb; ++b, src += sizeof(rma_block_q4_0), y += 32) {
        const float d = half(src);
        const uint8_t* qs = src + 2;
        for (int i = 0; i < 16; ++i) {
          y[i] = d * static_cast<float>((qs[i] & 0x0F) - 8);
          y[i + 16] = d * static_cast<float>((qs[i] >> 4) - 8);
        }
      }
      return;
    case RMA_DTYPE_Q4_1:
      for (int64_t b = 0; b < nb; ++b, src += sizeof(rma_block_q4_1), y += 32) {
        const float d = half(src), m = half(src + 2);
        const uint8_t* qs = src + 4;
        for (int i = 0; i < 16; ++i) {
          y[i] = d * static_cast<float>(qs[i] & 0x0F) + m;
          y[i + 16] = d * static_cast<float>(qs[i] >> 4) + m;
        }
      }
      return;
    case RMA_DTYPE_Q4_K:
      for (int64_t b = 0; b < nb; ++b, src += sizeof(rma_block_q4_K), y += RMA_QK_K) {
        const float d = half(src), dmin = half(src + 2);
        const uint8_t* scales = src + 4;
        for (int k = 0; k < 4; ++k) {
          int sc0, mn0, sc1, mn1;
          k4_scale_min(2 * k, scales, &sc0, &mn0);
          k4_scale_min(2 * k + 1, scales, &sc1, &mn1);
          const float d0 = d * static_cast<float>(sc0), m0 = dmin * static_cast<float>(mn0);
          const float d1 = d * static_cast<float>(sc1), m1 = dmin * static_cast<float>(mn1);
          const uint8_t* qs = src + 16 + 32 * k;
          for (int i = 0; i < 32; ++i) {
            y[64 * k + i] = d0 * static_cast<float>(qs[i] & 0x0F) - m0;
            y[64 * k + 32 + i] = d1 * static_cast<float>(qs[i] >> 4) - m1;
          }
        }
      }
      return;
    case RMA_DTYPE_Q5_K:
      for (int64_t b = 0; b < nb; ++b, src += sizeof(rma_block_q5_K), y += RMA_QK_K) {
        const float d = half(src), dmin = half(src + 2);
        const uint8_t* scales = src + 4;
        const uint8_t* qh = src + 16;
        for (int k = 0; k < 4; ++k) {
          int sc0, mn0, sc1, mn1;
          k4_scale_min(2 * k, scales, &sc0, &mn0);
          k4_scale_min(2 * k + 1, scales, &sc1, &mn1);
          const float d0 = d * static_cast<float>(sc0), m0 = dmin * static_cast<float>(mn0);
          const float d1 = d * static_cast<float>(sc1), m1 = dmin * static_cast<float>(mn1);
          const uint8_t* qs = src + 48 + 32 * k;
          for (int i = 0; i < 32; ++i) {
            const int lo = (qs[i] & 0x0F) | (((qh[i] >> (2 * k)) & 1) << 4);
            const int hi = (qs[i] >> 4) | (((qh[i] >> (2 * k + 1)) & 1) << 4);
            y[64 * k + i] = d0 * static_cast<float>(lo) - m0;
            y[64 * k + 32 + i] = d1 * static_cast<float>(hi) - m1;
          }
        }
      }
      return;
    case RMA_DTYPE_Q6_K:
      for (int64_t b = 0; b < nb; ++b, src += sizeof(rma_block_q6_K), y += RMA_QK_K) {
        const float d = half(src + 208);
        for (int h = 0; h < 2; ++h) {
          const uint8_t* ql = src + 64 * h;
          const uint8_t* qh = src + 128 + 32 * h;
          const auto* sc = reinterpret_cast<const int8_t*>(src + 192) + 8 * h;
          float* out = y + 128 * h;
          for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            out[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
            out[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
            out[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
            out[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
          }
        }
      }
      return;
    default:
      return;
  }
}

inline int64_t block_elems_of(int32_t dtype) {
  return dtype == RMA_DTYPE_Q4_K || dtype == RMA_DTYPE_Q5_K || dtype == RMA_DTYPE_Q6_K ? RMA_QK_K
                                                                                       : 32;
}
inline int64_t block_bytes_of(int32_t dtype) {
  switch (dtype) {
    case RMA_DTYPE_Q8_0:
      return sizeof(rma_block_q8_0);
    case RMA_DTYPE_Q4_0:
      return sizeof(rma_block_q4_0);
    case RMA_DTYPE_Q4_1:
      return sizeof(rma_block_q4_1);
    case RMA_DTYPE_Q4_K:
      return sizeof(rma_block_q4_K);
    case RMA_DTYPE_Q5_K:
      return sizeof(rma_block_q5_K);
    default:
      return sizeof(rma_block_q6_K);
  }
}

}  // namespace rma::cpu::qdetail
#endif  // RMA_QLINEAR_SCALAR_ONCE

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace qcfg = quant_linear_config;
using namespace qdetail;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
constexpr int kL = HWY_LANES(float);

// ------------------------------------------------------------ conversions
void to_f32(int32_t dtype, const void* src, float* dst, int64_t n) {
  if (dtype == RMA_DTYPE_F32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  const auto* h = static_cast<const uint16_t*>(src);
  const DF d;
  int64_t i = 0;
  if (dtype == RMA_DTYPE_F16) {
    const hn::Rebind<hwy::float16_t, DF> dh;
    for (; i + kL <= n; i += kL)
      hn::StoreU(hn::PromoteTo(d, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(h) + i)), d,
                 dst + i);
    for (; i < n; ++i) dst[i] = f16_to_f32(h[i]);
  } else {
    const hn::Rebind<uint16_t, DF> du16;
    const hn::RebindToUnsigned<DF> du32;
    for (; i + kL <= n; i += kL)
      hn::StoreU(hn::BitCast(d, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, h + i)))), d,
                 dst + i);
    for (; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
  }
}

// ------------------------------------------------------------ activations
// One row of x as q8 blocks of 32, padded with zero blocks to nb_pad.
struct QRow {
  int8_t* q;     // nb_pad * 32
  float* d;      // nb_pad block scales
  float* ds;     // nb_pad: d * sum(q) of each block (min terms)
  int32_t* s;    // nb_pad sums of q per block
  int32_t* s16;  // 2 * nb_pad sums of q per half block
};

void quantize_row_q8(const float* x, int64_t nb, int64_t nb_pad, const QRow& r) {
  const DF df;
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<int8_t, DF> d8;
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + 32 * b;
    VF m = hn::Zero(df);
    for (int j = 0; j < 32; j += kL) m = hn::Max(m, hn::Abs(hn::LoadU(df, xb + j)));
    const float amax = hn::GetLane(hn::MaxOfLanes(df, m));
    const float d = amax / 127.f;
    const VF id = hn::Set(df, d != 0.f ? 1.f / d : 0.f);
    r.d[b] = d;
    int32_t half_sum[2] = {0, 0};
    for (int j = 0; j < 32; j += kL) {
      const auto qi = hn::NearestInt(hn::Mul(hn::LoadU(df, xb + j), id));
      hn::StoreU(hn::DemoteTo(d8, qi), d8, r.q + 32 * b + j);
      half_sum[j >= 16] += hn::GetLane(hn::SumOfLanes(di, qi));
    }
    r.s16[2 * b] = half_sum[0];
    r.s16[2 * b + 1] = half_sum[1];
    r.s[b] = half_sum[0] + half_sum[1];
    r.ds[b] = d * static_cast<float>(r.s[b]);
  }
  for (int64_t b = nb; b < nb_pad; ++b) {
    std::memset(r.q + 32 * b, 0, 32);
    r.d[b] = r.ds[b] = 0.f;
    r.s[b] = 0;
    r.s16[2 * b] = r.s16[2 * b + 1] = 0;
  }
}

#if HWY_TARGET == HWY_AVX3_DL
// ------------------------------------------------------------ VNNI path
#define RMA_VNNI __attribute__((target("avx512vnni")))
#define RMA_VNNI_INLINE inline __attribute__((always_inline, target("avx512vnni")))
constexpr bool kHaveVnni = true;
// Shift counts for the 16-bit variable shifts, replicated in a 64-bit lane.
constexpr int64_t k2 = 0x0002000200020002;
constexpr int64_t k4 = 0x0004000400040004;

// A row of x as the VNNI kernels read it. A "unit" is what one weight step
// covers: a pair of blocks (64 elements) for q8_0, q4_k, q6_k; a quad of
// blocks (128 elements) for q4_0 and q4_1.
struct XRow {
  // q8_0, q4_k, q6_k: the quantized x in order. q4_0, q4_1: per quad the
  // first halves of its 4 blocks (64 bytes), then their second halves, to
  // match the low and high nibbles of 4 weight blocks side by side.
  const int8_t* q;
  const int32_t* icorr;  // 16 ints per unit: the dot's starting value (q8_0, q4_0, q6_k)
  const float* spread;   // 16 floats per unit: d_x of the block each lane belongs to (q8_0, q4_*)
  const float* fmin;     // q4_1: 16 floats per quad, d_x * sum(q) / 4
  const float* d;        // block scales (q4_k, q6_k), zero past the row
  const float* ds;       // d * sum(q) per block (q4_k)
};

bool quad_layout(int32_t wtype) {
  return wtype == RMA_DTYPE_Q4_0 || wtype == RMA_DTYPE_Q4_1;
}

// Fills icorr, spread, fmin and (for the quad layout) the re-ordered q.
void build_xrow(int32_t wtype, const QRow& r, int64_t nb_pad, int8_t* q4, int32_t* icorr,
                float* spread, float* fmin) {
  if (quad_layout(wtype)) {
    for (int64_t u = 0; u < nb_pad / 4; ++u) {
      for (int i = 0; i < 4; ++i) {
        std::memcpy(q4 + 128 * u + 16 * i, r.q + 32 * (4 * u + i), 16);
        std::memcpy(q4 + 128 * u + 64 + 16 * i, r.q + 32 * (4 * u + i) + 16, 16);
      }
      for (int lane = 0; lane < 16; ++lane) {
        const int64_t b = 4 * u + lane / 4;
        icorr[16 * u + lane] = -2 * r.s[b];  // (n - 8) * q: 4 lanes share 8 * s
        spread[16 * u + lane] = r.d[b];
        fmin[16 * u + lane] = r.ds[b] * 0.25f;
      }
    }
    return;
  }
  for (int64_t p = 0; p < nb_pad / 2; ++p)
    for (int lane = 0; lane < 16; ++lane) {
      const int64_t b = 2 * p + lane / 8;
      int32_t v = 0;
      if (wtype == RMA_DTYPE_Q8_0) v = -16 * r.s[b];  // (w + 128) * q: 8 lanes share 128 * s
      if (wtype == RMA_DTYPE_Q6_K) v = -8 * r.s16[2 * b + (lane % 8) / 4];  // 4 lanes per 16
      icorr[16 * p + lane] = v;
      spread[16 * p + lane] = r.d[b];
    }
}

RMA_VNNI_INLINE float hsum512(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));
  return _mm512_cvtss_f32(v);
}

// Index tables, built once.
struct Tables {
  alignas(64) uint8_t qs4_0[64], qs4_1[64];  // vpermt2b: the qs of 4 blocks side by side
  alignas(64) uint16_t d4_0[32], d4_1[32], m4_1[32], d8_0[32];  // vpermw: f16 scales spread
  alignas(64) int32_t pair[4][16];                              // vpermps: lanes [2j x 8, 2j+1 x 8]
  alignas(64) int32_t quad[4][16];  // vpermps: lanes [4g x 4, .., 4g+3 x 4]
  alignas(64) int32_t halves[16];   // vpermps: lane i <- i / 2
  Tables() {
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 16; ++j) {
        qs4_0[16 * i + j] = static_cast<uint8_t>(18 * i + 2 + j);
        qs4_1[16 * i + j] = static_cast<uint8_t>(20 * i + 4 + j);
      }
    for (int l = 0; l < 32; ++l) {
      d4_0[l] = static_cast<uint16_t>(9 * (l / 4));   // 18-byte blocks: word 9i
      d4_1[l] = static_cast<uint16_t>(10 * (l / 4));  // 20-byte blocks: word 10i
      m4_1[l] = static_cast<uint16_t>(10 * (l / 4) + 1);
      d8_0[l] = static_cast<uint16_t>(l < 8 ? 0 : 17);  // 34-byte blocks: words 0, 17
    }
    for (int l = 0; l < 16; ++l) {
      for (int j = 0; j < 4; ++j) pair[j][l] = 2 * j + l / 8;
      for (int g = 0; g < 4; ++g) quad[g][l] = 4 * g + l / 4;
      halves[l] = l / 2;
    }
  }
};
const Tables kTab;

RMA_VNNI_INLINE __m512i ld(const void* p) {
  return _mm512_load_si512(p);
}

// Words idx (f16 scales) of v -> 16 floats.
RMA_VNNI_INLINE __m512 scales_of(__m512i v, const uint16_t* idx) {
  return _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(ld(idx), v)));
}

// Each kernel below handles one weight row against TM rows of x, adding
// into acc[t] lane-wise (no horizontal sums). Rows are read one after the
// other: one ascending stream per thread, which the hardware prefetcher
// follows at full speed (4 interleaved rows measured at half the DRAM rate).
// kLast: loads that would run past the row's last block are masked (only
// for the rows that end the buffer: masked loads are slow, and elsewhere
// the bytes past a row belong to the next row and meet zero weights).

// Software prefetch qcfg::kPrefetchBytes ahead of the read position: the
// kernels do enough work per byte that the hardware prefetcher alone lets
// DRAM idle between misses.
RMA_VNNI_INLINE void ahead(const uint8_t* p) {
  _mm_prefetch(reinterpret_cast<const char*>(p) + qcfg::kPrefetchBytes, _MM_HINT_T0);
}

template <int TM, bool kCorr>
RMA_VNNI_INLINE void unit_dot(__m512i u, __m512 sw, const XRow* x, int64_t p, __m512* acc) {
  RMA_UNROLL
  for (int t = 0; t < TM; ++t) {
    const __m512i start = kCorr ? _mm512_loadu_si512(x[t].icorr + 16 * p) : _mm512_setzero_si512();
    const __m512i dot = _mm512_dpbusd_epi32(start, u, _mm512_loadu_si512(x[t].q + 64 * p));
    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
                             _mm512_mul_ps(sw, _mm512_loadu_ps(x[t].spread + 16 * p)), acc[t]);
  }
}

template <int TM, bool kLast>
RMA_VNNI_INLINE void row_q8_0(const uint8_t* row, int64_t nb, const XRow* x, __m512* acc) {
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < nb; b += 2) {
    const uint8_t* blk = row + 34 * b;
    ahead(blk);
    const bool two = b + 1 < nb;
    const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
    const __m256i q1 = two ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 36))
                           : _mm256_setzero_si256();
    const __m512i u = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1), bias);
    // A whole pair spans 68 bytes, so 64 bytes from blk stay inside it.
    const __m512i head =
        two || !kLast ? _mm512_loadu_si512(blk) : _mm512_maskz_loadu_epi8((1ull << 34) - 1, blk);
    __m512 sw = scales_of(head, kTab.d8_0);
    if (!two) sw = _mm512_maskz_mov_ps(0x00FF, sw);
    unit_dot<TM, true>(u, sw, x, b / 2, acc);
  }
}

// q4_0 / q4_1: 4 blocks per step. Two loads cover them (72 or 80 bytes);
// vpermt2b puts their 64 quant bytes side by side, and the low and high
// nibbles meet x's first and second block halves in two vpdpbusd.
template <int TM, bool kMin, bool kLast>
RMA_VNNI_INLINE void row_q4(const uint8_t* row, int64_t nb, const XRow* x, __m512* acc) {
  constexpr int kBytes = kMin ? 20 : 18;
  const __m512i qidx = ld(kMin ? kTab.qs4_1 : kTab.qs4_0);
  const uint16_t* didx = kMin ? kTab.d4_1 : kTab.d4_0;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; b += 4) {
    const uint8_t* blk = row + kBytes * b;
    ahead(blk);
    const int bytes = static_cast<int>(std::min<int64_t>(4, nb - b)) * kBytes;
    __m512i va, vb;
    if (!kLast || bytes == 4 * kBytes) {
      va = _mm512_loadu_si512(blk);
      vb = _mm512_loadu_si512(blk + 64);
    } else {
      va = _mm512_maskz_loadu_epi8(bytes >= 64 ? ~0ull : (1ull << bytes) - 1, blk);
      vb = _mm512_maskz_loadu_epi8(bytes > 64 ? (1ull << (bytes - 64)) - 1 : 0, blk + 64);
    }
    const __m512i qs = _mm512_permutex2var_epi8(va, qidx, vb);
    const __m512i lo = _mm512_and_si512(qs, low4);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(qs, 4), low4);
    __m512 sw = scales_of(va, didx);
    __m512 mw = _mm512_setzero_ps();
    if constexpr (kMin) mw = scales_of(va, kTab.m4_1);
    if (bytes < 4 * kBytes) {
      // Lanes of blocks past the row: whatever was read there weighs 0.
      const __mmask16 keep = static_cast<__mmask16>((1u << (4 * (bytes / kBytes))) - 1);
      sw = _mm512_maskz_mov_ps(keep, sw);
      mw = _mm512_maskz_mov_ps(keep, mw);
    }
    const int64_t p = b / 4;
    RMA_UNROLL
    for (int t = 0; t < TM; ++t) {
      const __m512i start = kMin ? _mm512_setzero_si512() : _mm512_loadu_si512(x[t].icorr + 16 * p);
      const __m512i dot =
          _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(start, lo, _mm512_loadu_si512(x[t].q + 128 * p)),
                              hi, _mm512_loadu_si512(x[t].q + 128 * p + 64));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
                               _mm512_mul_ps(sw, _mm512_loadu_ps(x[t].spread + 16 * p)), acc[t]);
      if constexpr (kMin) acc[t] = _mm512_fmadd_ps(mw, _mm512_loadu_ps(x[t].fmin + 16 * p), acc[t]);
    }
  }
}

// The 8 (scale, min) pairs of a q4_k super-block, 6 bits each, unpacked
// with byte shuffles into lanes 0..7: d * scale and -dmin * min.
RMA_VNNI_INLINE void q4_k_scales(const uint8_t* blk, __m512* sc, __m512* mn) {
  const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 4));  // 12 used
  // j < 4: sc = s[j] & 63, mn = s[j + 4] & 63
  // j >= 4: sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4, mn = (s[j + 4] >> 4) | (s[j] >> 6) << 4
  const __m128i lo_sc =
      _mm_shuffle_epi8(s, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, -1, -1, -1, -1, -1, -1, -1, -1));
  const __m128i lo_mn =
      _mm_shuffle_epi8(s, _mm_setr_epi8(4, 5, 6, 7, 8, 9, 10, 11, -1, -1, -1, -1, -1, -1, -1, -1));
  const __m128i hi_sc = _mm_shuffle_epi8(
      s, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, -1, -1, -1, -1));
  const __m128i hi_mn = _mm_shuffle_epi8(
      s, _mm_setr_epi8(-1, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1, -1, -1, -1, -1, -1));
  const __m128i keep = _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 0, 0, 0, 0, 0, 0, 0, 0);
  // The mins of j >= 4 sit in the high nibble of their byte.
  const __m128i mn_low =
      _mm_blend_epi16(_mm_and_si128(lo_mn, _mm_set1_epi8(63)),
                      _mm_and_si128(_mm_srli_epi16(lo_mn, 4), _mm_set1_epi8(15)), 0x0C);
  const __m128i top = _mm_set1_epi8(0x30);
  const __m128i sc8 =
      _mm_or_si128(_mm_and_si128(lo_sc, keep), _mm_and_si128(_mm_srli_epi16(hi_sc, 2), top));
  const __m128i mn8 = _mm_or_si128(mn_low, _mm_and_si128(_mm_srli_epi16(hi_mn, 2), top));
  *sc = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(sc8)), _mm512_set1_ps(half(blk)));
  *mn =
      _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(mn8)), _mm512_set1_ps(-half(blk + 2)));
}

// k-quants: one vpdpbusd per group of 64 and row of x, scaled lane-wise by
// a spread (vpermps) of per-sub-block products d_w * d_x held in sc.
template <int TM, bool kCorr>
RMA_VNNI_INLINE void group_dot(__m512i u, __m512i spread, const __m512* sc, const XRow* x,
                               int64_t p, __m512* acc) {
  RMA_UNROLL
  for (int t = 0; t < TM; ++t) {
    const __m512i start = kCorr ? _mm512_loadu_si512(x[t].icorr + 16 * p) : _mm512_setzero_si512();
    const __m512i dot = _mm512_dpbusd_epi32(start, u, _mm512_loadu_si512(x[t].q + 64 * p));
    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_permutexvar_ps(spread, sc[t]), acc[t]);
  }
}

template <int TM>
RMA_VNNI_INLINE void row_q4_k(const uint8_t* row, int64_t nb, const XRow* x, __m512* acc) {
  const __m512i shift = _mm512_set_epi64(k4, k4, k4, k4, 0, 0, 0, 0);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  for (int64_t sb = 0; sb < nb / 8; ++sb) {
    const uint8_t* blk = row + sizeof(rma_block_q4_K) * sb;
    ahead(blk);
    ahead(blk + 64);
    ahead(blk + 128);
    __m512 scw, mnw, sc[TM];
    q4_k_scales(blk, &scw, &mnw);
    RMA_UNROLL
    for (int t = 0; t < TM; ++t) {
      sc[t] = _mm512_mul_ps(scw, _mm512_zextps256_ps512(_mm256_loadu_ps(x[t].d + 8 * sb)));
      // The mins: sum over the 8 sub-blocks of -dmin * min * d_x * sum(q).
      acc[t] =
          _mm512_fmadd_ps(mnw, _mm512_zextps256_ps512(_mm256_loadu_ps(x[t].ds + 8 * sb)), acc[t]);
    }
    RMA_UNROLL
    for (int c = 0; c < 4; ++c) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * c));
      const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(q), q, 1);
      group_dot<TM, false>(_mm512_and_si512(_mm512_srlv_epi16(z, shift), low4), ld(kTab.pair[c]),
                           sc, x, 4 * sb + c, acc);
    }
  }
}

// q5_k: q4_k's header and nibbles (qs at +48), plus the fifth bits: per
// group c of 64, bit 2c (first 32 values) or 2c + 1 (second 32) of each qh
// byte. A 32-bit rotate left by 4 - bit (mod 32) moves that bit of every
// byte to bit 4 of the same byte, whichever way it has to go.
template <int TM>
RMA_VNNI_INLINE void row_q5_k(const uint8_t* row, int64_t nb, const XRow* x, __m512* acc) {
  const __m512i shift = _mm512_set_epi64(k4, k4, k4, k4, 0, 0, 0, 0);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i bit4 = _mm512_set1_epi8(0x10);
  for (int64_t sb = 0; sb < nb / 8; ++sb) {
    const uint8_t* blk = row + sizeof(rma_block_q5_K) * sb;
    ahead(blk);
    ahead(blk + 64);
    ahead(blk + 128);
    __m512 scw, mnw, sc[TM];
    q4_k_scales(blk, &scw, &mnw);
    RMA_UNROLL
    for (int t = 0; t < TM; ++t) {
      sc[t] = _mm512_mul_ps(scw, _mm512_zextps256_ps512(_mm256_loadu_ps(x[t].d + 8 * sb)));
      acc[t] =
          _mm512_fmadd_ps(mnw, _mm512_zextps256_ps512(_mm256_loadu_ps(x[t].ds + 8 * sb)), acc[t]);
    }
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
    const __m512i hh = _mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1);
    RMA_UNROLL
    for (int c = 0; c < 4; ++c) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 48 + 32 * c));
      const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(q), q, 1);
      const __m512i rot = _mm512_inserti64x4(_mm512_set1_epi32((4 - 2 * c) & 31),
                                             _mm256_set1_epi32((3 - 2 * c) & 31), 1);
      const __m512i u = _mm512_ternarylogic_epi32(
          _mm512_srlv_epi16(z, shift), low4, _mm512_and_si512(_mm512_rolv_epi32(hh, rot), bit4),
          0xEA);  // (a & b) | c
      group_dot<TM, false>(u, ld(kTab.pair[c]), sc, x, 4 * sb + c, acc);
    }
  }
}

template <int TM>
RMA_VNNI_INLINE void row_q6_k(const uint8_t* row, int64_t nb, const XRow* x, __m512* acc) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i bits45 = _mm512_set1_epi8(0x30);
  const __m512i shl01 =
      _mm512_set_epi64(k2, k2, k2, k2, k4, k4, k4, k4);                // r = 0: << 4, r = 1: << 2
  const __m512i shr23 = _mm512_set_epi64(k2, k2, k2, k2, 0, 0, 0, 0);  // r = 2: as is, r = 3: >> 2
  const __m512i halves = ld(kTab.halves);
  for (int64_t sb = 0; sb < nb / 8; ++sb) {
    const uint8_t* blk = row + sizeof(rma_block_q6_K) * sb;
    ahead(blk);
    ahead(blk + 64);
    ahead(blk + 128);
    ahead(blk + 192);
    // Per sub-block of 16: d * scale * (d_x of its block of 32).
    const __m512 scw = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(
                                         reinterpret_cast<const __m128i*>(blk + 192)))),
                                     _mm512_set1_ps(half(blk + 208)));
    __m512 sc[TM];
    RMA_UNROLL
    for (int t = 0; t < TM; ++t)
      sc[t] = _mm512_mul_ps(
          scw,
          _mm512_permutexvar_ps(halves, _mm512_zextps256_ps512(_mm256_loadu_ps(x[t].d + 8 * sb))));
    RMA_UNROLL
    for (int h = 0; h < 2; ++h) {
      const __m512i l = _mm512_loadu_si512(blk + 64 * h);
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
      const __m512i hh = _mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1);
      const __m512i u0 = _mm512_ternarylogic_epi32(
          l, low4, _mm512_and_si512(_mm512_sllv_epi16(hh, shl01), bits45), 0xEA);
      const __m512i u1 =
          _mm512_ternarylogic_epi32(_mm512_srli_epi16(l, 4), low4,
                                    _mm512_and_si512(_mm512_srlv_epi16(hh, shr23), bits45), 0xEA);
      group_dot<TM, true>(u0, ld(kTab.quad[2 * h]), sc, x, 4 * sb + 2 * h, acc);
      group_dot<TM, true>(u1, ld(kTab.quad[2 * h + 1]), sc, x, 4 * sb + 2 * h + 1, acc);
    }
  }
}

template <int TM, bool kLast>
RMA_VNNI_INLINE void row_any(int32_t wtype, const uint8_t* row, int64_t nb, const XRow* x,
                             __m512* acc) {
  RMA_UNROLL
  for (int t = 0; t < TM; ++t) acc[t] = _mm512_setzero_ps();
  switch (wtype) {
    case RMA_DTYPE_Q8_0:
      return row_q8_0<TM, kLast>(row, nb, x, acc);
    case RMA_DTYPE_Q4_0:
      return row_q4<TM, false, kLast>(row, nb, x, acc);
    case RMA_DTYPE_Q4_1:
      return row_q4<TM, true, kLast>(row, nb, x, acc);
    case RMA_DTYPE_Q4_K:
      return row_q4_k<TM>(row, nb, x, acc);
    case RMA_DTYPE_Q5_K:
      return row_q5_k<TM>(row, nb, x, acc);
    default:
      return row_q6_k<TM>(row, nb, x, acc);
  }
}

// One row of x (T = 1, decode): four adjacent weight rows at once, so that
// each load of x (quants, start values, scales) serves four rows. With one
// row per pass the loads, not the arithmetic, bound the loop (7 per unit).
// The four rows are contiguous, so the reads stay one ascending stream.
// Rows here never end the buffer (no masking).
RMA_VNNI_INLINE void rows4_q8_0(const uint8_t* row, int64_t row_bytes, int64_t nb, const XRow& x,
                                __m512* acc) {
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m512i didx = ld(kTab.d8_0);
  for (int64_t b = 0; b < nb; b += 2) {
    const int64_t p = b / 2;
    const __m512i start = _mm512_loadu_si512(x.icorr + 16 * p);
    const __m512i xq = _mm512_loadu_si512(x.q + 64 * p);
    const __m512 sx = _mm512_loadu_ps(x.spread + 16 * p);
    // An odd last block: its pair's second half reads the next row's bytes
    // and weighs 0 (its x blocks are zero padding, its scale lanes masked).
    const __mmask16 keep = b + 1 < nb ? 0xFFFF : 0x00FF;
    RMA_UNROLL
    for (int r = 0; r < 4; ++r) {
      const uint8_t* blk = row + r * row_bytes + 34 * b;
      ahead(blk);
      const __m512i head = _mm512_loadu_si512(blk);
      const __m512i u = _mm512_xor_si512(
          _mm512_inserti64x4(
              _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2))),
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 36)), 1),
          bias);
      const __m512 sw = _mm512_maskz_mul_ps(
          keep, _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(didx, head))), sx);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, u, xq)), sw, acc[r]);
    }
  }
}

template <bool kMin>
RMA_VNNI_INLINE void rows4_q4(const uint8_t* row, int64_t row_bytes, int64_t nb, const XRow& x,
                              __m512* acc) {
  constexpr int kBytes = kMin ? 20 : 18;
  const __m512i qidx = ld(kMin ? kTab.qs4_1 : kTab.qs4_0);
  const __m512i didx = ld(kMin ? kTab.d4_1 : kTab.d4_0);
  const __m512i midx = ld(kTab.m4_1);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; b += 4) {
    const int64_t p = b / 4;
    const __m512i start = kMin ? _mm512_setzero_si512() : _mm512_loadu_si512(x.icorr + 16 * p);
    const __m512i x0 = _mm512_loadu_si512(x.q + 128 * p);
    const __m512i x1 = _mm512_loadu_si512(x.q + 128 * p + 64);
    const __m512 sx = _mm512_loadu_ps(x.spread + 16 * p);
    __m512 fmin = _mm512_setzero_ps();
    if constexpr (kMin) fmin = _mm512_loadu_ps(x.fmin + 16 * p);
    // Blocks past the row (read from the next row) weigh 0.
    const int left = static_cast<int>(std::min<int64_t>(4, nb - b));
    const __mmask16 keep = static_cast<__mmask16>((1u << (4 * left)) - 1);
    RMA_UNROLL
    for (int r = 0; r < 4; ++r) {
      const uint8_t* blk = row + r * row_bytes + kBytes * b;
      ahead(blk);
      const __m512i va = _mm512_loadu_si512(blk);
      const __m512i qs = _mm512_permutex2var_epi8(va, qidx, _mm512_loadu_si512(blk + 64));
      const __m512i lo = _mm512_and_si512(qs, low4);
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(qs, 4), low4);
      const __m512i dot = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(start, lo, x0), hi, x1);
      const __m512 sw = _mm512_maskz_mul_ps(
          keep, _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(didx, va))), sx);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), sw, acc[r]);
      if constexpr (kMin) {
        const __m512 mw = _mm512_maskz_cvtph_ps(
            keep, _mm512_castsi512_si256(_mm512_permutexvar_epi16(midx, va)));
        acc[r] = _mm512_fmadd_ps(mw, fmin, acc[r]);
      }
    }
  }
}

// Four rows n..n+3 against one row of x; false for the types without a
// shared-x kernel.
RMA_VNNI_INLINE bool rows4_x1(int32_t wtype, const uint8_t* row, int64_t row_bytes, int64_t nb,
                              const XRow& x, __m512* acc) {
  RMA_UNROLL
  for (int r = 0; r < 4; ++r) acc[r] = _mm512_setzero_ps();
  switch (wtype) {
    case RMA_DTYPE_Q8_0:
      rows4_q8_0(row, row_bytes, nb, x, acc);
      return true;
    case RMA_DTYPE_Q4_0:
      rows4_q4<false>(row, row_bytes, nb, x, acc);
      return true;
    case RMA_DTYPE_Q4_1:
      rows4_q4<true>(row, row_bytes, nb, x, acc);
      return true;
    default:
      return false;
  }
}

// Four rows' sums of lanes out of one transpose-and-add tree (13 ops, not
// 4 x 8), into out[0..3].
RMA_VNNI_INLINE void hsum4(__m512 a0, __m512 a1, __m512 a2, __m512 a3, float* out) {
  const __m512 s01 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
  const __m512 s23 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
  const __m512d a = _mm512_castps_pd(s01), b = _mm512_castps_pd(s23);
  __m512 v = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                           _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));
  _mm_storeu_ps(out, _mm512_castps512_ps128(v));
}

// Rows [n0, n1) of the n_total rows: out[t * ldo + (n - n0)].
template <int TM>
RMA_VNNI void rows_vnni(int32_t wtype, const uint8_t* w, int64_t row_bytes, int64_t n0, int64_t n1,
                        int64_t n_total, int64_t nb, const XRow* x, float* out, int64_t ldo) {
  // The last rows of the buffer, whose reads past their end would leave it.
  int64_t over = 0;
  // (q8_0: rows4_q8_0 reads 68 bytes from the last pair's start)
  if (wtype == RMA_DTYPE_Q8_0 && nb % 2 == 1) over = 34 * (nb - 1) + 68 - row_bytes;
  if (wtype == RMA_DTYPE_Q4_0 || wtype == RMA_DTYPE_Q4_1)
    over = (nb - 1) / 4 * 4 * (wtype == RMA_DTYPE_Q4_0 ? 18 : 20) + 128 - row_bytes;
  const int64_t safe_end = std::min(n1, n_total - (over > 0 ? ceil_div(over, row_bytes) : 0));
  int64_t n = n0;
  // Four rows at a time share one reduction tree per row of x.
  // T = 1: the shared-x kernels where there is one (else the loop below).
  if constexpr (TM == 1) {
    __m512 acc[4];
    while (n + 4 <= safe_end && rows4_x1(wtype, w + n * row_bytes, row_bytes, nb, x[0], acc)) {
      hsum4(acc[0], acc[1], acc[2], acc[3], out + (n - n0));
      n += 4;
    }
  }
  for (; n + 4 <= safe_end; n += 4) {
    __m512 acc[4][TM];
    RMA_UNROLL
    for (int r = 0; r < 4; ++r) row_any<TM, false>(wtype, w + (n + r) * row_bytes, nb, x, acc[r]);
    RMA_UNROLL
    for (int t = 0; t < TM; ++t)
      hsum4(acc[0][t], acc[1][t], acc[2][t], acc[3][t], out + t * ldo + (n - n0));
  }
  for (; n < n1; ++n) {
    __m512 acc[TM];
    if (n < safe_end)
      row_any<TM, false>(wtype, w + n * row_bytes, nb, x, acc);
    else
      row_any<TM, true>(wtype, w + n * row_bytes, nb, x, acc);
    RMA_UNROLL
    for (int t = 0; t < TM; ++t) out[t * ldo + (n - n0)] = hsum512(acc[t]);
  }
}
#else
constexpr bool kHaveVnni = false;
#endif  // HWY_TARGET == HWY_AVX3_DL

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
// ------------------------------------------------------------ AVX2 path
// Without VNNI: one block of 32 per ymm, u8 x s8 pair products with
// vpmaddubsw (no saturation: |u| <= 128 and |x| <= 127, or u <= 63), summed
// to i32 with vpmaddwd. q8_0 moves w's sign onto x (vpsignb) so that |w| is
// the unsigned side. Per-block f32 scaling stays lane-wise; the q4 / q6
// offsets and the q4_1 / q4_k mins are added as scalars per block.
constexpr bool kHaveMaddubs = true;

struct QView {
  const int8_t* q;
  const float* d;
  const float* ds;
  const int32_t* s16;
};

inline __m256i dot32(__m256i u, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1));
}

inline float hsum256(__m256 v) {
  __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  a = _mm_add_ps(a, _mm_movehl_ps(a, a));
  a = _mm_add_ss(a, _mm_movehdup_ps(a));
  return _mm_cvtss_f32(a);
}

inline __m256i nibbles256(__m128i q) {
  const __m128i low4 = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), low4), _mm_and_si128(q, low4));
}

template <int TM>
void row_maddubs(int32_t wtype, const uint8_t* row, int64_t nb32, const QView* x, float* out) {
  __m256 acc[TM];
  float corr[TM];
  for (int t = 0; t < TM; ++t) {
    acc[t] = _mm256_setzero_ps();
    corr[t] = 0.f;
  }
  auto block = [&](__m256i u, bool signed_w, __m256i w, int64_t b, float scale) {
    for (int t = 0; t < TM; ++t) {
      __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t].q + 32 * b));
      if (signed_w) xq = _mm256_sign_epi8(xq, w);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot32(u, xq)), _mm256_set1_ps(scale * x[t].d[b]),
                               acc[t]);
    }
  };
  switch (wtype) {
    case RMA_DTYPE_Q8_0:
      for (int64_t b = 0; b < nb32; ++b) {
        const uint8_t* blk = row + 34 * b;
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
        block(_mm256_sign_epi8(w, w), true, w, b, half(blk));
      }
      break;
    case RMA_DTYPE_Q4_0:
    case RMA_DTYPE_Q4_1: {
      const bool q41 = wtype == RMA_DTYPE_Q4_1;
      const int bytes = q41 ? 20 : 18;
      for (int64_t b = 0; b < nb32; ++b) {
        const uint8_t* blk = row + bytes * b;
        const float d = half(blk);
        block(nibbles256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + (q41 ? 4 : 2)))),
              false, _mm256_setzero_si256(), b, d);
        // q4_0: (n - 8) -> -8 d * d_x * sum(q); q4_1: + m * d_x * sum(q)
        const float off = q41 ? half(blk + 2) : -8.f * d;
        for (int t = 0; t < TM; ++t) corr[t] += off * x[t].ds[b];
      }
      break;
    }
    case RMA_DTYPE_Q4_K:
      for (int64_t sb = 0; sb < nb32 / 8; ++sb) {
        const uint8_t* blk = row + sizeof(rma_block_q4_K) * sb;
        const float d = half(blk), dmin = half(blk + 2);
        for (int c = 0; c < 4; ++c) {
          const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * c));
          const __m256i low4 = _mm256_set1_epi8(0x0F);
          for (int h = 0; h < 2; ++h) {
            int sc, mn;
            k4_scale_min(2 * c + h, blk + 4, &sc, &mn);
            const __m256i u =
                h ? _mm256_and_si256(_mm256_srli_epi16(q, 4), low4) : _mm256_and_si256(q, low4);
            const int64_t b = 8 * sb + 2 * c + h;
            block(u, false, u, b, d * static_cast<float>(sc));
            const float m = dmin * static_cast<float>(mn);
            for (int t = 0; t < TM; ++t) corr[t] -= m * x[t].ds[b];
          }
        }
      }
      break;
    case RMA_DTYPE_Q5_K:
      for (int64_t sb = 0; sb < nb32 / 8; ++sb) {
        const uint8_t* blk = row + sizeof(rma_block_q5_K) * sb;
        const float d = half(blk), dmin = half(blk + 2);
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
        const __m256i low4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
        for (int c = 0; c < 4; ++c) {
          const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 48 + 32 * c));
          for (int h = 0; h < 2; ++h) {
            int sc, mn;
            k4_scale_min(2 * c + h, blk + 4, &sc, &mn);
            // The fifth bit: bit 2c + h of each qh byte, moved to bit 4.
            const __m256i fifth = _mm256_slli_epi16(
                _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c + h)), one), 4);
            const __m256i u = _mm256_or_si256(
                h ? _mm256_and_si256(_mm256_srli_epi16(q, 4), low4) : _mm256_and_si256(q, low4),
                fifth);
            const int64_t b = 8 * sb + 2 * c + h;
            block(u, false, u, b, d * static_cast<float>(sc));
            const float m = dmin * static_cast<float>(mn);
            for (int t = 0; t < TM; ++t) corr[t] -= m * x[t].ds[b];
          }
        }
      }
      break;
    default:  // q6_k
      for (int64_t sb = 0; sb < nb32 / 8; ++sb) {
        const uint8_t* blk = row + sizeof(rma_block_q6_K) * sb;
        const float d = half(blk + 208);
        const auto* sc = reinterpret_cast<const int8_t*>(blk + 192);
        const __m256i low4 = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3);
        for (int h = 0; h < 2; ++h) {
          const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h));
          const __m256i l1 =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32));
          const __m256i qh =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
          __m256i u[4];
          u[0] = _mm256_or_si256(_mm256_and_si256(l0, low4),
                                 _mm256_slli_epi16(_mm256_and_si256(qh, three), 4));
          u[1] = _mm256_or_si256(
              _mm256_and_si256(l1, low4),
              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), three), 4));
          u[2] = _mm256_or_si256(
              _mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), three), 4));
          u[3] = _mm256_or_si256(
              _mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), three), 4));
          for (int r = 0; r < 4; ++r) {
            const int64_t b = 8 * sb + 4 * h + r;
            const float sa = d * static_cast<float>(sc[8 * h + 2 * r]);
            const float sb2 = d * static_cast<float>(sc[8 * h + 2 * r + 1]);
            for (int t = 0; t < TM; ++t) {
              const __m256i xq =
                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t].q + 32 * b));
              const float dx = x[t].d[b];
              // lanes 0..3 hold the first 16 elements, 4..7 the second 16
              const __m256 sv = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_set1_ps(sa * dx)),
                                                     _mm_set1_ps(sb2 * dx), 1);
              acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot32(u[r], xq)), sv, acc[t]);
              // (u - 32): -32 * scale * d_x * sum(q) per half block
              corr[t] -= 32.f * dx *
                         (sa * static_cast<float>(x[t].s16[2 * b]) +
                          sb2 * static_cast<float>(x[t].s16[2 * b + 1]));
            }
          }
        }
      }
      break;
  }
  for (int t = 0; t < TM; ++t) out[t] = hsum256(acc[t]) + corr[t];
}

template <int TM>
void rows_maddubs(int32_t wtype, const uint8_t* w, int64_t row_bytes, int64_t n0, int64_t n1,
                  int64_t nb32, const QView* x, float* out, int64_t ldo) {
  float s[TM];
  for (int64_t n = n0; n < n1; ++n) {
    row_maddubs<TM>(wtype, w + n * row_bytes, nb32, x, s);
    for (int t = 0; t < TM; ++t) out[t * ldo + (n - n0)] = s[t];
  }
}
#else
constexpr bool kHaveMaddubs = false;
#endif

// ------------------------------------------------------------ dequantize
// The same float operations as dequant_blocks_scalar (so bit-identical),
// 16 lanes at a time on AVX-512.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
HWY_INLINE void put16(__m128i bytes, bool is_signed, int bias, __m512 scale, float* y) {
  __m512i v = is_signed ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
  if (bias) v = _mm512_sub_epi32(v, _mm512_set1_epi32(bias));
  _mm512_storeu_ps(y, _mm512_mul_ps(scale, _mm512_cvtepi32_ps(v)));
}

void dequant_blocks(int32_t dtype, const uint8_t* src, int64_t nb, float* y) {
  const __m128i low4 = _mm_set1_epi8(0x0F);
  switch (dtype) {
    case RMA_DTYPE_Q8_0:
      for (int64_t b = 0; b < nb; ++b, src += 34, y += 32) {
        const __m512 d = _mm512_set1_ps(half(src));
        put16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2)), true, 0, d, y);
        put16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 18)), true, 0, d, y + 16);
      }
      return;
    case RMA_DTYPE_Q4_0:
      for (int64_t b = 0; b < nb; ++b, src += 18, y += 32) {
        const __m512 d = _mm512_set1_ps(half(src));
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2));
        put16(_mm_and_si128(q, low4), false, 8, d, y);
        put16(_mm_and_si128(_mm_srli_epi16(q, 4), low4), false, 8, d, y + 16);
      }
      return;
    case RMA_DTYPE_Q4_1:
      for (int64_t b = 0; b < nb; ++b, src += 20, y += 32) {
        const __m512 d = _mm512_set1_ps(half(src)), m = _mm512_set1_ps(half(src + 2));
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 4));
        const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_and_si128(q, low4)));
        const __m512 hi =
            _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(q, 4), low4)));
        _mm512_storeu_ps(y, _mm512_add_ps(_mm512_mul_ps(d, lo), m));
        _mm512_storeu_ps(y + 16, _mm512_add_ps(_mm512_mul_ps(d, hi), m));
      }
      return;
    case RMA_DTYPE_Q4_K:
      for (int64_t b = 0; b < nb; ++b, src += sizeof(rma_block_q4_K), y += RMA_QK_K) {
        const float d = half(src), dmin = half(src + 2);
        for (int k = 0; k < 4; ++k) {
          int sc0, mn0, sc1, mn1;
          k4_scale_min(2 * k, src + 4, &sc0, &mn0);
          k4_scale_min(2 * k + 1, src + 4, &sc1, &mn1);
          const __m512 d0 = _mm512_set1_ps(d * static_cast<float>(sc0));
          const __m512 m0 = _mm512_set1_ps(dmin * static_cast<float>(mn0));
          const __m512 d1 = _mm512_set1_ps(d * static_cast<float>(sc1));
          const __m512 m1 = _mm512_set1_ps(dmin * static_cast<float>(mn1));
          for (int h = 0; h < 2; ++h) {
            const __m128i q =
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16 + 32 * k + 16 * h));
            const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_and_si128(q, low4)));
            const __m512 hi =
                _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(q, 4), low4)));
            _mm512_storeu_ps(y + 64 * k + 16 * h, _mm512_sub_ps(_mm512_mul_ps(d0, lo), m0));
            _mm512_storeu_ps(y + 64 * k + 32 + 16 * h, _mm512_sub_ps(_mm512_mul_ps(d1, hi), m1));
          }
        }
      }
      return;
    case RMA_DTYPE_Q5_K:
      for (int64_t b = 0; b < nb; ++b, src += sizeof(rma_block_q5_K), y += RMA_QK_K) {
        const float d = half(src), dmin = half(src + 2);
        const __m128i one = _mm_set1_epi8(1);
        for (int k = 0; k < 4; ++k) {
          int sc0, mn0, sc1, mn1;
          k4_scale_min(2 * k, src + 4, &sc0, &mn0);
          k4_scale_min(2 * k + 1, src + 4, &sc1, &mn1);
          const __m512 d0 = _mm512_set1_ps(d * static_cast<float>(sc0));
          const __m512 m0 = _mm512_set1_ps(dmin * static_cast<float>(mn0));
          const __m512 d1 = _mm512_set1_ps(d * static_cast<float>(sc1));
          const __m512 m1 = _mm512_set1_ps(dmin * static_cast<float>(mn1));
          for (int h = 0; h < 2; ++h) {
            const __m128i q =
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 48 + 32 * k + 16 * h));
            const __m128i qh = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16 + 16 * h));
            const __m128i b0 =
                _mm_slli_epi16(_mm_and_si128(_mm_srl_epi16(qh, _mm_cvtsi32_si128(2 * k)), one), 4);
            const __m128i b1 = _mm_slli_epi16(
                _mm_and_si128(_mm_srl_epi16(qh, _mm_cvtsi32_si128(2 * k + 1)), one), 4);
            const __m512 lo =
                _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_or_si128(_mm_and_si128(q, low4), b0)));
            const __m512 hi = _mm512_cvtepi32_ps(
                _mm512_cvtepu8_epi32(_mm_or_si128(_mm_and_si128(_mm_srli_epi16(q, 4), low4), b1)));
            _mm512_storeu_ps(y + 64 * k + 16 * h, _mm512_sub_ps(_mm512_mul_ps(d0, lo), m0));
            _mm512_storeu_ps(y + 64 * k + 32 + 16 * h, _mm512_sub_ps(_mm512_mul_ps(d1, hi), m1));
          }
        }
      }
      return;
    case RMA_DTYPE_Q6_K:
      for (int64_t b = 0; b < nb; ++b, src += sizeof(rma_block_q6_K), y += RMA_QK_K) {
        const float d = half(src + 208);
        const auto* sc = reinterpret_cast<const int8_t*>(src + 192);
        const __m256i low4y = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3);
        for (int h = 0; h < 2; ++h) {
          const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 64 * h));
          const __m256i l1 =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 64 * h + 32));
          const __m256i qh =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 128 + 32 * h));
          __m256i r[4];
          r[0] = _mm256_or_si256(_mm256_and_si256(l0, low4y),
                                 _mm256_slli_epi16(_mm256_and_si256(qh, three), 4));
          r[1] = _mm256_or_si256(
              _mm256_and_si256(l1, low4y),
              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), three), 4));
          r[2] = _mm256_or_si256(
              _mm256_and_si256(_mm256_srli_epi16(l0, 4), low4y),
              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), three), 4));
          r[3] = _mm256_or_si256(
              _mm256_and_si256(_mm256_srli_epi16(l1, 4), low4y),
              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), three), 4));
          for (int c = 0; c < 4; ++c) {
            const __m256i q = _mm256_sub_epi8(r[c], _mm256_set1_epi8(32));
            for (int is = 0; is < 2; ++is) {
              const __m512 s = _mm512_set1_ps(d * static_cast<float>(sc[8 * h + is + 2 * c]));
              const __m128i part = is ? _mm256_extracti128_si256(q, 1) : _mm256_castsi256_si128(q);
              put16(part, true, 0, s, y + 128 * h + 32 * c + 16 * is);
            }
          }
        }
      }
      return;
    default:
      return;
  }
}
#else
void dequant_blocks(int32_t dtype, const uint8_t* src, int64_t nb, float* y) {
  dequant_blocks_scalar(dtype, src, nb, y);
}
#endif

// ------------------------------------------------------------ portable path
// Dequantizes each weight row (exactly) and dots it with the f32 rows of x.
void rows_dequant(int32_t wtype, const uint8_t* w, int64_t row_bytes, int64_t n0, int64_t n1,
                  int64_t K, const float* x, int64_t tm, float* wrow, float* out, int64_t ldo) {
  const DF d;
  const int64_t nb = K / block_elems_of(wtype);
  for (int64_t n = n0; n < n1; ++n) {
    dequant_blocks(wtype, w + n * row_bytes, nb, wrow);
    for (int64_t t = 0; t < tm; ++t) {
      const float* xr = x + t * K;
      VF acc = hn::Zero(d);
      int64_t k = 0;
      for (; k + kL <= K; k += kL)
        acc = hn::MulAdd(hn::LoadU(d, xr + k), hn::LoadU(d, wrow + k), acc);
      float s = hn::GetLane(hn::SumOfLanes(d, acc));
      for (; k < K; ++k) s += xr[k] * wrow[k];
      out[t * ldo + (n - n0)] = s;
    }
  }
}

// ------------------------------------------------------------ driver
void epilogue_out(const float* acc, int64_t n, const Epilogue& ep, int64_t n0, void* y,
                  int32_t dtype) {
  epilogue_row(acc, n, ep.bias ? ep.bias + n0 : nullptr, ep.alpha, ep.act, ep.act_param, y, dtype);
}

bool quant_gemv_impl(ThreadPool& pool, const QuantLinearArgs& a) {
  const int64_t T = a.t, N = a.n, K = a.k;
  if (T <= 0 || N <= 0) return true;
  const int64_t be = block_elems_of(a.w_dtype);
  const int64_t row_bytes = K / be * block_bytes_of(a.w_dtype);
  const int64_t nb32 = K / 32;                     // blocks of 32 of x
  const int64_t nb_pad = round_up(nb32, 16) + 16;  // whole pairs and quads, and 16-wide loads
  const int64_t pairs = nb_pad / 2;
  const size_t yes = a.y_dtype == RMA_DTYPE_F32 ? 4 : 2;
  const size_t xes = a.x_dtype == RMA_DTYPE_F32 ? 4 : 2;

  // Scratch: x as f32 [T, K], then per row of x its quantized forms.
  const size_t row_f = 2 * pad16(nb_pad * 8) + 2 * pad16(nb_pad) + pad16(nb_pad) +
                       pad16(2 * nb_pad) + 3 * pad16(16 * pairs);
  thread_local ScratchArena arena;
  const size_t xf_f = pad16(T * K);
  float* base = arena.get(xf_f + row_f * T);
  if (!base) return false;
  float* xf = base;
  for (int64_t t = 0; t < T; ++t)
    to_f32(a.x_dtype, static_cast<const uint8_t*>(a.x) + t * K * xes, xf + t * K, K);

  // Per row of x: its q8 blocks, and the layouts the VNNI kernels read.
  std::vector<QRow> qrows(static_cast<size_t>(kHaveVnni || kHaveMaddubs ? T : 0));
#if HWY_TARGET == HWY_AVX3_DL
  std::vector<XRow> xrows(static_cast<size_t>(T));
#endif
  for (size_t t = 0; t < qrows.size(); ++t) {
    float* p = base + xf_f + row_f * t;
    QRow& r = qrows[t];
    r.q = reinterpret_cast<int8_t*>(p);
    p += pad16(nb_pad * 8);
    auto* q4 = reinterpret_cast<int8_t*>(p);
    p += pad16(nb_pad * 8);
    r.d = p;
    p += pad16(nb_pad);
    r.ds = p;
    p += pad16(nb_pad);
    r.s = reinterpret_cast<int32_t*>(p);
    p += pad16(nb_pad);
    r.s16 = reinterpret_cast<int32_t*>(p);
    p += pad16(2 * nb_pad);
    quantize_row_q8(xf + t * K, nb32, nb_pad, r);
#if HWY_TARGET == HWY_AVX3_DL
    auto* icorr = reinterpret_cast<int32_t*>(p);
    p += pad16(16 * pairs);
    float* spread = p;
    p += pad16(16 * pairs);
    float* fmin = p;
    build_xrow(a.w_dtype, r, nb_pad, q4, icorr, spread, fmin);
    xrows[t] = {quad_layout(a.w_dtype) ? q4 : r.q, icorr, spread, fmin, r.d, r.ds};
#else
    (void)q4;
#endif
  }
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
  std::vector<QView> views(qrows.size());
  for (size_t t = 0; t < qrows.size(); ++t)
    views[t] = {qrows[t].q, qrows[t].d, qrows[t].ds, qrows[t].s16};
#endif

  const auto* w = static_cast<const uint8_t*>(a.w);
  constexpr int64_t kChunk = 64;
  const int64_t grain = qcfg::kGemvRowGrain;
  pool.parallel_for(ceil_div(N, grain), 1, [&](int64_t c0, int64_t c1) {
    const int64_t n_begin = c0 * grain, n_end = std::min(N, c1 * grain);
    HWY_ALIGN float out[qcfg::kGemvGroup * kChunk];
    thread_local std::vector<float> wrow;
    if (!kHaveVnni && !kHaveMaddubs && static_cast<int64_t>(wrow.size()) < K)
      wrow.resize(static_cast<size_t>(K));
    for (int64_t n0 = n_begin; n0 < n_end; n0 += kChunk) {
      const int64_t n1 = std::min(n_end, n0 + kChunk);
      for (int64_t t0 = 0; t0 < T; t0 += qcfg::kGemvGroup) {
        const int64_t tm = std::min<int64_t>(qcfg::kGemvGroup, T - t0);
#if HWY_TARGET == HWY_AVX3_DL
        const XRow* xr = xrows.data() + t0;
        switch (tm) {
          case 1:
            rows_vnni<1>(a.w_dtype, w, row_bytes, n0, n1, N, nb32, xr, out, kChunk);
            break;
          case 2:
            rows_vnni<2>(a.w_dtype, w, row_bytes, n0, n1, N, nb32, xr, out, kChunk);
            break;
          case 3:
            rows_vnni<3>(a.w_dtype, w, row_bytes, n0, n1, N, nb32, xr, out, kChunk);
            break;
          default:
            rows_vnni<4>(a.w_dtype, w, row_bytes, n0, n1, N, nb32, xr, out, kChunk);
            break;
        }
#elif HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
        const QView* xv = views.data() + t0;
        switch (tm) {
          case 1: rows_maddubs<1>(a.w_dtype, w, row_bytes, n0, n1, nb32, xv, out, kChunk); break;
          case 2: rows_maddubs<2>(a.w_dtype, w, row_bytes, n0, n1, nb32, xv, out, kChunk); break;
          case 3: rows_maddubs<3>(a.w_dtype, w, row_bytes, n0, n1, nb32, xv, out, kChunk); break;
          default: rows_maddubs<4>(a.w_dtype, w, row_bytes, n0, n1, nb32, xv, out, kChunk); break;
        }
#else
        rows_dequant(a.w_dtype, w, row_bytes, n0, n1, K, xf + t0 * K, tm, wrow.data(), out, kChunk);
#endif
        for (int64_t t = 0; t < tm; ++t)
          epilogue_out(out + t * kChunk, n1 - n0, a.ep, n0,
                       static_cast<uint8_t*>(a.y) + ((t0 + t) * N + n0) * yes, a.y_dtype);
      }
    }
  });
  return true;
}

// ------------------------------------------------------------ dequantize
void dequantize_rows_impl(const void* source, int64_t i0, int64_t rows, int64_t k0, int64_t kc,
                          float* dst, int64_t ld_dst) {
  const auto& s = *static_cast<const DequantSource*>(source);
  const int64_t be = block_elems_of(s.dtype), bb = block_bytes_of(s.dtype);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* src = s.w + (i0 + r) * s.row_bytes + k0 / be * bb;
    dequant_blocks(s.dtype, src, kc / be, dst + r * ld_dst);
  }
}

const char* target_impl() {
  return kHaveVnni      ? "avx512-vnni int8 dot (vpdpbusd)"
         : kHaveMaddubs ? "avx2 int8 dot (vpmaddubsw)"
                        : "dequantize + f32 dot";
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(quant_gemv_impl);
HWY_EXPORT(dequantize_rows_impl);
HWY_EXPORT(target_impl);

bool quant_gemv(ThreadPool& pool, const QuantLinearArgs& args) {
  return HWY_DYNAMIC_DISPATCH(quant_gemv_impl)(pool, args);
}
void dequantize_rows(const void* source, int64_t i0, int64_t rows, int64_t k0, int64_t kc,
                     float* dst, int64_t ld_dst) {
  HWY_DYNAMIC_DISPATCH(dequantize_rows_impl)(source, i0, rows, k0, kc, dst, ld_dst);
}
const char* quant_gemv_target() {
  return HWY_DYNAMIC_DISPATCH(target_impl)();
}
}  // namespace rma::cpu
#endif
