// quant_linear kernels per SIMD target (see qlinear.h).
//
// GEMV. Each row of x is cut into blocks of 32, each written as integers X
// times an f32 unit d of the block, once per call:
//   fast      d = amax / 127: X is one int8 digit (q8 blocks, as llama.cpp
//             does); up to d / 2 = amax / 254 off per element.
//   accurate  d = amax / (127 * 65536): X has 24 bits, kept as three
//             balanced int8 digits, X = q1 * 65536 + q2 * 256 + q3; at most
//             d / 2 ~ 2^-24 amax off per element, the rounding of f32 itself.
// A weight row then contributes, per block, d_w * d * sum_i(w_i * X_i) plus
// its offsets (q4_0's -8, q4_1's min, the k-quant mins, q6_k's -32), the
// latter in f32 from the block sums d * sum(X). The integer sums run on
// unsigned weight bytes x signed digits (vpdpbusd where there is VNNI): the
// digit dots of one unit chain in int32, shifting 8 bits between digits
// (acc = dpbusd(acc << 8, u, q_next)). That is exact while a lane's true
// value fits in int32, which holds for weights of at most 6 bits
// (4 x 63 x 127 x 65536 < 2^31); q8_0's 8-bit weights keep digit 1 in its
// own lane sum and join it in f32. Unsigned weights, per type:
//   q8_0  (w ^ 0x80) = w + 128 as u8; the 128 * sum excess is removed by
//         starting each of a block's 8 lanes at -16 * sum (per digit group);
//   q4_0  nibbles n = w + 8 (offset -8 d_w * block sum in f32);
//   q4_1  nibbles n (the min m * block sum in f32);
//   q4_k  nibbles per sub-block of 32 with 6-bit scales and mins;
//   q5_k  as q4_k, the fifth bit (from qh) or-ed in: values 0..31;
//   q6_k  6-bit values u = w + 32 (-32 * d_w * sum per 16 in f32).
// On AVX-512 VNNI one vpdpbusd covers 64 weights, and the per-block f32
// scaling stays lane-wise (no horizontal sums) until the end of the row.
// With one row of x (decode) four adjacent weight rows are read per pass,
// so that each load of x serves four rows; a software prefetch runs one
// linear stream kPrefetchBytes ahead of the rows being read.
// Without VNNI (AVX-512, AVX2) fast runs vpmaddubsw, and accurate
// dequantizes each weight row to f32 (exactly) and dots it with x in f32;
// the portable target does the latter for both.
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
// One row of x as blocks of 32 integers X times a unit d (see the top), in
// D int8 digits (1: fast, 3: accurate), laid out for the kernel that reads
// them: by pairs, digit g of block b at (b / 2) * 64 * D + g * 64 +
// (b % 2) * 32 (a unit of two blocks has its D digit copies side by side;
// D = 1: plain q8 blocks in order); or by quads (q4_0 / q4_1 on VNNI), per
// quad and digit the first 16 values of its 4 blocks, then their last 16,
// to meet the low and high nibbles of 4 weight blocks side by side.
struct QRow {
  int8_t* q;     // nb_pad * 32 * D
  float* d;      // nb_pad units, zero past the row
  int32_t* s;    // nb_pad sums of X per block
  int32_t* s1;   // nb_pad sums of the first digit per block (s when D = 1)
  int32_t* s16;  // 2 * nb_pad sums of X per half block
};

constexpr int kFastDigits = 1;
constexpr int kAccurateDigits = 3;
// |X| <= steps: 127 per digit, 127 * 65536 for three.
constexpr int32_t kAccurateSteps = 127 * 65536;

// Where values j..j+15 of block b's digit g go (j a multiple of 16).
inline int64_t digit_offset(bool quads, int digits, int64_t b, int g, int j) {
  return quads ? (b / 4) * 128 * digits + g * 128 + (j / 16) * 64 + (b % 4) * 16
               : (b / 2) * 64 * digits + g * 64 + (b % 2) * 32 + j;
}

void quantize_row_digits(const float* x, int64_t nb, int64_t nb_pad, int digits, bool quads,
                         const QRow& r) {
  const DF df;
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<int8_t, DF> d8;
  const bool fast = digits == 1;
  const float steps = fast ? 127.f : static_cast<float>(kAccurateSteps);
  const auto lim = hn::Set(di, kAccurateSteps);
  const auto neg_lim = hn::Neg(lim);
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + 32 * b;
    VF m = hn::Zero(df);
    for (int j = 0; j < 32; j += kL) m = hn::Max(m, hn::Abs(hn::LoadU(df, xb + j)));
    const float amax = hn::GetLane(hn::MaxOfLanes(df, m));
    const float d = amax / steps;
    const VF id = hn::Set(df, d != 0.f ? 1.f / d : 0.f);
    int32_t half_sum[2] = {0, 0}, first = 0;
    for (int j = 0; j < 32; j += kL) {
      // (kL divides 16: a vector never straddles two halves of a block.)
      auto dst = [&](int g) { return r.q + digit_offset(quads, digits, b, g, j & ~15) + j % 16; };
      auto v = hn::NearestInt(hn::Mul(hn::LoadU(df, xb + j), id));
      if (fast) {
        hn::StoreU(hn::DemoteTo(d8, v), d8, dst(0));
      } else {
        // x * (1 / d) may round a hair past the top step.
        v = hn::Min(hn::Max(v, neg_lim), lim);
        // Balanced base-256 digits: each low byte read as signed.
        const auto q3 = hn::ShiftRight<24>(hn::ShiftLeft<24>(v));
        const auto upper = hn::ShiftRight<8>(hn::Sub(v, q3));
        const auto q2 = hn::ShiftRight<24>(hn::ShiftLeft<24>(upper));
        const auto q1 = hn::ShiftRight<8>(hn::Sub(upper, q2));
        hn::StoreU(hn::DemoteTo(d8, q1), d8, dst(0));
        hn::StoreU(hn::DemoteTo(d8, q2), d8, dst(1));
        hn::StoreU(hn::DemoteTo(d8, q3), d8, dst(2));
        first += hn::GetLane(hn::SumOfLanes(di, q1));
      }
      half_sum[j >= 16] += hn::GetLane(hn::SumOfLanes(di, v));
    }
    r.d[b] = d;
    r.s16[2 * b] = half_sum[0];
    r.s16[2 * b + 1] = half_sum[1];
    r.s[b] = half_sum[0] + half_sum[1];
    r.s1[b] = fast ? r.s[b] : first;
  }
  for (int64_t b = nb; b < nb_pad; ++b) {
    for (int g = 0; g < digits; ++g)
      for (int j = 0; j < 32; j += 16)
        std::memset(r.q + digit_offset(quads, digits, b, g, j), 0, 16);
    r.d[b] = 0.f;
    r.s[b] = r.s1[b] = 0;
    r.s16[2 * b] = r.s16[2 * b + 1] = 0;
  }
}

#if HWY_TARGET == HWY_AVX3_DL
// ------------------------------------------------------------ VNNI path
// The whole AVX-512 set the kernels use, not just what the AVX3_DL pragma
// lacks: clang lets a function's own target attribute replace the pragma's.
#define RMA_VNNI_TARGET \
  "avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512vbmi,avx512vbmi2,avx512bitalg,gfni"
#define RMA_VNNI __attribute__((target(RMA_VNNI_TARGET)))
#define RMA_VNNI_INLINE inline __attribute__((always_inline, target(RMA_VNNI_TARGET)))
constexpr bool kHaveVnni = true;
// Shift counts for the 16-bit variable shifts, replicated in a 64-bit lane.
constexpr int64_t k2 = 0x0002000200020002;
constexpr int64_t k4 = 0x0004000400040004;

// A row of x as the VNNI kernels read it. A "unit" is what one weight step
// covers: a pair of blocks (64 elements) for q8_0 and the k-quants, a quad
// of blocks (128 elements) for q4_0 and q4_1. Each unit holds its D digit
// copies one after the other.
struct XRow {
  const int8_t* q;       // QRow's digits: by quads for q4_0 / q4_1, else by pairs
  const int32_t* icorr;  // q8_0: per pair 16 lanes per digit group (fast 1, accurate 2)
  const float* spread;   // q8_0: per pair 16 lanes, d of the block each lane belongs to
  const float* dxs;      // q4_0 / q4_1: per quad d of its 4 blocks, then c * d * s (c: -8 / 1)
  const float* d;        // q6_k: per block d, zero past the row
  const float* o16;      // q6_k: per half block -32 * d * s16
  const float* kd;       // q4_k / q5_k: per super-block [d of its 8 blocks, 8 zeros,
                         // 8 zeros, d * s of its 8 blocks]
};

bool quad_layout(int32_t wtype) {
  return wtype == RMA_DTYPE_Q4_0 || wtype == RMA_DTYPE_Q4_1;
}

// Fills the per-type arrays of `x`.
void build_xrow(int32_t wtype, int digits, const QRow& r, int64_t nb_pad, int32_t* icorr,
                float* spread, float* dxs, float* ds, float* o16, float* kd) {
  for (int64_t b = 0; b < nb_pad; ++b) {
    ds[b] = r.d[b] * static_cast<float>(r.s[b]);
    o16[2 * b] = -32.f * r.d[b] * static_cast<float>(r.s16[2 * b]);
    o16[2 * b + 1] = -32.f * r.d[b] * static_cast<float>(r.s16[2 * b + 1]);
  }
  if (wtype == RMA_DTYPE_Q4_K || wtype == RMA_DTYPE_Q5_K) {
    for (int64_t sb = 0; sb < nb_pad / 8; ++sb)
      for (int i = 0; i < 8; ++i) {
        kd[32 * sb + i] = r.d[8 * sb + i];
        kd[32 * sb + 8 + i] = kd[32 * sb + 16 + i] = 0.f;
        kd[32 * sb + 24 + i] = ds[8 * sb + i];
      }
    return;
  }
  if (quad_layout(wtype)) {
    const float c = wtype == RMA_DTYPE_Q4_0 ? -8.f : 1.f;
    for (int64_t u = 0; u < nb_pad / 4; ++u) {
      for (int i = 0; i < 4; ++i) {
        dxs[8 * u + i] = r.d[4 * u + i];
        dxs[8 * u + 4 + i] = c * ds[4 * u + i];
      }
    }
    return;
  }
  if (wtype != RMA_DTYPE_Q8_0) return;
  const int groups = digits == 1 ? 1 : 2;
  for (int64_t p = 0; p < nb_pad / 2; ++p)
    for (int lane = 0; lane < 16; ++lane) {
      const int64_t b = 2 * p + lane / 8;
      spread[16 * p + lane] = r.d[b];
      // (w + 128) * X: the 8 lanes of a block share 128 * sum, per group:
      // digit 1, then digits 2 and 3 (sum of 256 q2 + q3 = s - 65536 s1).
      icorr[16 * groups * p + lane] = -16 * r.s1[b];
      if (groups == 2) icorr[32 * p + 16 + lane] = -16 * (r.s[b] - 65536 * r.s1[b]);
    }
}

// Index tables, built once.
struct Tables {
  alignas(64) uint8_t qs4_0[64], qs4_1[64];  // vpermt2b: the qs of 4 blocks side by side
  // vpermw / vpermt2w: words 0..7 the d of 4 blocks, then d (q4_0) or m
  // (q4_1), of the first source; words 8..15 the same of the second.
  alignas(64) uint16_t dm4_0[32], dm4_1[32];
  alignas(64) uint16_t d8_0[32];              // vpermw: the two d of a q8_0 pair spread
  alignas(64) int32_t pair[4][16];            // vpermps: lanes [2j x 8, 2j+1 x 8]
  alignas(64) int32_t quad[4][16];  // vpermps: lanes [4g x 4, .., 4g+3 x 4]
  alignas(64) int32_t quad_hi[16];  // vpermps: lane i <- 8 + i / 4
  alignas(64) int32_t halves[16];   // vpermps: lane i <- i / 2
  // gf2p8affineqb bit matrices (output bit i = input bit k: byte 7 - i of
  // the qword is 1 << k): the low nibble in qwords 0..3 and the high nibble
  // in 4..7; and per q5_k group c, bit 2c (qwords 0..3) or 2c + 1 (4..7) to
  // bit 4.
  alignas(64) uint64_t nibbles[8];
  alignas(64) uint64_t fifth[4][8];
  Tables() {
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 16; ++j) {
        qs4_0[16 * i + j] = static_cast<uint8_t>(18 * i + 2 + j);
        qs4_1[16 * i + j] = static_cast<uint8_t>(20 * i + 4 + j);
      }
    for (int l = 0; l < 32; ++l) {
      const int second = l >= 8 && l < 16 ? 32 : 0;
      dm4_0[l] = static_cast<uint16_t>(second + 9 * (l % 4));  // 18-byte blocks: word 9i
      dm4_1[l] = static_cast<uint16_t>(second + 10 * (l % 4) + (l % 8) / 4);  // words 10i, 10i + 1
      d8_0[l] = static_cast<uint16_t>(l < 8 ? 0 : 17);  // 34-byte blocks: words 0, 17
    }
    for (int l = 0; l < 16; ++l) {
      for (int j = 0; j < 4; ++j) pair[j][l] = 2 * j + l / 8;
      for (int g = 0; g < 4; ++g) quad[g][l] = 4 * g + l / 4;
      quad_hi[l] = 8 + l / 4;
      halves[l] = l / 2;
    }
    for (int q = 0; q < 8; ++q) {
      nibbles[q] = 0;
      for (int i = 0; i < 4; ++i)
        nibbles[q] |= uint64_t{1} << (i + (q < 4 ? 0 : 4)) << 8 * (7 - i);
      for (int c = 0; c < 4; ++c)
        fifth[c][q] = uint64_t{1} << (2 * c + (q < 4 ? 0 : 1)) << 8 * (7 - 4);
    }
  }
};
const Tables kTab;

RMA_VNNI_INLINE __m512i ld(const void* p) {
  return _mm512_load_si512(p);
}
RMA_VNNI_INLINE __m512i ldu(const void* p) {
  return _mm512_loadu_si512(p);
}

RMA_VNNI_INLINE float hsum512(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));
  return _mm512_cvtss_f32(v);
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

// One software-prefetch stream per thread, qcfg::kPrefetchBytes ahead of
// the furthest byte its weight rows are read at (with four rows read side
// by side, the last row's), one prefetch per cache line, in order, never
// past the thread's rows: a new group of rows starts with a burst that
// covers its last row.
struct Prefetcher {
  const char* next;
  const char* end;
  RMA_VNNI_INLINE void upto(const uint8_t* read_pos) {
    const char* want =
        std::min(reinterpret_cast<const char*>(read_pos) + qcfg::kPrefetchBytes, end);
    for (; next < want; next += 64) _mm_prefetch(next, _MM_HINT_T0);
  }
};

// Digit chains: D dots of u against a unit's digit copies (`stride` bytes
// apart), each step shifting the sum so far by 8 bits.
template <int D>
RMA_VNNI_INLINE __m512i chain(__m512i start, __m512i u, const int8_t* q) {
  __m512i a = _mm512_dpbusd_epi32(start, u, ldu(q));
  RMA_UNROLL
  for (int g = 1; g < D; ++g) a = _mm512_dpbusd_epi32(_mm512_slli_epi32(a, 8), u, ldu(q + 64 * g));
  return a;
}
// Quads: the low nibbles meet each digit's first halves, the high nibbles
// its second halves.
template <int D>
RMA_VNNI_INLINE __m512i chain2(__m512i lo, __m512i hi, const int8_t* q) {
  __m512i a = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, ldu(q)), hi,
                                  ldu(q + 64));
  RMA_UNROLL
  for (int g = 1; g < D; ++g)
    a = _mm512_dpbusd_epi32(
        _mm512_dpbusd_epi32(_mm512_slli_epi32(a, 8), lo, ldu(q + 128 * g)), hi,
        ldu(q + 128 * g + 64));
  return a;
}

// The kernels below handle R adjacent weight rows against TM rows of x,
// adding into acc[r][t] lane-wise (no horizontal sums). kLast: loads that
// would run past the row's end are masked (only for the rows that end the
// buffer: masked loads are slow, and elsewhere the bytes past a row belong
// to the next row and meet zero digits and zeroed scales).

template <int R, int TM, int D, bool kLast>
RMA_VNNI_INLINE void k_q8_0(const uint8_t* row, int64_t row_bytes, int64_t nb, const XRow* x,
                            Prefetcher& pf, __m512 (&acc)[R][TM]) {
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m512i didx = ld(kTab.d8_0);
  for (int64_t b = 0; b < nb; b += 2) {
    const int64_t p = b / 2;
    pf.upto(row + (R - 1) * row_bytes + 34 * b);
    const bool two = b + 1 < nb;
    // A lone last block: the pair's second half weighs 0.
    const __mmask16 keep = two ? 0xFFFF : 0x00FF;
    const bool whole = two || !kLast;
    RMA_UNROLL
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = row + r * row_bytes + 34 * b;
      const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
      const __m256i q1 = whole ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 36))
                               : _mm256_setzero_si256();
      const __m512i u =
          _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1), bias);
      // A whole pair spans 68 bytes, so 64 bytes from blk stay inside it.
      const __m512i head = whole ? ldu(blk) : _mm512_maskz_loadu_epi8((1ull << 34) - 1, blk);
      const __m512 sw =
          _mm512_maskz_cvtph_ps(keep, _mm512_castsi512_si256(_mm512_permutexvar_epi16(didx, head)));
      RMA_UNROLL
      for (int t = 0; t < TM; ++t) {
        const int8_t* xq = x[t].q + 64 * D * p;
        __m512 f;
        if constexpr (D == 1) {
          f = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(ldu(x[t].icorr + 16 * p), u, ldu(xq)));
        } else {
          // Digit 1 alone; digits 2 and 3 chained; 65536 * first + rest.
          const __m512i first = _mm512_dpbusd_epi32(ldu(x[t].icorr + 32 * p), u, ldu(xq));
          const __m512i rest = _mm512_add_epi32(chain<D - 1>(_mm512_setzero_si512(), u, xq + 64),
                                                ldu(x[t].icorr + 32 * p + 16));
          f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(first), _mm512_set1_ps(65536.f),
                              _mm512_cvtepi32_ps(rest));
        }
        acc[r][t] =
            _mm512_fmadd_ps(f, _mm512_mul_ps(sw, _mm512_loadu_ps(x[t].spread + 16 * p)), acc[r][t]);
      }
    }
  }
}

// q4_0 / q4_1: 4 blocks per step. Two loads cover them (72 or 80 bytes);
// vpermt2b puts their 64 quant bytes side by side, and the low and high
// nibbles meet x's first and second block halves. One vpermw + vcvtph2ps
// gives the 4 scales d_w and the 4 offsets (q4_0: d_w again, q4_1: m);
// times x's [d, c * d * s] they are the 4 lane scales, spread to the dot's
// lanes, and the 4 offset terms, summed apart.
template <int R, int TM, int D, bool kMin, bool kLast>
RMA_VNNI_INLINE void k_q4(const uint8_t* row, int64_t row_bytes, int64_t nb, const XRow* x,
                          Prefetcher& pf, __m512 (&acc)[R][TM]) {
  constexpr int kBytes = kMin ? 20 : 18;
  const __m512i qidx = ld(kMin ? kTab.qs4_1 : kTab.qs4_0);
  const __m512i dmidx = ld(kMin ? kTab.dm4_1 : kTab.dm4_0);
  const __m512i spread = ld(kTab.quad[0]), spread_hi = ld(kTab.quad_hi);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m256 offs[R][TM];
  __m512 offs2[R / 2 > 0 ? R / 2 : 1];
  RMA_UNROLL
  for (int r = 0; r < R; ++r)
    RMA_UNROLL
    for (int t = 0; t < TM; ++t) offs[r][t] = _mm256_setzero_ps();
  for (__m512& o : offs2) o = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b += 4) {
    const int64_t p = b / 4;
    pf.upto(row + (R - 1) * row_bytes + kBytes * b);
    const int left = static_cast<int>(std::min<int64_t>(4, nb - b));
    // Blocks past the row (the next row's bytes) weigh 0.
    const __mmask8 keep = static_cast<__mmask8>(((1u << left) - 1) * 0x11);
    // The quant bytes of row r as 64 nibble pairs.
    // (clang: a lambda does not inherit its function's target attribute)
    auto quants = [&](int r, __m512i* va) RMA_VNNI {
      const uint8_t* blk = row + r * row_bytes + kBytes * b;
      __m512i vb;
      const int64_t rest = row_bytes - kBytes * b;  // bytes of the row from blk
      if (!kLast || rest >= 128) {
        *va = ldu(blk);
        vb = ldu(blk + 64);
      } else {
        *va = _mm512_maskz_loadu_epi8(rest >= 64 ? ~0ull : (1ull << rest) - 1, blk);
        vb = _mm512_maskz_loadu_epi8(rest > 64 ? (1ull << (rest - 64)) - 1 : 0, blk + 64);
      }
      return _mm512_permutex2var_epi8(*va, qidx, vb);
    };
    auto dot_into = [&](int r, __m512i qs, __m512 lane_scale_src, __m512i spr) RMA_VNNI {
      const __m512i lo = _mm512_and_si512(qs, low4);
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(qs, 4), low4);
      RMA_UNROLL
      for (int t = 0; t < TM; ++t) {
        const __m512i dot = chain2<D>(lo, hi, x[t].q + 128 * D * p);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
                                    _mm512_permutexvar_ps(spr, lane_scale_src), acc[r][t]);
      }
    };
    if constexpr (R % 2 == 0 && TM == 1) {
      // Two rows share one vpermt2w + vcvtph2ps of their 16 scales.
      const __mmask16 keep2 = static_cast<__mmask16>(keep | (keep << 8));
      const __m512 dxs2 = _mm512_broadcast_f32x8(_mm256_loadu_ps(x[0].dxs + 8 * p));
      RMA_UNROLL
      for (int r = 0; r < R; r += 2) {
        __m512i va0, va1;
        const __m512i qs0 = quants(r, &va0), qs1 = quants(r + 1, &va1);
        const __m512 dm =
            _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(va0, dmidx, va1)));
        const __m512 prod = _mm512_maskz_mul_ps(keep2, dm, dxs2);
        offs2[r / 2] = _mm512_add_ps(offs2[r / 2], prod);
        dot_into(r, qs0, prod, spread);
        dot_into(r + 1, qs1, prod, spread_hi);
      }
    } else {
      RMA_UNROLL
      for (int r = 0; r < R; ++r) {
        __m512i va;
        const __m512i qs = quants(r, &va);
        const __m256 dm =
            _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi16(dmidx, va)));
        const __m512i lo = _mm512_and_si512(qs, low4);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(qs, 4), low4);
        RMA_UNROLL
        for (int t = 0; t < TM; ++t) {
          const __m512i dot = chain2<D>(lo, hi, x[t].q + 128 * D * p);
          const __m256 prod = _mm256_maskz_mul_ps(keep, dm, _mm256_loadu_ps(x[t].dxs + 8 * p));
          offs[r][t] = _mm256_add_ps(offs[r][t], prod);
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
                                      _mm512_permutexvar_ps(spread, _mm512_zextps256_ps512(prod)),
                                      acc[r][t]);
        }
      }
    }
  }
  // The offsets sit in lanes 4..7 (paired rows: 4..7 and 12..15).
  if constexpr (R % 2 == 0 && TM == 1) {
    RMA_UNROLL
    for (int r = 0; r < R; r += 2) {
      offs[r][0] = _mm512_castps512_ps256(offs2[r / 2]);
      offs[r + 1][0] = _mm512_extractf32x8_ps(offs2[r / 2], 1);
    }
  }
  RMA_UNROLL
  for (int r = 0; r < R; ++r)
    RMA_UNROLL
    for (int t = 0; t < TM; ++t)
      acc[r][t] = _mm512_add_ps(
          acc[r][t],
          _mm512_zextps256_ps512(_mm256_blend_ps(_mm256_setzero_ps(), offs[r][t], 0xF0)));
}

// The super-block's f16 d and dmin (F16C), as [d, dmin, 0, 0].
RMA_VNNI_INLINE __m128 two_halves(const uint8_t* p) {
  uint32_t both;
  std::memcpy(&both, p, 4);
  return _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(both)));
}

// The 8 (scale, min) pairs of a q4_k / q5_k super-block, 6 bits each,
// unpacked with byte shuffles and converted at once: lanes 0..7
// d * scale, lanes 8..15 -dmin * min.
RMA_VNNI_INLINE __m512 q4_k_scales(const uint8_t* blk) {
  const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 4));  // 12 used
  // j < 4: sc = s[j] & 63, mn = s[j + 4] & 63
  // j >= 4: sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4, mn = (s[j + 4] >> 4) | (s[j] >> 6) << 4
  // Bytes 0..7 gather the scales, 8..15 the mins.
  const __m128i lo =
      _mm_shuffle_epi8(s, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
  const __m128i hi =
      _mm_shuffle_epi8(s, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
  // The mins of j >= 4 sit in the high nibble of their byte.
  const __m128i low = _mm_blend_epi16(
      _mm_and_si128(lo, _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0)),
      _mm_and_si128(_mm_srli_epi16(lo, 4), _mm_set1_epi8(15)), 0xC0);
  const __m128i v = _mm_or_si128(low, _mm_and_si128(_mm_srli_epi16(hi, 2), _mm_set1_epi8(0x30)));
  const __m128 dd = two_halves(blk);
  const __m512 scale = _mm512_insertf32x8(
      _mm512_broadcastss_ps(dd), _mm256_broadcastss_ps(_mm_sub_ps(_mm_setzero_ps(),
                                                                  _mm_movehdup_ps(dd))),
      1);
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v)), scale);
}

// q4_k / q5_k: one digit chain per group of 64 and row of x, scaled
// lane-wise by a spread (vpermps) of per-sub-block products d_w * d held in
// sc. q5_k: the nibbles at +48 plus the fifth bits: per group c of 64, bit
// 2c (first 32 values) or 2c + 1 (second 32) of each qh byte. A 32-bit
// rotate left by 4 - bit (mod 32) moves that bit of every byte to bit 4 of
// the same byte, whichever way it has to go.
template <int R, int TM, int D, bool kQ5>
RMA_VNNI_INLINE void k_q45_k(const uint8_t* row, int64_t row_bytes, int64_t nb, const XRow* x,
                             Prefetcher& pf, __m512 (&acc)[R][TM]) {
  constexpr int64_t kBytes = kQ5 ? sizeof(rma_block_q5_K) : sizeof(rma_block_q4_K);
  constexpr int kQs = kQ5 ? 48 : 16;
  const __m512i nibbles = ld(kTab.nibbles);
  for (int64_t sb = 0; sb < nb / 8; ++sb) {
    pf.upto(row + (R - 1) * row_bytes + kBytes * sb);
    RMA_UNROLL
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = row + r * row_bytes + kBytes * sb;
      const __m512 scmn = q4_k_scales(blk);
      __m512 sc[TM];
      RMA_UNROLL
      for (int t = 0; t < TM; ++t) {
        // Lanes 0..7: d_w * scale * d; the mins: the sum over the 8
        // sub-blocks of -dmin * min * d * s, from lanes 8..15.
        sc[t] = _mm512_mul_ps(scmn, _mm512_load_ps(x[t].kd + 32 * sb));
        acc[r][t] = _mm512_fmadd_ps(scmn, _mm512_load_ps(x[t].kd + 32 * sb + 16), acc[r][t]);
      }
      __m512i hh = _mm512_setzero_si512();
      if constexpr (kQ5)
        hh = _mm512_broadcast_i64x4(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16)));
      RMA_UNROLL
      for (int c = 0; c < 4; ++c) {
        const __m512i z = _mm512_broadcast_i64x4(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kQs + 32 * c)));
        // Bit-matrix multiplies (GFNI) pick the nibble and the fifth bit.
        __m512i u = _mm512_gf2p8affine_epi64_epi8(z, nibbles, 0);
        if constexpr (kQ5)
          u = _mm512_or_si512(u, _mm512_gf2p8affine_epi64_epi8(hh, ld(kTab.fifth[c]), 0));
        const __m512i spread = ld(kTab.pair[c]);
        RMA_UNROLL
        for (int t = 0; t < TM; ++t) {
          const __m512i dot = chain<D>(_mm512_setzero_si512(), u, x[t].q + 64 * D * (4 * sb + c));
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
                                      _mm512_permutexvar_ps(spread, sc[t]), acc[r][t]);
        }
      }
    }
  }
}

// q6_k: 6-bit values u = w + 32 from ql's nibbles and qh's bit pairs; the
// -32 offsets per sub-block of 16 come in f32 from x's half-block sums.
template <int R, int TM, int D>
RMA_VNNI_INLINE void k_q6_k(const uint8_t* row, int64_t row_bytes, int64_t nb, const XRow* x,
                            Prefetcher& pf, __m512 (&acc)[R][TM]) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i bits45 = _mm512_set1_epi8(0x30);
  const __m512i shl01 =
      _mm512_set_epi64(k2, k2, k2, k2, k4, k4, k4, k4);                // r = 0: << 4, r = 1: << 2
  const __m512i shr23 = _mm512_set_epi64(k2, k2, k2, k2, 0, 0, 0, 0);  // r = 2: as is, r = 3: >> 2
  const __m512i halves = ld(kTab.halves);
  for (int64_t sb = 0; sb < nb / 8; ++sb) {
    pf.upto(row + (R - 1) * row_bytes + static_cast<int64_t>(sizeof(rma_block_q6_K)) * sb);
    RMA_UNROLL
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = row + r * row_bytes + sizeof(rma_block_q6_K) * sb;
      // Per sub-block of 16: d * scale, times d of its block of 32 of x.
      const __m512 scw = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(
                                           reinterpret_cast<const __m128i*>(blk + 192)))),
                                       _mm512_broadcastss_ps(two_halves(blk + 208)));
      __m512 sc[TM];
      RMA_UNROLL
      for (int t = 0; t < TM; ++t) {
        const __m512 dx = _mm512_zextps256_ps512(_mm256_loadu_ps(x[t].d + 8 * sb));
        sc[t] = _mm512_mul_ps(scw, _mm512_permutexvar_ps(halves, dx));
        acc[r][t] = _mm512_fmadd_ps(scw, _mm512_loadu_ps(x[t].o16 + 16 * sb), acc[r][t]);
      }
      RMA_UNROLL
      for (int h = 0; h < 2; ++h) {
        const __m512i l = ldu(blk + 64 * h);
        const __m512i hh = _mm512_broadcast_i64x4(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h)));
        const __m512i u0 = _mm512_ternarylogic_epi32(
            l, low4, _mm512_and_si512(_mm512_sllv_epi16(hh, shl01), bits45), 0xEA);
        const __m512i u1 =
            _mm512_ternarylogic_epi32(_mm512_srli_epi16(l, 4), low4,
                                      _mm512_and_si512(_mm512_srlv_epi16(hh, shr23), bits45), 0xEA);
        const __m512i spread0 = ld(kTab.quad[2 * h]), spread1 = ld(kTab.quad[2 * h + 1]);
        RMA_UNROLL
        for (int t = 0; t < TM; ++t) {
          const int8_t* xq = x[t].q + 64 * D * (4 * sb + 2 * h);
          const __m512i d0 = chain<D>(_mm512_setzero_si512(), u0, xq);
          const __m512i d1 = chain<D>(_mm512_setzero_si512(), u1, xq + 64 * D);
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d0),
                                      _mm512_permutexvar_ps(spread0, sc[t]), acc[r][t]);
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d1),
                                      _mm512_permutexvar_ps(spread1, sc[t]), acc[r][t]);
        }
      }
    }
  }
}

template <int R, int TM, int D, bool kLast>
RMA_VNNI_INLINE void rows_any(int32_t wtype, const uint8_t* row, int64_t row_bytes, int64_t nb,
                              const XRow* x, Prefetcher& pf, __m512 (&acc)[R][TM]) {
  RMA_UNROLL
  for (int r = 0; r < R; ++r)
    RMA_UNROLL
    for (int t = 0; t < TM; ++t) acc[r][t] = _mm512_setzero_ps();
  switch (wtype) {
    case RMA_DTYPE_Q8_0:
      return k_q8_0<R, TM, D, kLast>(row, row_bytes, nb, x, pf, acc);
    case RMA_DTYPE_Q4_0:
      return k_q4<R, TM, D, false, kLast>(row, row_bytes, nb, x, pf, acc);
    case RMA_DTYPE_Q4_1:
      return k_q4<R, TM, D, true, kLast>(row, row_bytes, nb, x, pf, acc);
    case RMA_DTYPE_Q4_K:
      return k_q45_k<R, TM, D, false>(row, row_bytes, nb, x, pf, acc);
    case RMA_DTYPE_Q5_K:
      return k_q45_k<R, TM, D, true>(row, row_bytes, nb, x, pf, acc);
    default:
      return k_q6_k<R, TM, D>(row, row_bytes, nb, x, pf, acc);
  }
}

// Rows [n0, n1) of the n_total rows: out[t * ldo + (n - n0)].
template <int TM, int D>
RMA_VNNI void rows_vnni(int32_t wtype, const uint8_t* w, int64_t row_bytes, int64_t n0, int64_t n1,
                        int64_t n_total, int64_t nb, const XRow* x, float* out, int64_t ldo,
                        Prefetcher& pf) {
  // The last rows of the buffer, whose reads past their end would leave it:
  // q8_0 reads 68 bytes from the last pair's start, q4_0 / q4_1 128 bytes
  // from the last quad's start.
  int64_t over = 0;
  if (wtype == RMA_DTYPE_Q8_0 && nb % 2 == 1) over = 34 * (nb - 1) + 68 - row_bytes;
  if (wtype == RMA_DTYPE_Q4_0 || wtype == RMA_DTYPE_Q4_1)
    over = (nb - 1) / 4 * 4 * (wtype == RMA_DTYPE_Q4_0 ? 18 : 20) + 128 - row_bytes;
  const int64_t safe_end = std::min(n1, n_total - (over > 0 ? ceil_div(over, row_bytes) : 0));
  int64_t n = n0;
  if constexpr (TM == 1) {
    // One row of x: four weight rows per pass share each load of x.
    for (; n + 4 <= safe_end; n += 4) {
      __m512 acc[4][1];
      rows_any<4, 1, D, false>(wtype, w + n * row_bytes, row_bytes, nb, x, pf, acc);
      hsum4(acc[0][0], acc[1][0], acc[2][0], acc[3][0], out + (n - n0));
    }
  }
  // Several rows of x: one weight row at a time against all of them, four
  // rows sharing one reduction tree per row of x.
  for (; n + 4 <= safe_end; n += 4) {
    __m512 acc[4][TM];
    RMA_UNROLL
    for (int r = 0; r < 4; ++r) {
      __m512 one[1][TM];
      rows_any<1, TM, D, false>(wtype, w + (n + r) * row_bytes, row_bytes, nb, x, pf, one);
      RMA_UNROLL
      for (int t = 0; t < TM; ++t) acc[r][t] = one[0][t];
    }
    RMA_UNROLL
    for (int t = 0; t < TM; ++t)
      hsum4(acc[0][t], acc[1][t], acc[2][t], acc[3][t], out + t * ldo + (n - n0));
  }
  for (; n < n1; ++n) {
    __m512 acc[1][TM];
    if (n < safe_end)
      rows_any<1, TM, D, false>(wtype, w + n * row_bytes, row_bytes, nb, x, pf, acc);
    else
      rows_any<1, TM, D, true>(wtype, w + n * row_bytes, row_bytes, nb, x, pf, acc);
    RMA_UNROLL
    for (int t = 0; t < TM; ++t) out[t * ldo + (n - n0)] = hsum512(acc[0][t]);
  }
}
#else
constexpr bool kHaveVnni = false;
#endif  // HWY_TARGET == HWY_AVX3_DL
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// The unsigned 6-bit values of half h (128 elements) of the q6_K block at
// `blk`, as four runs of 32 bytes: u[c] holds elements 32c .. 32c + 31 of
// the half (before the -32 offset), as block_decode.h lays them out.
HWY_INLINE void unpack_q6k_half(const uint8_t* blk, int h, __m256i u[4]) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3);
  const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h));
  const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32));
  const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
  u[0] = _mm256_or_si256(_mm256_and_si256(l0, low4),
                         _mm256_slli_epi16(_mm256_and_si256(qh, three), 4));
  u[1] = _mm256_or_si256(_mm256_and_si256(l1, low4),
                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), three), 4));
  u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), three), 4));
  u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), three), 4));
}
#endif

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
        for (int h = 0; h < 2; ++h) {
          __m256i u[4];
          unpack_q6k_half(blk, h, u);
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
// 16 values at a time: one zmm on AVX-512, two ymm on AVX2.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX2
enum class Affine { kMul, kAdd, kSub };  // scale * v, then + c, - c or nothing

// 16 bytes (as is, or minus bias) -> y[0..16) = scale * v (+/- c).
template <Affine A>
HWY_INLINE void put16(__m128i bytes, bool is_signed, int bias, float scale, float c, float* y) {
#if HWY_TARGET == HWY_AVX2
  for (int h = 0; h < 2; ++h) {
    const __m128i part = h ? _mm_srli_si128(bytes, 8) : bytes;
    __m256i v = is_signed ? _mm256_cvtepi8_epi32(part) : _mm256_cvtepu8_epi32(part);
    if (bias) v = _mm256_sub_epi32(v, _mm256_set1_epi32(bias));
    __m256 r = _mm256_mul_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(v));
    if constexpr (A == Affine::kAdd) r = _mm256_add_ps(r, _mm256_set1_ps(c));
    if constexpr (A == Affine::kSub) r = _mm256_sub_ps(r, _mm256_set1_ps(c));
    _mm256_storeu_ps(y + 8 * h, r);
  }
#else
  __m512i v = is_signed ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
  if (bias) v = _mm512_sub_epi32(v, _mm512_set1_epi32(bias));
  __m512 r = _mm512_mul_ps(_mm512_set1_ps(scale), _mm512_cvtepi32_ps(v));
  if constexpr (A == Affine::kAdd) r = _mm512_add_ps(r, _mm512_set1_ps(c));
  if constexpr (A == Affine::kSub) r = _mm512_sub_ps(r, _mm512_set1_ps(c));
  _mm512_storeu_ps(y, r);
#endif
}

void dequant_blocks(int32_t dtype, const uint8_t* src, int64_t nb, float* y) {
  const __m128i low4 = _mm_set1_epi8(0x0F);
  auto lo_nib = [&](__m128i q) { return _mm_and_si128(q, low4); };
  auto hi_nib = [&](__m128i q) { return _mm_and_si128(_mm_srli_epi16(q, 4), low4); };
  auto load16 = [](const uint8_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  };
  switch (dtype) {
    case RMA_DTYPE_Q8_0:
      for (int64_t b = 0; b < nb; ++b, src += 34, y += 32) {
        const float d = half(src);
        put16<Affine::kMul>(load16(src + 2), true, 0, d, 0.f, y);
        put16<Affine::kMul>(load16(src + 18), true, 0, d, 0.f, y + 16);
      }
      return;
    case RMA_DTYPE_Q4_0:
      for (int64_t b = 0; b < nb; ++b, src += 18, y += 32) {
        const float d = half(src);
        const __m128i q = load16(src + 2);
        put16<Affine::kMul>(lo_nib(q), false, 8, d, 0.f, y);
        put16<Affine::kMul>(hi_nib(q), false, 8, d, 0.f, y + 16);
      }
      return;
    case RMA_DTYPE_Q4_1:
      for (int64_t b = 0; b < nb; ++b, src += 20, y += 32) {
        const float d = half(src), m = half(src + 2);
        const __m128i q = load16(src + 4);
        put16<Affine::kAdd>(lo_nib(q), false, 0, d, m, y);
        put16<Affine::kAdd>(hi_nib(q), false, 0, d, m, y + 16);
      }
      return;
    case RMA_DTYPE_Q4_K:
    case RMA_DTYPE_Q5_K: {
      const bool q5 = dtype == RMA_DTYPE_Q5_K;
      const int64_t bytes = q5 ? sizeof(rma_block_q5_K) : sizeof(rma_block_q4_K);
      const __m128i one = _mm_set1_epi8(1);
      for (int64_t b = 0; b < nb; ++b, src += bytes, y += RMA_QK_K) {
        const float d = half(src), dmin = half(src + 2);
        for (int k = 0; k < 4; ++k) {
          int sc0, mn0, sc1, mn1;
          k4_scale_min(2 * k, src + 4, &sc0, &mn0);
          k4_scale_min(2 * k + 1, src + 4, &sc1, &mn1);
          const float d0 = d * static_cast<float>(sc0), m0 = dmin * static_cast<float>(mn0);
          const float d1 = d * static_cast<float>(sc1), m1 = dmin * static_cast<float>(mn1);
          for (int h = 0; h < 2; ++h) {
            const __m128i q = load16(src + (q5 ? 48 : 16) + 32 * k + 16 * h);
            __m128i lo = lo_nib(q), hi = hi_nib(q);
            if (q5) {
              const __m128i qh = load16(src + 16 + 16 * h);
              lo = _mm_or_si128(
                  lo, _mm_slli_epi16(
                          _mm_and_si128(_mm_srl_epi16(qh, _mm_cvtsi32_si128(2 * k)), one), 4));
              hi = _mm_or_si128(
                  hi, _mm_slli_epi16(
                          _mm_and_si128(_mm_srl_epi16(qh, _mm_cvtsi32_si128(2 * k + 1)), one), 4));
            }
            put16<Affine::kSub>(lo, false, 0, d0, m0, y + 64 * k + 16 * h);
            put16<Affine::kSub>(hi, false, 0, d1, m1, y + 64 * k + 32 + 16 * h);
          }
        }
      }
      return;
    }
    case RMA_DTYPE_Q6_K:
      for (int64_t b = 0; b < nb; ++b, src += sizeof(rma_block_q6_K), y += RMA_QK_K) {
        const float d = half(src + 208);
        const auto* sc = reinterpret_cast<const int8_t*>(src + 192);
        for (int h = 0; h < 2; ++h) {
          __m256i r[4];
          unpack_q6k_half(src, h, r);
          for (int c = 0; c < 4; ++c) {
            const __m256i q = _mm256_sub_epi8(r[c], _mm256_set1_epi8(32));
            for (int is = 0; is < 2; ++is) {
              const float s = d * static_cast<float>(sc[8 * h + is + 2 * c]);
              const __m128i part = is ? _mm256_extracti128_si256(q, 1) : _mm256_castsi256_si128(q);
              put16<Affine::kMul>(part, true, 0, s, 0.f, y + 128 * h + 32 * c + 16 * is);
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

// ------------------------------------------------------------ f32 path
// Dequantizes each weight row (exactly) and dots it with the f32 rows of x
// in f32: the accurate path of the targets without VNNI, and both paths of
// the portable one.
template <int TN>
void dot_rows(const float* wrow, int64_t K, const float* x, float* out, int64_t ldo) {
  const DF d;
  VF acc[TN][2];
  for (int t = 0; t < TN; ++t) acc[t][0] = acc[t][1] = hn::Zero(d);
  // K is a multiple of 32: whole pairs of vectors.
  for (int64_t k = 0; k < K; k += 2 * kL) {
    const VF w0 = hn::LoadU(d, wrow + k), w1 = hn::LoadU(d, wrow + k + kL);
    for (int t = 0; t < TN; ++t) {
      acc[t][0] = hn::MulAdd(hn::LoadU(d, x + t * K + k), w0, acc[t][0]);
      acc[t][1] = hn::MulAdd(hn::LoadU(d, x + t * K + k + kL), w1, acc[t][1]);
    }
  }
  for (int t = 0; t < TN; ++t)
    out[t * ldo] = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc[t][0], acc[t][1])));
}

void rows_dequant(int32_t wtype, const uint8_t* w, int64_t row_bytes, int64_t n0, int64_t n1,
                  int64_t K, const float* x, int64_t tm, float* wrow, float* out, int64_t ldo) {
  const int64_t nb = K / block_elems_of(wtype);
  for (int64_t n = n0; n < n1; ++n) {
    dequant_blocks(wtype, w + n * row_bytes, nb, wrow);
    float* o = out + (n - n0);
    switch (tm) {
      case 1: dot_rows<1>(wrow, K, x, o, ldo); break;
      case 2: dot_rows<2>(wrow, K, x, o, ldo); break;
      case 3: dot_rows<3>(wrow, K, x, o, ldo); break;
      default: dot_rows<4>(wrow, K, x, o, ldo); break;
    }
  }
}

// ------------------------------------------------------------ driver
void epilogue_out(const float* acc, int64_t n, const Epilogue& ep, int64_t n0, void* y,
                  int32_t dtype) {
  epilogue_row(acc, n, ep.bias ? ep.bias + n0 : nullptr, ep.alpha, ep.act, ep.act_param, y, dtype);
}

// Rows of x up to which the GEMV runs; past it the f32 GEMM.
int64_t gemv_max_rows_impl(bool fast) {
  if (kHaveVnni) return fast ? qcfg::kGemvMaxRows : qcfg::kAccurateGemvMaxRows;
  if (kHaveMaddubs) return fast ? qcfg::kGemvMaxRows : qcfg::kF32GemvMaxRows;
  return qcfg::kGemvMaxRows;  // portable: its f32 GEMV beats its GEMM at every T
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
  // The integer kernels (x in digits), or the f32 path.
  const bool integer = kHaveVnni || (a.fast && kHaveMaddubs);
  const int digits = a.fast ? kFastDigits : kAccurateDigits;

  // Scratch: x as f32 [T, K], then per row of x its digits and the layouts
  // the kernels read.
  const size_t digit_f = pad16(nb_pad * 8 * digits);  // nb_pad * 32 * digits bytes
  const size_t row_f = integer ? digit_f + 5 * pad16(nb_pad) + 3 * pad16(2 * nb_pad) +
                                     pad16(32 * pairs) + pad16(16 * pairs) + pad16(4 * nb_pad)
                               : 0;
  thread_local ScratchArena arena;
  const size_t xf_f = pad16(T * K);
  float* base = arena.get(xf_f + row_f * T);
  if (!base) return false;
  float* xf = base;
  for (int64_t t = 0; t < T; ++t)
    to_f32(a.x_dtype, static_cast<const uint8_t*>(a.x) + t * K * xes, xf + t * K, K);

  thread_local std::vector<QRow> qrows;
  qrows.resize(static_cast<size_t>(integer ? T : 0));
#if HWY_TARGET == HWY_AVX3_DL
  thread_local std::vector<XRow> xrows;
  xrows.resize(static_cast<size_t>(T));
#endif
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
  thread_local std::vector<QView> views;
  views.resize(qrows.size());
#endif
  for (size_t t = 0; t < qrows.size(); ++t) {
    float* p = base + xf_f + row_f * t;
    auto take = [&p](size_t floats) {
      float* q = p;
      p += floats;
      return q;
    };
    QRow& r = qrows[t];
    r.q = reinterpret_cast<int8_t*>(take(digit_f));
    r.d = take(pad16(nb_pad));
    r.s = reinterpret_cast<int32_t*>(take(pad16(nb_pad)));
    r.s1 = reinterpret_cast<int32_t*>(take(pad16(nb_pad)));
    r.s16 = reinterpret_cast<int32_t*>(take(pad16(2 * nb_pad)));
    float* ds = take(pad16(nb_pad));
    float* dxs = take(pad16(2 * nb_pad));
    float* o16 = take(pad16(2 * nb_pad));
    auto* icorr = reinterpret_cast<int32_t*>(take(pad16(32 * pairs)));
    float* spread = take(pad16(16 * pairs));
    float* kd = take(pad16(4 * nb_pad));
#if HWY_TARGET == HWY_AVX3_DL
    quantize_row_digits(xf + t * K, nb32, nb_pad, digits, quad_layout(a.w_dtype), r);
    build_xrow(a.w_dtype, digits, r, nb_pad, icorr, spread, dxs, ds, o16, kd);
    xrows[t] = {r.q, icorr, spread, dxs, r.d, o16, kd};
#else
    quantize_row_digits(xf + t * K, nb32, nb_pad, digits, false, r);
    (void)icorr, (void)spread, (void)dxs, (void)o16, (void)kd;
    for (int64_t b = 0; b < nb_pad; ++b) ds[b] = r.d[b] * static_cast<float>(r.s[b]);
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
    views[t] = {r.q, r.d, ds, r.s16};
#endif
#endif
  }

  // (The workers see their own thread_locals: hand them the caller's.)
#if HWY_TARGET == HWY_AVX3_DL
  const XRow* xrow_all = xrows.data();
#endif
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
  const QView* view_all = views.data();
#endif
  const auto* w = static_cast<const uint8_t*>(a.w);
  constexpr int64_t kChunk = 64;
  const int64_t grain = qcfg::kGemvRowGrain;
  const int64_t units = ceil_div(N, grain);
  // Small calls stay on the calling thread: waking another costs more.
  const bool serial = N * row_bytes * T < qcfg::kMinParallelBytes;
  pool.parallel_for(units, serial ? units : 1, [&](int64_t c0, int64_t c1) {
    const int64_t n_begin = c0 * grain, n_end = std::min(N, c1 * grain);
    HWY_ALIGN float out[qcfg::kGemvGroup * kChunk];
    thread_local std::vector<float> wrow;
    if (!integer && static_cast<int64_t>(wrow.size()) < K) wrow.resize(static_cast<size_t>(K));
#if HWY_TARGET == HWY_AVX3_DL
    Prefetcher pf{reinterpret_cast<const char*>(
                      reinterpret_cast<uintptr_t>(w + n_begin * row_bytes) & ~uintptr_t{63}),
                  reinterpret_cast<const char*>(w + n_end * row_bytes)};
#endif
    for (int64_t n0 = n_begin; n0 < n_end; n0 += kChunk) {
      const int64_t n1 = std::min(n_end, n0 + kChunk);
      for (int64_t t0 = 0; t0 < T; t0 += qcfg::kGemvGroup) {
        const int64_t tm = std::min<int64_t>(qcfg::kGemvGroup, T - t0);
        if (!integer) {
          rows_dequant(a.w_dtype, w, row_bytes, n0, n1, K, xf + t0 * K, tm, wrow.data(), out,
                       kChunk);
        } else {
#if HWY_TARGET == HWY_AVX3_DL
          const XRow* xr = xrow_all + t0;
#define RMA_ROWS(TM, D) \
  rows_vnni<TM, D>(a.w_dtype, w, row_bytes, n0, n1, N, nb32, xr, out, kChunk, pf)
          if (digits == kFastDigits) {
            switch (tm) {
              case 1: RMA_ROWS(1, kFastDigits); break;
              case 2: RMA_ROWS(2, kFastDigits); break;
              case 3: RMA_ROWS(3, kFastDigits); break;
              default: RMA_ROWS(4, kFastDigits); break;
            }
          } else {
            switch (tm) {
              case 1: RMA_ROWS(1, kAccurateDigits); break;
              case 2: RMA_ROWS(2, kAccurateDigits); break;
              case 3: RMA_ROWS(3, kAccurateDigits); break;
              default: RMA_ROWS(4, kAccurateDigits); break;
            }
          }
#undef RMA_ROWS
#elif HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
          const QView* xv = view_all + t0;
          switch (tm) {
            case 1: rows_maddubs<1>(a.w_dtype, w, row_bytes, n0, n1, nb32, xv, out, kChunk); break;
            case 2: rows_maddubs<2>(a.w_dtype, w, row_bytes, n0, n1, nb32, xv, out, kChunk); break;
            case 3: rows_maddubs<3>(a.w_dtype, w, row_bytes, n0, n1, nb32, xv, out, kChunk); break;
            default: rows_maddubs<4>(a.w_dtype, w, row_bytes, n0, n1, nb32, xv, out, kChunk); break;
          }
#endif
        }
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

const char* target_impl(bool fast) {
  if (kHaveVnni)
    return fast ? "avx512-vnni int8 dot (vpdpbusd), x in q8 blocks"
                : "avx512-vnni int8 dot (vpdpbusd), x in 24-bit blocks (3 int8 digits)";
  if (fast && kHaveMaddubs) return "avx2 int8 dot (vpmaddubsw), x in q8 blocks";
  return "dequantize + f32 dot";
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(quant_gemv_impl);
HWY_EXPORT(dequantize_rows_impl);
HWY_EXPORT(target_impl);
HWY_EXPORT(gemv_max_rows_impl);

bool quant_gemv(ThreadPool& pool, const QuantLinearArgs& args) {
  return HWY_DYNAMIC_DISPATCH(quant_gemv_impl)(pool, args);
}
void dequantize_rows(const void* source, int64_t i0, int64_t rows, int64_t k0, int64_t kc,
                     float* dst, int64_t ld_dst) {
  HWY_DYNAMIC_DISPATCH(dequantize_rows_impl)(source, i0, rows, k0, kc, dst, ld_dst);
}
const char* quant_gemv_target(bool fast) {
  return HWY_DYNAMIC_DISPATCH(target_impl)(fast);
}
int64_t quant_gemv_max_rows(bool fast) {
  return HWY_DYNAMIC_DISPATCH(gemv_max_rows_impl)(fast);
}
}  // namespace rma::cpu
#endif
