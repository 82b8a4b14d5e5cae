// Row quantization in the GGUF/ggml block layouts (rma/formats.h).
//
// Dequantization must agree with ggml bit for bit in meaning (GGUF weights are
// loaded as they are). Quantization follows the round-to-nearest reference
// quantizers: q8_0/q4_0/q4_1 reproduce ggml's reference rounding exactly; the
// k-quants use a small per-sub-block scale search that is simpler than ggml's
// but yields valid blocks with a comparable error.
#include "rma/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "rma/block_decode.h"
#include "rma/error.h"
#include "rma/formats.h"
#include "rma/half.h"

namespace rma {
namespace {

constexpr int kQ4KSubBlocks = RMA_QK_K / 32;  // 8 sub-blocks of 32
constexpr int kQ6KSubBlocks = RMA_QK_K / 16;  // 16 sub-blocks of 16

std::string dtype_label(DType dtype) {
  const auto id = static_cast<int32_t>(dtype);
  if (!is_valid(id)) return "dtype id " + std::to_string(id);
  return "dtype " + std::string(name(dtype));
}

// Checks dtype and n; returns the number of blocks.
int64_t checked_blocks(const char* fn, DType dtype, int64_t n) {
  const auto id = static_cast<int32_t>(dtype);
  if (!is_valid(id) || !(is_float(dtype) || is_quantized(dtype)))
    throw Error(ErrorCode::kInvalidArgument,
                std::string(fn) + ": " + dtype_label(dtype) +
                    " is neither a float nor a block-quantized type (n = " + std::to_string(n) +
                    ")");
  const int64_t be = block_elems(dtype);
  if (n < 0 || n % be != 0)
    throw Error(ErrorCode::kInvalidArgument,
                std::string(fn) + ": " + dtype_label(dtype) + " needs n to be a multiple of " +
                    std::to_string(be) + ", got n = " + std::to_string(n));
  return n / be;
}

// Rounds half to even (as ggml's nearest_int does for the k-quants) into
// [lo, hi]; clamping first keeps huge or NaN values from overflowing the int.
int level(float v, int lo, int hi) {
  if (!(v > static_cast<float>(lo))) return lo;
  if (!(v < static_cast<float>(hi))) return hi;
  return static_cast<int>(std::nearbyint(v));
}

// ---------------------------------------------------------------- q8_0
void quantize_q8_0(const float* x, rma_block_q8_0* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += RMA_QK8_0) {
    float amax = 0.f;
    for (int i = 0; i < RMA_QK8_0; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[b].d = f32_to_f16(d);
    for (int i = 0; i < RMA_QK8_0; ++i) y[b].qs[i] = static_cast<int8_t>(std::round(x[i] * id));
  }
}

// ---------------------------------------------------------------- q4_0
// Element i < 16 is the low nibble of qs[i], element i + 16 the high nibble.
void quantize_q4_0(const float* x, rma_block_q4_0* y, int64_t nb) {
  constexpr int kHalf = RMA_QK4_0 / 2;
  for (int64_t b = 0; b < nb; ++b, x += RMA_QK4_0) {
    // The signed value of largest magnitude maps to -8, using the whole
    // [-8, 7] range on that side.
    float amax = 0.f, vmax = 0.f;
    for (int i = 0; i < RMA_QK4_0; ++i) {
      if (std::fabs(x[i]) > amax) {
        amax = std::fabs(x[i]);
        vmax = x[i];
      }
    }
    const float d = vmax / -8.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[b].d = f32_to_f16(d);
    for (int i = 0; i < kHalf; ++i) {
      // x*id lies in [-8, 8], so +8.5 is positive and truncation rounds.
      const int q0 = std::min(15, static_cast<int>(x[i] * id + 8.5f));
      const int q1 = std::min(15, static_cast<int>(x[i + kHalf] * id + 8.5f));
      y[b].qs[i] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

// ---------------------------------------------------------------- q4_1
void quantize_q4_1(const float* x, rma_block_q4_1* y, int64_t nb) {
  constexpr int kHalf = RMA_QK4_1 / 2;
  for (int64_t b = 0; b < nb; ++b, x += RMA_QK4_1) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < RMA_QK4_1; ++i) {
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
    }
    const float d = (hi - lo) / 15.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[b].d = f32_to_f16(d);
    y[b].m = f32_to_f16(lo);
    for (int i = 0; i < kHalf; ++i) {
      const int q0 = std::min(15, static_cast<int>((x[i] - lo) * id + 0.5f));
      const int q1 = std::min(15, static_cast<int>((x[i + kHalf] - lo) * id + 0.5f));
      y[b].qs[i] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

// ---------------------------------------------------------------- q4_K
void pack_scale_min_k4(const int* sc, const int* mn, uint8_t* s) {
  std::memset(s, 0, RMA_K_SCALE_SIZE);
  for (int j = 0; j < kQ4KSubBlocks; ++j) {
    if (j < 4) {
      s[j] |= static_cast<uint8_t>(sc[j]);
      s[j + 4] |= static_cast<uint8_t>(mn[j]);
    } else {
      s[j + 4] = static_cast<uint8_t>((sc[j] & 0x0F) | ((mn[j] & 0x0F) << 4));
      s[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      s[j] |= static_cast<uint8_t>((mn[j] >> 4) << 6);
    }
  }
}

// Fits x ~ scale * q - mn with q in [0, nmax] and mn >= 0 (the format stores
// a non-negative min that is subtracted). Starts from the min/max fit and
// tries a few narrower/wider grids, refining each by least squares; keeps the
// one with the smallest squared error.
void fit_scale_min(const float* x, int n, int nmax, float* scale, float* mn) {
  float lo = std::min(0.f, *std::min_element(x, x + n));
  const float hi = *std::max_element(x, x + n);
  *scale = 0.f;
  *mn = -lo;
  if (!(hi > lo)) return;
  float best_err = INFINITY;
  for (int step = -6; step <= 6; ++step) {
    const float range = static_cast<float>(nmax) + 0.1f * static_cast<float>(step);
    float s = (hi - lo) / range;
    float off = lo;
    // Assign levels, then solve the 2x2 least squares for (s, off).
    double sq = 0, sqq = 0, sx = 0, sxq = 0;
    for (int i = 0; i < n; ++i) {
      const int q = level((x[i] - off) / s, 0, nmax);
      sq += q;
      sqq += double(q) * q;
      sx += x[i];
      sxq += double(x[i]) * q;
    }
    const double det = n * sqq - sq * sq;
    if (det > 0) {
      double ls = (n * sxq - sq * sx) / det;
      double loff = (sqq * sx - sq * sxq) / det;
      if (loff > 0) {  // the min must stay <= 0: refit the scale alone
        loff = 0;
        ls = sxq / sqq;
      }
      if (ls > 0) {
        s = static_cast<float>(ls);
        off = static_cast<float>(loff);
      }
    }
    double err = 0;
    for (int i = 0; i < n; ++i) {
      const int q = level((x[i] - off) / s, 0, nmax);
      const double e = double(x[i]) - (double(s) * q + off);
      err += e * e;
    }
    if (err < best_err) {
      best_err = err;
      *scale = s;
      *mn = -off;
    }
  }
}

// The super-block header shared by q4_K and q5_K: fits each sub-block of 32
// as scale * q - min with q in [0, nmax], then stores the scales and mins as
// 6-bit levels of the super-block's d and dmin. Writes the levels to ls, lm
// (and packed into `scales`); returns d and dmin as they will be decoded.
void fit_k_header(const float* x, int nmax, uint16_t* d_out, uint16_t* dmin_out, uint8_t* scales,
                  int* ls, int* lm) {
  float sub_scales[kQ4KSubBlocks], sub_mins[kQ4KSubBlocks];
  float max_scale = 0.f, max_min = 0.f;
  for (int j = 0; j < kQ4KSubBlocks; ++j) {
    fit_scale_min(x + 32 * j, 32, nmax, &sub_scales[j], &sub_mins[j]);
    max_scale = std::max(max_scale, sub_scales[j]);
    max_min = std::max(max_min, sub_mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < kQ4KSubBlocks; ++j) {
    ls[j] = level(inv_scale * sub_scales[j], 0, 63);
    lm[j] = level(inv_min * sub_mins[j], 0, 63);
  }
  *d_out = f32_to_f16(max_scale / 63.f);
  *dmin_out = f32_to_f16(max_min / 63.f);
  pack_scale_min_k4(ls, lm, scales);
}

// Levels in [0, nmax] of a super-block against its scales as they decode,
// so the rounding sees the f16 and 6-bit errors of the header.
void k_levels(const float* x, uint16_t d16, uint16_t dmin16, const int* ls, const int* lm, int nmax,
              uint8_t* q) {
  const float d = f16_to_f32(d16);
  const float dmin = f16_to_f32(dmin16);
  for (int j = 0; j < kQ4KSubBlocks; ++j) {
    const float sd = d * static_cast<float>(ls[j]);
    const float sm = dmin * static_cast<float>(lm[j]);
    for (int i = 0; i < 32; ++i) {
      const int l = sd != 0.f ? level((x[32 * j + i] + sm) / sd, 0, nmax) : 0;
      q[32 * j + i] = static_cast<uint8_t>(l);
    }
  }
}

void quantize_q4_K(const float* x, rma_block_q4_K* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += RMA_QK_K) {
    int ls[kQ4KSubBlocks], lm[kQ4KSubBlocks];
    fit_k_header(x, 15, &y[b].d, &y[b].dmin, y[b].scales, ls, lm);
    uint8_t q[RMA_QK_K];
    k_levels(x, y[b].d, y[b].dmin, ls, lm, 15, q);
    // Each 32 bytes of qs hold 64 elements: sub-block 2k in the low nibbles,
    // sub-block 2k + 1 in the high nibbles.
    for (int k = 0; k < RMA_QK_K / 64; ++k)
      for (int i = 0; i < 32; ++i)
        y[b].qs[32 * k + i] = static_cast<uint8_t>(q[64 * k + i] | (q[64 * k + 32 + i] << 4));
  }
}

// ---------------------------------------------------------------- q5_K
// As q4_K with 5-bit levels: the low 4 bits in qs (same nibble order), the
// fifth bit of element 64k + i at bit 2k of qh[i], of 64k + 32 + i at 2k + 1.
void quantize_q5_K(const float* x, rma_block_q5_K* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += RMA_QK_K) {
    int ls[kQ4KSubBlocks], lm[kQ4KSubBlocks];
    fit_k_header(x, 31, &y[b].d, &y[b].dmin, y[b].scales, ls, lm);
    uint8_t q[RMA_QK_K];
    k_levels(x, y[b].d, y[b].dmin, ls, lm, 31, q);
    std::memset(y[b].qh, 0, sizeof(y[b].qh));
    for (int k = 0; k < RMA_QK_K / 64; ++k)
      for (int i = 0; i < 32; ++i) {
        const int lo = q[64 * k + i], hi = q[64 * k + 32 + i];
        y[b].qs[32 * k + i] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
        y[b].qh[i] |= static_cast<uint8_t>(((lo >> 4) << (2 * k)) | ((hi >> 4) << (2 * k + 1)));
      }
  }
}

// ---------------------------------------------------------------- q6_K
// Symmetric fit x ~ scale * q, q in [-32, 31]. Tries grids where the value of
// largest magnitude maps near -32 (or +31), refining each by least squares.
float fit_scale_q6(const float* x, int n) {
  float amax = 0.f, vmax = 0.f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      vmax = x[i];
    }
  }
  if (amax == 0.f) return 0.f;
  float best = vmax / -32.f;
  double best_err = INFINITY;
  for (int step = -9; step <= 9; ++step) {
    const float iscale = -(32.f + 0.1f * static_cast<float>(step)) / vmax;
    double sxq = 0, sqq = 0;
    for (int i = 0; i < n; ++i) {
      const int q = level(iscale * x[i], -32, 31);
      sxq += double(x[i]) * q;
      sqq += double(q) * q;
    }
    if (sqq <= 0) continue;
    const float s = static_cast<float>(sxq / sqq);
    double err = 0;
    for (int i = 0; i < n; ++i) {
      const int q = s != 0.f ? level(x[i] / s, -32, 31) : 0;
      const double e = double(x[i]) - double(s) * q;
      err += e * e;
    }
    if (err < best_err) {
      best_err = err;
      best = s;
    }
  }
  return best;
}

void quantize_q6_K(const float* x, rma_block_q6_K* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += RMA_QK_K) {
    float scales[kQ6KSubBlocks];
    float amax = 0.f, vmax = 0.f;  // sub-block scale of largest magnitude
    for (int j = 0; j < kQ6KSubBlocks; ++j) {
      scales[j] = fit_scale_q6(x + 16 * j, 16);
      if (std::fabs(scales[j]) > amax) {
        amax = std::fabs(scales[j]);
        vmax = scales[j];
      }
    }
    // int8 sub-block scales: the largest maps to -128, as in ggml.
    const float iscale = vmax != 0.f ? -128.f / vmax : 0.f;
    y[b].d = f32_to_f16(vmax != 0.f ? 1.f / iscale : 0.f);
    for (int j = 0; j < kQ6KSubBlocks; ++j)
      y[b].scales[j] = static_cast<int8_t>(level(iscale * scales[j], -128, 127));

    const float d = f16_to_f32(y[b].d);
    uint8_t q[RMA_QK_K];  // biased: 0..63 stands for -32..31
    for (int j = 0; j < kQ6KSubBlocks; ++j) {
      const float sd = d * static_cast<float>(y[b].scales[j]);
      for (int i = 0; i < 16; ++i) {
        const int l = sd != 0.f ? level(x[16 * j + i] / sd, -32, 31) : 0;
        q[16 * j + i] = static_cast<uint8_t>(l + 32);
      }
    }
    // Each half of 128 elements uses 64 bytes of ql and 32 of qh. Within a
    // half, element l + 32 * r (r = 0..3, l = 0..31) keeps its low 4 bits in
    // ql[l + 32 * (r & 1)] (low nibble for r < 2, high for r >= 2) and its
    // high 2 bits in qh[l] at bit 2 * r.
    for (int h = 0; h < 2; ++h) {
      const uint8_t* qq = q + 128 * h;
      uint8_t* ql = y[b].ql + 64 * h;
      uint8_t* qh = y[b].qh + 32 * h;
      for (int l = 0; l < 32; ++l) {
        const int q1 = qq[l], q2 = qq[l + 32], q3 = qq[l + 64], q4 = qq[l + 96];
        ql[l] = static_cast<uint8_t>((q1 & 0x0F) | ((q3 & 0x0F) << 4));
        ql[l + 32] = static_cast<uint8_t>((q2 & 0x0F) | ((q4 & 0x0F) << 4));
        qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) |
                                     ((q4 >> 4) << 6));
      }
    }
  }
}

}  // namespace

void quantize_row(DType dtype, const float* src, void* dst, int64_t n) {
  const int64_t nb = checked_blocks("quantize_row", dtype, n);
  if (n == 0) return;  // src and dst may be null
  switch (dtype) {
    case DType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); break;
    case DType::kF16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = f32_to_f16(src[i]);
      break;
    }
    case DType::kBF16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(src[i]);
      break;
    }
    case DType::kQ8_0: quantize_q8_0(src, static_cast<rma_block_q8_0*>(dst), nb); break;
    case DType::kQ4_0: quantize_q4_0(src, static_cast<rma_block_q4_0*>(dst), nb); break;
    case DType::kQ4_1: quantize_q4_1(src, static_cast<rma_block_q4_1*>(dst), nb); break;
    case DType::kQ4_K: quantize_q4_K(src, static_cast<rma_block_q4_K*>(dst), nb); break;
    case DType::kQ5_K: quantize_q5_K(src, static_cast<rma_block_q5_K*>(dst), nb); break;
    case DType::kQ6_K: quantize_q6_K(src, static_cast<rma_block_q6_K*>(dst), nb); break;
    default: break;  // rejected by checked_blocks
  }
}

void dequantize_row(DType dtype, const void* src, float* dst, int64_t n) {
  const int64_t nb = checked_blocks("dequantize_row", dtype, n);
  if (n == 0) return;  // src and dst may be null
  switch (dtype) {
    case DType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); break;
    case DType::kF16: {
      const auto* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(in[i]);
      break;
    }
    case DType::kBF16: {
      const auto* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(in[i]);
      break;
    }
    case DType::kQ8_0: decode_q8_0(static_cast<const rma_block_q8_0*>(src), dst, nb); break;
    case DType::kQ4_0: decode_q4_0(static_cast<const rma_block_q4_0*>(src), dst, nb); break;
    case DType::kQ4_1: decode_q4_1(static_cast<const rma_block_q4_1*>(src), dst, nb); break;
    case DType::kQ4_K: decode_q4_K(static_cast<const rma_block_q4_K*>(src), dst, nb); break;
    case DType::kQ6_K: decode_q6_K(static_cast<const rma_block_q6_K*>(src), dst, nb); break;
    case DType::kQ5_K: decode_q5_K(static_cast<const rma_block_q5_K*>(src), dst, nb); break;
    default: break;  // rejected by checked_blocks
  }
}

}  // namespace rma
