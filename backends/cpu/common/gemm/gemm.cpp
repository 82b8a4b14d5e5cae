// GEMM and GEMV kernels shared by linear and quant_linear, per SIMD target
// (see gemm.h).
//
// gemm: BLIS-style blocking. For each block of kNC columns and kKC depth the
// threads pack B together into kKC x NR micro-panels (converting f16/bf16 or
// dequantizing on the way), meet at a barrier, then each packs its own rows
// of A into kKC x MR micro-panels and runs the MR x NR register-blocked
// micro-kernel over them. The micro-kernel keeps the whole tile in registers
// across the depth loop; on the last depth block it applies alpha, bias and
// the activation in registers and stores y in its dtype (earlier depth blocks
// leave f32 partial sums in y itself for f32, in a scratch otherwise).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "common/gemm/gemm.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format off
#include <hwy/contrib/math/math-inl.h>
// clang-format on

#include "common/gemm/config.h"
#include "common/gemm/gemm.h"
#include "common/gemm/gemm_util.h"
#include "rma/half.h"

#if defined(__GNUC__)
#define RMA_UNROLL _Pragma("GCC unroll 16")
#else
#define RMA_UNROLL
#endif

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace cfg = gemm_config;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
constexpr int kL = HWY_LANES(float);

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
constexpr int kMR = cfg::kAvx512MR;
constexpr int kNV = cfg::kAvx512NV;
#elif HWY_TARGET == HWY_AVX2
constexpr int kMR = cfg::kAvx2MR;
constexpr int kNV = cfg::kAvx2NV;
#else
constexpr int kMR = 4;
constexpr int kNV = 2;
#endif
constexpr int kNR = kNV * kL;

// ------------------------------------------------------------ activations
// erfc(z) for z >= 0 with a fractional error below 1.2e-7 (the Chebyshev
// fit t * exp(-z^2 + P(t)), t = 1 / (1 + z / 2)): unlike 1 - erf it keeps
// its relative accuracy in the tail, so gelu of large negative x is right.
HWY_INLINE VF erfc_nonneg(DF d, VF z) {
  const VF t = hn::Div(hn::Set(d, 1.f), hn::MulAdd(hn::Set(d, 0.5f), z, hn::Set(d, 1.f)));
  VF p = hn::Set(d, 0.17087277f);
  p = hn::MulAdd(p, t, hn::Set(d, -0.82215223f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.48851587f));
  p = hn::MulAdd(p, t, hn::Set(d, -1.13520398f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.27886807f));
  p = hn::MulAdd(p, t, hn::Set(d, -0.18628806f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.09678418f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.37409196f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.00002368f));
  p = hn::MulAdd(p, t, hn::Set(d, -1.26551223f));
  return hn::Mul(t, hn::Exp(d, hn::Sub(p, hn::Mul(z, z))));
}

// 1 / (1 + e^-x); the exponent is clamped where e^-x leaves f32 range.
HWY_INLINE VF sigmoid(DF d, VF x) {
  const VF e = hn::Exp(d, hn::Min(hn::Neg(x), hn::Set(d, 88.f)));
  return hn::Div(hn::Set(d, 1.f), hn::Add(hn::Set(d, 1.f), e));
}

HWY_INLINE VF tanh_clamped(DF d, VF x) {
  // tanh(+-9) rounds to +-1 in f32; the clamp keeps x^3 terms finite.
  return hn::Tanh(d, hn::Min(hn::Max(x, hn::Set(d, -9.f)), hn::Set(d, 9.f)));
}

HWY_INLINE VF activate(DF d, VF v, int32_t act, float param) {
  switch (act) {
    case RMA_ACT_RELU:
      return hn::Max(v, hn::Zero(d));
    case RMA_ACT_LEAKY_RELU:
      return hn::IfThenElse(hn::Gt(v, hn::Zero(d)), v, hn::Mul(v, hn::Set(d, param)));
    case RMA_ACT_GELU: {
      // 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(-x / sqrt 2)
      const VF z = hn::Min(hn::Mul(hn::Abs(v), hn::Set(d, 0.70710678118654752f)), hn::Set(d, 9.f));
      const VF e = erfc_nonneg(d, z);
      const VF f = hn::IfThenElse(hn::Lt(v, hn::Zero(d)), e, hn::Sub(hn::Set(d, 2.f), e));
      return hn::Mul(hn::Mul(hn::Set(d, 0.5f), v), f);
    }
    case RMA_ACT_GELU_TANH: {
      const VF v3 = hn::Mul(hn::Mul(v, v), v);
      const VF inner =
          hn::Mul(hn::Set(d, 0.7978845608028654f), hn::MulAdd(hn::Set(d, 0.044715f), v3, v));
      const VF th = tanh_clamped(d, inner);
      return hn::Mul(hn::Mul(hn::Set(d, 0.5f), v), hn::Add(hn::Set(d, 1.f), th));
    }
    case RMA_ACT_SILU:
      return hn::Mul(v, sigmoid(d, v));
    case RMA_ACT_SIGMOID:
      return sigmoid(d, v);
    case RMA_ACT_TANH:
      return tanh_clamped(d, v);
    default:
      return v;
  }
}

// ------------------------------------------------------------ loads/stores
// A full vector of `dtype` elements at p, as f32.
HWY_INLINE VF load_as_f32(DF d, int32_t dtype, const void* p) {
  if (dtype == RMA_DTYPE_F16) {
    const hn::Rebind<hwy::float16_t, DF> dh;
    return hn::PromoteTo(d, hn::LoadU(dh, static_cast<const hwy::float16_t*>(p)));
  }
  if (dtype == RMA_DTYPE_BF16) {
    const hn::Rebind<uint16_t, DF> du16;
    const hn::RebindToUnsigned<DF> du32;
    const auto w = hn::PromoteTo(du32, hn::LoadU(du16, static_cast<const uint16_t*>(p)));
    return hn::BitCast(d, hn::ShiftLeft<16>(w));
  }
  return hn::LoadU(d, static_cast<const float*>(p));
}

// Stores a full vector as `dtype` at p (round to nearest even).
HWY_INLINE void store_as(DF d, VF v, int32_t dtype, void* p) {
  if (dtype == RMA_DTYPE_F16) {
    const hn::Rebind<hwy::float16_t, DF> dh;
    hn::StoreU(hn::DemoteTo(dh, v), dh, static_cast<hwy::float16_t*>(p));
  } else if (dtype == RMA_DTYPE_BF16) {
    const hn::RebindToUnsigned<DF> du32;
    const hn::RebindToSigned<DF> di32;
    const hn::Rebind<uint16_t, DF> du16;
    auto u = hn::BitCast(du32, v);
    const auto lsb = hn::And(hn::ShiftRight<16>(u), hn::Set(du32, 1));
    u = hn::Add(u, hn::Add(hn::Set(du32, 0x7FFF), lsb));
    hn::StoreU(hn::DemoteTo(du16, hn::BitCast(di32, hn::ShiftRight<16>(u))), du16,
               static_cast<uint16_t*>(p));
  } else {
    hn::StoreU(v, d, static_cast<float*>(p));
  }
}

inline size_t dtype_size(int32_t dtype) { return dtype == RMA_DTYPE_F32 ? 4 : 2; }

inline float scalar_to_f32(int32_t dtype, const void* p, int64_t i) {
  if (dtype == RMA_DTYPE_F16) return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
  if (dtype == RMA_DTYPE_BF16) return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
  return static_cast<const float*>(p)[i];
}

inline void scalar_store(int32_t dtype, void* p, int64_t i, float v) {
  if (dtype == RMA_DTYPE_F16)
    static_cast<uint16_t*>(p)[i] = f32_to_f16(v);
  else if (dtype == RMA_DTYPE_BF16)
    static_cast<uint16_t*>(p)[i] = f32_to_bf16(v);
  else
    static_cast<float*>(p)[i] = v;
}

// n elements of `dtype` at src -> f32 at dst.
void convert_row(int32_t dtype, const void* src, float* dst, int64_t n) {
  if (dtype == RMA_DTYPE_F32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  const DF d;
  const size_t es = dtype_size(dtype);
  int64_t i = 0;
  for (; i + kL <= n; i += kL)
    hn::StoreU(load_as_f32(d, dtype, static_cast<const uint8_t*>(src) + i * es), d, dst + i);
  for (; i < n; ++i) dst[i] = scalar_to_f32(dtype, src, i);
}

// y = act(alpha * x + bias) over n elements, stored as dtype.
void epilogue_row_impl(const float* x, int64_t n, const float* bias, float alpha, int32_t act,
                       float param, void* y, int32_t dtype) {
  const DF d;
  const size_t es = dtype_size(dtype);
  const VF va = hn::Set(d, alpha);
  int64_t i = 0;
  for (; i + kL <= n; i += kL) {
    VF v = hn::Mul(hn::LoadU(d, x + i), va);
    if (bias) v = hn::Add(v, hn::LoadU(d, bias + i));
    store_as(d, activate(d, v, act, param), dtype, static_cast<uint8_t*>(y) + i * es);
  }
  if (i < n) {
    HWY_ALIGN float buf[kL] = {};
    const int64_t r = n - i;
    for (int64_t j = 0; j < r; ++j) buf[j] = x[i + j] * alpha + (bias ? bias[i + j] : 0.f);
    hn::Store(activate(d, hn::Load(d, buf), act, param), d, buf);
    for (int64_t j = 0; j < r; ++j) scalar_store(dtype, y, i + j, buf[j]);
  }
}

// ------------------------------------------------------------ transposes
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// 16 rows of 16 floats (row r at src + r * ld; rows >= rows are zero) ->
// 16 columns, column c stored at dst + c * dst_stride (width lanes, masked).
HWY_INLINE void transpose16(const float* src, int64_t ld, int rows, float* dst, int64_t dst_stride,
                            int width) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i)
    r[i] = i < rows ? _mm512_loadu_ps(src + i * ld) : _mm512_setzero_ps();
  RMA_UNROLL
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  RMA_UNROLL
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  // r[4i + j] holds, in 128-bit lane q, rows 4i..4i+3 of column 4q + j.
  const __mmask16 mask = static_cast<__mmask16>((1u << width) - 1);
  RMA_UNROLL
  for (int j = 0; j < 4; ++j) {
    const __m512 v0 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x44);
    const __m512 v1 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xEE);
    const __m512 v2 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x44);
    const __m512 v3 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xEE);
    const __m512 c0 = _mm512_shuffle_f32x4(v0, v2, 0x88);
    const __m512 c1 = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    const __m512 c2 = _mm512_shuffle_f32x4(v1, v3, 0x88);
    const __m512 c3 = _mm512_shuffle_f32x4(v1, v3, 0xDD);
    if (width == 16) {
      _mm512_storeu_ps(dst + j * dst_stride, c0);
      _mm512_storeu_ps(dst + (4 + j) * dst_stride, c1);
      _mm512_storeu_ps(dst + (8 + j) * dst_stride, c2);
      _mm512_storeu_ps(dst + (12 + j) * dst_stride, c3);
    } else {
      _mm512_mask_storeu_ps(dst + j * dst_stride, mask, c0);
      _mm512_mask_storeu_ps(dst + (4 + j) * dst_stride, mask, c1);
      _mm512_mask_storeu_ps(dst + (8 + j) * dst_stride, mask, c2);
      _mm512_mask_storeu_ps(dst + (12 + j) * dst_stride, mask, c3);
    }
  }
}
constexpr int kTBlock = 16;
#undef RMA_HAVE_TRANSPOSE
#define RMA_HAVE_TRANSPOSE 1
#elif HWY_TARGET == HWY_AVX2
HWY_INLINE void transpose8(const float* src, int64_t ld, int rows, float* dst, int64_t dst_stride,
                           int width) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = i < rows ? _mm256_loadu_ps(src + i * ld) : _mm256_setzero_ps();
  RMA_UNROLL
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  RMA_UNROLL
  for (int i = 0; i < 2; ++i) {
    r[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  alignas(32) int32_t lanes[8];
  for (int i = 0; i < 8; ++i) lanes[i] = i < width ? -1 : 0;
  const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
  RMA_UNROLL
  for (int j = 0; j < 4; ++j) {
    const __m256 lo = _mm256_permute2f128_ps(r[j], r[4 + j], 0x20);
    const __m256 hi = _mm256_permute2f128_ps(r[j], r[4 + j], 0x31);
    if (width == 8) {
      _mm256_storeu_ps(dst + j * dst_stride, lo);
      _mm256_storeu_ps(dst + (4 + j) * dst_stride, hi);
    } else {
      _mm256_maskstore_ps(dst + j * dst_stride, mask, lo);
      _mm256_maskstore_ps(dst + (4 + j) * dst_stride, mask, hi);
    }
  }
}
constexpr int kTBlock = 8;
#undef RMA_HAVE_TRANSPOSE
#define RMA_HAVE_TRANSPOSE 1
#else
#undef RMA_HAVE_TRANSPOSE
#define RMA_HAVE_TRANSPOSE 0
#endif

HWY_INLINE void transpose_block(const float* src, int64_t ld, int rows, float* dst,
                                int64_t dst_stride, int width) {
#if RMA_HAVE_TRANSPOSE && (HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL)
  transpose16(src, ld, rows, dst, dst_stride, width);
#elif RMA_HAVE_TRANSPOSE
  transpose8(src, ld, rows, dst, dst_stride, width);
#else
  (void)src, (void)ld, (void)rows, (void)dst, (void)dst_stride, (void)width;
#endif
}

// ------------------------------------------------------------ packing
// Packs P rows/columns i0 .. i0+rows of an operand over depth [k0, k0+kc)
// into dst[k * P + i] (f32; entries past `rows` zero). tmp holds P * kc
// floats for the conversion of k-contiguous rows that are not f32.
template <int P>
void pack_panel(const GemmOperand& op, int64_t i0, int rows, int64_t k0, int64_t kc, float* dst,
                float* tmp) {
  if (!op.k_contig) {
    // Element (i, k) at k * ld + i: each depth step is a contiguous run.
    const size_t es = dtype_size(op.dtype);
    const auto* base = static_cast<const uint8_t*>(op.data);
    for (int64_t k = 0; k < kc; ++k) {
      const uint8_t* src = base + ((k0 + k) * op.ld + i0) * es;
      float* out = dst + k * P;
      if (rows == P && P % kL == 0) {
        const DF d;
        for (int j = 0; j < P; j += kL)
          hn::Store(load_as_f32(d, op.dtype, src + j * es), d, out + j);
      } else {
        int j = 0;
        for (; j < rows; ++j) out[j] = scalar_to_f32(op.dtype, src, j);
        for (; j < P; ++j) out[j] = 0.f;
      }
    }
    return;
  }
  // k-contiguous rows: get f32 rows, then transpose them into the panel.
  const float* src;
  int64_t ld;
  if (op.load_rows) {
    op.load_rows(op.load_ctx, i0, rows, k0, kc, tmp, kc);
    src = tmp;
    ld = kc;
  } else if (op.dtype == RMA_DTYPE_F32) {
    src = static_cast<const float*>(op.data) + i0 * op.ld + k0;
    ld = op.ld;
  } else {
    const size_t es = dtype_size(op.dtype);
    for (int r = 0; r < rows; ++r)
      convert_row(op.dtype, static_cast<const uint8_t*>(op.data) + ((i0 + r) * op.ld + k0) * es,
                  tmp + r * kc, kc);
    src = tmp;
    ld = kc;
  }
  int64_t k = 0;
#if RMA_HAVE_TRANSPOSE
  for (; k + kTBlock <= kc; k += kTBlock) {
    for (int g = 0; g < P; g += kTBlock) {
      const int grows = std::max(0, std::min(kTBlock, rows - g));
      const int width = std::min(kTBlock, P - g);
      transpose_block(src + g * ld + k, ld, grows, dst + k * P + g, P, width);
    }
  }
#endif
  for (; k < kc; ++k) {
    float* out = dst + k * P;
    int j = 0;
    for (; j < rows; ++j) out[j] = src[j * ld + k];
    for (; j < P; ++j) out[j] = 0.f;
  }
}

// ------------------------------------------------------------ micro-kernel
struct TileOut {
  float* c;  // f32 partial sums: read unless first, written unless last
  int64_t ldc;
  void* y;  // final output (when last), dtype y_dtype, row stride ldy
  int64_t ldy;
  int32_t y_dtype;
  const float* bias;  // kNR floats at the tile's columns, or null
  float alpha;
  int32_t act;
  float act_param;
  bool first, last;
};

// C[MR x kNR] (+)= A-panel . B-panel over kc, then write back (see TileOut).
// The A panel has stride kMR per depth step even when MR < kMR (edge rows).
template <int MR>
HWY_NOINLINE void micro_kernel(int64_t kc, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b,
                               const TileOut& o) {
  const DF d;
  VF acc[MR][kNV];
  RMA_UNROLL
  for (int i = 0; i < MR; ++i) {
    RMA_UNROLL
    for (int j = 0; j < kNV; ++j) acc[i][j] = hn::Zero(d);
  }
  for (int64_t k = 0; k < kc; ++k) {
    VF bv[kNV];
    RMA_UNROLL
    for (int j = 0; j < kNV; ++j) bv[j] = hn::Load(d, b + j * kL);
    RMA_UNROLL
    for (int i = 0; i < MR; ++i) {
      const VF av = hn::Set(d, a[i]);
      RMA_UNROLL
      for (int j = 0; j < kNV; ++j) acc[i][j] = hn::MulAdd(av, bv[j], acc[i][j]);
    }
    a += kMR;
    b += kNR;
  }
  if (!o.first) {
    RMA_UNROLL
    for (int i = 0; i < MR; ++i) {
      RMA_UNROLL
      for (int j = 0; j < kNV; ++j)
        acc[i][j] = hn::Add(acc[i][j], hn::LoadU(d, o.c + i * o.ldc + j * kL));
    }
  }
  if (!o.last) {
    RMA_UNROLL
    for (int i = 0; i < MR; ++i) {
      RMA_UNROLL
      for (int j = 0; j < kNV; ++j) hn::StoreU(acc[i][j], d, o.c + i * o.ldc + j * kL);
    }
    return;
  }
  const size_t es = dtype_size(o.y_dtype);
  const bool plain = o.alpha == 1.f && !o.bias && o.act == RMA_ACT_NONE;
  if (plain && o.y_dtype == RMA_DTYPE_F32) {
    float* y = static_cast<float*>(o.y);
    RMA_UNROLL
    for (int i = 0; i < MR; ++i) {
      RMA_UNROLL
      for (int j = 0; j < kNV; ++j) hn::StoreU(acc[i][j], d, y + i * o.ldy + j * kL);
    }
    return;
  }
  VF bias[kNV];
  RMA_UNROLL
  for (int j = 0; j < kNV; ++j) bias[j] = o.bias ? hn::LoadU(d, o.bias + j * kL) : hn::Zero(d);
  const VF alpha = hn::Set(d, o.alpha);
  RMA_UNROLL
  for (int i = 0; i < MR; ++i) {
    RMA_UNROLL
    for (int j = 0; j < kNV; ++j) {
      const VF v = activate(d, hn::MulAdd(acc[i][j], alpha, bias[j]), o.act, o.act_param);
      store_as(d, v, o.y_dtype, static_cast<uint8_t*>(o.y) + (i * o.ldy + j * kL) * es);
    }
  }
}

template <int R>
HWY_INLINE void micro_kernel_rows(int mr, int64_t kc, const float* a, const float* b,
                                  const TileOut& o) {
  if (mr == R) return micro_kernel<R>(kc, a, b, o);
  if constexpr (R > 1) micro_kernel_rows<R - 1>(mr, kc, a, b, o);
}

// One tile: mr valid rows (panel stride kMR), nv valid columns.
void run_tile(int mr, int nv, int64_t kc, const float* a, const float* b, const TileOut& o) {
  if (nv == kNR) return micro_kernel_rows<kMR>(mr, kc, a, b, o);
  // Column edge: run on a local tile, then copy the valid part.
  HWY_ALIGN float tile[kMR * kNR];
  HWY_ALIGN float bias[kNR];
  TileOut t = o;
  t.c = tile;
  t.ldc = kNR;
  t.y = tile;
  t.ldy = kNR;
  t.y_dtype = RMA_DTYPE_F32;
  if (o.bias) {
    std::fill(bias, bias + kNR, 0.f);
    std::memcpy(bias, o.bias, nv * sizeof(float));
    t.bias = bias;
  }
  if (!o.first)
    for (int i = 0; i < mr; ++i) std::memcpy(tile + i * kNR, o.c + i * o.ldc, nv * sizeof(float));
  micro_kernel_rows<kMR>(mr, kc, a, b, t);
  if (!o.last) {
    for (int i = 0; i < mr; ++i) std::memcpy(o.c + i * o.ldc, tile + i * kNR, nv * sizeof(float));
  } else {
    const size_t es = dtype_size(o.y_dtype);
    for (int i = 0; i < mr; ++i) {
      uint8_t* yrow = static_cast<uint8_t*>(o.y) + i * o.ldy * es;
      for (int j = 0; j < nv; ++j) scalar_store(o.y_dtype, yrow, j, tile[i * kNR + j]);
    }
  }
}

// ------------------------------------------------------------ gemm driver
// Depth blocks of (nearly) equal size, so that no short last block pays the
// tile load/store overhead; multiples of 16 (and of the B operand's
// quantization block).
int64_t depth_block(int64_t K, int64_t k_align) {
  const int64_t kc_align = std::max<int64_t>(16, k_align);
  const int64_t depth_blocks = ceil_div(K, std::max<int64_t>(cfg::kKC, kc_align));
  return std::min(K, round_up(ceil_div(K, depth_blocks), kc_align));
}

PackedBLayout packed_b_layout_impl(int64_t n, int64_t k, int64_t k_align) {
  PackedBLayout l;
  l.kc_max = k > 0 ? depth_block(k, k_align) : 0;
  l.panels = ceil_div(n, kNR);
  l.nr = kNR;
  const int64_t blocks = l.kc_max > 0 ? ceil_div(k, l.kc_max) : 0;
  l.floats = static_cast<uint64_t>(blocks * l.panels * l.kc_max * kNR);
  return l;
}

// Panel p of depth block `block` sits at (block * panels + p) * kc_max * NR,
// the same panel stride gemm_impl uses for its per-call packing.
void pack_b_impl(ThreadPool& pool, const GemmOperand& b, int64_t n, int64_t k, float* dst) {
  const PackedBLayout l = packed_b_layout_impl(n, k, b.k_align);
  if (l.floats == 0) return;
  const int64_t blocks = ceil_div(k, l.kc_max);
  pool.parallel_for(blocks * l.panels, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> tmp(static_cast<size_t>(kNR * l.kc_max));
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t block = i / l.panels, p = i % l.panels;
      const int64_t pc = block * l.kc_max, kc = std::min(l.kc_max, k - pc);
      const int64_t col = p * kNR;
      pack_panel<kNR>(b, col, static_cast<int>(std::min<int64_t>(kNR, n - col)), pc, kc,
                      dst + i * l.kc_max * kNR, tmp.data());
    }
  });
}

bool gemm_impl(ThreadPool& pool, const GemmArgs& g) {
  const int64_t M = g.m, N = g.n, K = g.k;
  if (M <= 0 || N <= 0) return true;
  const size_t yes = dtype_size(g.y_dtype);
  if (K <= 0) {
    // Empty sum: y = act(bias).
    std::vector<float> zeros(static_cast<size_t>(N), 0.f);
    std::vector<float> bias(static_cast<size_t>(N), 0.f);
    if (g.ep.bias) std::memcpy(bias.data(), g.ep.bias, N * sizeof(float));
    for (int64_t r = 0; r < M; ++r)
      epilogue_row_impl(zeros.data(), N, bias.data(), 1.f, g.ep.act, g.ep.act_param,
                        static_cast<uint8_t*>(g.y) + r * g.ldy * yes, g.y_dtype);
    return true;
  }
  const int pool_threads = pool.size();
  const int64_t kc_max = depth_block(K, g.b.k_align);
  const int64_t all_panels = ceil_div(N, kNR);
  const int64_t n_pad = round_up(N, kNR);
  int64_t nc_max = std::min<int64_t>(n_pad, round_up(cfg::kNC, kNR));
  const bool partial_scratch = g.y_dtype != RMA_DTYPE_F32 && K > kc_max;
  if (partial_scratch)
    nc_max = std::min(nc_max, std::max<int64_t>(4 * kNR, cfg::kMaxPartialFloats / M / kNR * kNR));
  const int64_t mc_max = std::max<int64_t>(kMR, cfg::kMC / kMR * kMR);

  // Thread grid: split the column panels (each thread packs its own B
  // panels and the whole A: no sharing, no waiting; measured faster at every
  // shape tried), unless there are too few panels to go round and rows are
  // plenty, then split rows (B is packed together and shared).
  const int tm = ceil_div(N, kNR) < int64_t{pool_threads} * cfg::kMinPanelsPerThreadN &&
                         M >= int64_t{pool_threads} * kMR * 2
                     ? pool_threads
                     : 1;

  // Scratch: bias | B block | per thread (A block, conversion rows) | partial.
  const size_t bias_f = pad16(n_pad);
  const size_t bpack_f = g.packed_b ? 0 : pad16(kc_max * nc_max);
  const size_t apack_f = pad16(mc_max * kc_max);
  const size_t tmp_f = pad16(std::max(kMR, kNR) * kc_max);
  const size_t part_f = partial_scratch ? pad16(M * nc_max) : 0;
  const size_t total = bias_f + bpack_f + (apack_f + tmp_f) * pool_threads + part_f;
  thread_local ScratchArena arena;
  float* base = arena.get(total);
  if (!base) return false;
  float* bias_pad = base;
  float* bpack = bias_pad + bias_f;
  float* per_thread = bpack + bpack_f;
  float* partial = per_thread + (apack_f + tmp_f) * pool_threads;
  if (g.ep.bias) {
    std::memcpy(bias_pad, g.ep.bias, N * sizeof(float));
    std::fill(bias_pad + N, bias_pad + n_pad, 0.f);
  }

  SpinBarrier barrier(pool_threads);
  pool.run([&](int t, int nt) {
    float* apack = per_thread + (apack_f + tmp_f) * t;
    float* tmp = apack + apack_f;
    const int tm_eff = std::min(tm, nt);
    const int tn_eff = nt / tm_eff;
    const int im = t % tm_eff, in = t / tm_eff;
    // This thread's rows: whole tiles, split evenly.
    const int64_t tiles_m = ceil_div(M, kMR);
    const int64_t r0 = std::min(M, tiles_m * im / tm_eff * kMR);
    const int64_t r1 = std::min(M, tiles_m * (im + 1) / tm_eff * kMR);

    for (int64_t jc = 0; jc < N; jc += nc_max) {
      const int64_t nc = std::min(nc_max, N - jc);
      const int64_t panels = ceil_div(nc, kNR);
      const int64_t p0 = panels * in / tn_eff, p1 = panels * (in + 1) / tn_eff;
      for (int64_t pc = 0; pc < K; pc += kc_max) {
        const int64_t kc = std::min(kc_max, K - pc);
        const bool first = pc == 0, last = pc + kc == K;
        // Rows split: the threads pack B together and all read it. Columns
        // split: each packs just the panels it computes, no waiting. Panels
        // keep a kc_max stride so that a thread already packing the next
        // (shorter) depth block never overwrites another's current panels.
        // Pre-packed B (packed_b) is only read: no packing, no waiting.
        const bool shared_b = tm_eff > 1 && !g.packed_b;
        const float* b_block =
            g.packed_b ? g.packed_b + ((pc / kc_max) * all_panels + jc / kNR) * kc_max * kNR
                       : bpack;
        if (!g.packed_b)
          for (int64_t p = shared_b ? t : p0; p < (shared_b ? panels : p1);
               p += shared_b ? nt : 1) {
            const int64_t col = jc + p * kNR;
            pack_panel<kNR>(g.b, col, static_cast<int>(std::min<int64_t>(kNR, N - col)), pc, kc,
                            bpack + p * kc_max * kNR, tmp);
          }
        if (nt > 1 && shared_b) barrier.wait();
        for (int64_t ic = r0; ic < r1; ic += mc_max) {
          const int64_t mc = std::min(mc_max, r1 - ic);
          const int64_t tiles = ceil_div(mc, kMR);
          for (int64_t i = 0; i < tiles; ++i) {
            const int64_t row = ic + i * kMR;
            pack_panel<kMR>(g.a, row, static_cast<int>(std::min<int64_t>(kMR, r1 - row)), pc, kc,
                            apack + i * kc * kMR, tmp);
          }
          for (int64_t p = p0; p < p1; ++p) {
            const int64_t col = jc + p * kNR;
            const int nv = static_cast<int>(std::min<int64_t>(kNR, N - col));
            const float* bp = b_block + p * kc_max * kNR;
            for (int64_t i = 0; i < tiles; ++i) {
              const int64_t row = ic + i * kMR;
              const int mr = static_cast<int>(std::min<int64_t>(kMR, r1 - row));
              TileOut o;
              if (partial_scratch) {
                o.c = partial + row * nc_max + (col - jc);
                o.ldc = nc_max;
              } else {
                o.c = static_cast<float*>(g.y) + row * g.ldy + col;  // f32 y holds the partials
                o.ldc = g.ldy;
              }
              o.y = static_cast<uint8_t*>(g.y) + (row * g.ldy + col) * yes;
              o.ldy = g.ldy;
              o.y_dtype = g.y_dtype;
              o.bias = g.ep.bias ? bias_pad + col : nullptr;
              o.alpha = g.ep.alpha;
              o.act = g.ep.act;
              o.act_param = g.ep.act_param;
              o.first = first;
              o.last = last;
              run_tile(mr, nv, kc, apack + i * kc * kMR, bp, o);
            }
          }
        }
        if (nt > 1 && shared_b) barrier.wait();  // B is repacked next
      }
      // The next column block splits its panels differently.
      if (nt > 1 && tm_eff == 1 && !g.packed_b && jc + nc_max < N) barrier.wait();
    }
  });
  return true;
}

// ------------------------------------------------------------ gemv
// TM rows of x (f32, contiguous, row stride K) against R rows of w
// (k-contiguous, dtype W): out[t * R + r] = sum_k x[t, k] * w[r, k].
// TM rows of x (f32, contiguous, row stride K) against one row of w
// (dtype W): out[t] = sum_k x[t, k] * w[k]. Rows are read one after the
// other, a single sequential stream per thread: interleaving several rows
// measured up to 2x slower from DRAM. `prefetch` > 0 also prefetches that
// many bytes ahead (config.h; no gain measured for the f32 GEMV so far).
template <int TM, int32_t W>
HWY_INLINE void dot_row(const float* x, int64_t K, const uint8_t* w, float* out, int64_t prefetch) {
  const DF d;
  constexpr size_t es = W == RMA_DTYPE_F32 ? 4 : 2;
  constexpr int kAcc = TM <= 2 ? 2 : 1;  // chains per row of x, to hide FMA latency
  VF acc[TM][kAcc];
  RMA_UNROLL
  for (int t = 0; t < TM; ++t) {
    RMA_UNROLL
    for (int a = 0; a < kAcc; ++a) acc[t][a] = hn::Zero(d);
  }
  int64_t k = 0;
  for (; k + kAcc * kL <= K; k += kAcc * kL) {
    if (prefetch) __builtin_prefetch(w + k * es + prefetch, 0, 3);
    RMA_UNROLL
    for (int a = 0; a < kAcc; ++a) {
      const VF wv = load_as_f32(d, W, w + (k + a * kL) * es);
      RMA_UNROLL
      for (int t = 0; t < TM; ++t)
        acc[t][a] = hn::MulAdd(hn::LoadU(d, x + t * K + k + a * kL), wv, acc[t][a]);
    }
  }
  for (; k + kL <= K; k += kL) {
    const VF wv = load_as_f32(d, W, w + k * es);
    RMA_UNROLL
    for (int t = 0; t < TM; ++t) acc[t][0] = hn::MulAdd(hn::LoadU(d, x + t * K + k), wv, acc[t][0]);
  }
  RMA_UNROLL
  for (int t = 0; t < TM; ++t) {
    VF v = acc[t][0];
    RMA_UNROLL
    for (int a = 1; a < kAcc; ++a) v = hn::Add(v, acc[t][a]);
    float s = hn::GetLane(hn::SumOfLanes(d, v));
    for (int64_t kk = k; kk < K; ++kk) s += x[t * K + kk] * scalar_to_f32(W, w, kk);
    out[t] = s;
  }
}

// Rows [n0, n1) of y for TM rows of x, w stored [N, K] (k-contiguous).
template <int TM, int32_t W>
void gemv_nk(const float* x, int64_t K, const uint8_t* w, int64_t ldw_bytes, int64_t n0, int64_t n1,
             float* out, int64_t ldo) {
  float s[TM];
  for (int64_t n = n0; n < n1; ++n) {
    dot_row<TM, W>(x, K, w + n * ldw_bytes, s, cfg::kGemvPrefetchBytes);
    for (int t = 0; t < TM; ++t) out[t * ldo + (n - n0)] = s[t];
  }
}

// Columns [n0, n1) of y for TM rows of x, w stored [K, N] (n-contiguous).
template <int TM, int32_t W>
void gemv_kn(const float* x, int64_t K, const uint8_t* w, int64_t ldw, int64_t n0, int64_t n1,
             float* out, int64_t ldo) {
  const DF d;
  constexpr size_t es = W == RMA_DTYPE_F32 ? 4 : 2;
  constexpr int NB = 4;
  int64_t n = n0;
  for (; n + NB * kL <= n1; n += NB * kL) {
    VF acc[TM][NB];
    RMA_UNROLL
    for (int t = 0; t < TM; ++t) {
      RMA_UNROLL
      for (int j = 0; j < NB; ++j) acc[t][j] = hn::Zero(d);
    }
    for (int64_t k = 0; k < K; ++k) {
      const uint8_t* row = w + (k * ldw + n) * es;
      VF wv[NB];
      RMA_UNROLL
      for (int j = 0; j < NB; ++j) wv[j] = load_as_f32(d, W, row + j * kL * es);
      RMA_UNROLL
      for (int t = 0; t < TM; ++t) {
        const VF xv = hn::Set(d, x[t * K + k]);
        RMA_UNROLL
        for (int j = 0; j < NB; ++j) acc[t][j] = hn::MulAdd(xv, wv[j], acc[t][j]);
      }
    }
    for (int t = 0; t < TM; ++t)
      for (int j = 0; j < NB; ++j) hn::StoreU(acc[t][j], d, out + t * ldo + (n - n0) + j * kL);
  }
  for (; n + kL <= n1; n += kL) {
    VF acc[TM];
    for (int t = 0; t < TM; ++t) acc[t] = hn::Zero(d);
    for (int64_t k = 0; k < K; ++k) {
      const VF wv = load_as_f32(d, W, w + (k * ldw + n) * es);
      for (int t = 0; t < TM; ++t) acc[t] = hn::MulAdd(hn::Set(d, x[t * K + k]), wv, acc[t]);
    }
    for (int t = 0; t < TM; ++t) hn::StoreU(acc[t], d, out + t * ldo + (n - n0));
  }
  for (; n < n1; ++n)
    for (int t = 0; t < TM; ++t) {
      float s = 0.f;
      for (int64_t k = 0; k < K; ++k) s += x[t * K + k] * scalar_to_f32(W, w, k * ldw + n);
      out[t * ldo + (n - n0)] = s;
    }
}

// Small M (past the GEMV, up to kSmallMaxRows): eight rows of x against
// two rows of w at a time, w streamed once, x (a few KiB per row) from L1.
// 16 accumulators; their 16 sums come out of one reduction tree.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
HWY_INLINE void reduce16(const VF* a, float* out) {
  __m512 b[8], c[4];
  for (int j = 0; j < 8; ++j)
    b[j] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * j].raw, a[2 * j + 1].raw),
                         _mm512_unpackhi_ps(a[2 * j].raw, a[2 * j + 1].raw));
  for (int k = 0; k < 4; ++k) {
    const __m512d x = _mm512_castps_pd(b[2 * k]), y = _mm512_castps_pd(b[2 * k + 1]);
    c[k] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
  }
  // c[k], 128-bit lane q: partial sums of a[4k .. 4k+3] over lane q.
  const __m512 d0 =
      _mm512_add_ps(_mm512_shuffle_f32x4(c[0], c[1], 0x88), _mm512_shuffle_f32x4(c[0], c[1], 0xDD));
  const __m512 d1 =
      _mm512_add_ps(_mm512_shuffle_f32x4(c[2], c[3], 0x88), _mm512_shuffle_f32x4(c[2], c[3], 0xDD));
  _mm512_storeu_ps(
      out, _mm512_add_ps(_mm512_shuffle_f32x4(d0, d1, 0x88), _mm512_shuffle_f32x4(d0, d1, 0xDD)));
}
#else
HWY_INLINE void reduce16(const VF* a, float* out) {
  const DF d;
  for (int i = 0; i < 16; ++i) out[i] = hn::GetLane(hn::SumOfLanes(d, a[i]));
}
#endif

// out[2 * t + r] = sum_k x[t, k] * w_r[k] for t < 8, r < 2.
template <int32_t W>
HWY_INLINE void dot_8x2(const float* x, int64_t K, const uint8_t* w0, const uint8_t* w1,
                        float* out) {
  const DF d;
  constexpr size_t es = W == RMA_DTYPE_F32 ? 4 : 2;
  VF acc[16];
  RMA_UNROLL
  for (int i = 0; i < 16; ++i) acc[i] = hn::Zero(d);
  int64_t k = 0;
  for (; k + kL <= K; k += kL) {
    const VF a = load_as_f32(d, W, w0 + k * es);
    const VF b = load_as_f32(d, W, w1 + k * es);
    RMA_UNROLL
    for (int t = 0; t < 8; ++t) {
      const VF xv = hn::LoadU(d, x + t * K + k);
      acc[2 * t] = hn::MulAdd(xv, a, acc[2 * t]);
      acc[2 * t + 1] = hn::MulAdd(xv, b, acc[2 * t + 1]);
    }
  }
  reduce16(acc, out);
  for (; k < K; ++k) {
    const float a = scalar_to_f32(W, w0, k), b = scalar_to_f32(W, w1, k);
    for (int t = 0; t < 8; ++t) {
      out[2 * t] += x[t * K + k] * a;
      out[2 * t + 1] += x[t * K + k] * b;
    }
  }
}

// Rows [n0, n1) of y for x rows padded to a multiple of 8 (m8 of them).
template <int32_t W>
void small_m_range(const float* x, int64_t m8, int64_t K, const uint8_t* w, int64_t ldw_bytes,
                   int64_t n0, int64_t n1, float* out, int64_t ldo) {
  HWY_ALIGN float s[16];
  int64_t n = n0;
  for (; n + 2 <= n1; n += 2)
    for (int64_t t0 = 0; t0 < m8; t0 += 8) {
      dot_8x2<W>(x + t0 * K, K, w + n * ldw_bytes, w + (n + 1) * ldw_bytes, s);
      for (int t = 0; t < 8; ++t) {
        out[(t0 + t) * ldo + (n - n0)] = s[2 * t];
        out[(t0 + t) * ldo + (n + 1 - n0)] = s[2 * t + 1];
      }
    }
  if (n < n1)
    for (int64_t t0 = 0; t0 < m8; t0 += 8) {
      dot_8x2<W>(x + t0 * K, K, w + n * ldw_bytes, w + n * ldw_bytes, s);
      for (int t = 0; t < 8; ++t) out[(t0 + t) * ldo + (n - n0)] = s[2 * t];
    }
}

template <int TM, int32_t W>
void gemv_range(const GemmArgs& g, const float* x, int64_t n0, int64_t n1, float* out,
                int64_t ldo) {
  const auto* w = static_cast<const uint8_t*>(g.b.data);
  if (g.b.k_contig)
    gemv_nk<TM, W>(x, g.k, w, g.b.ld * static_cast<int64_t>(dtype_size(W)), n0, n1, out, ldo);
  else
    gemv_kn<TM, W>(x, g.k, w, g.b.ld, n0, n1, out, ldo);
}

template <int TM>
void gemv_range_dt(const GemmArgs& g, const float* x, int64_t n0, int64_t n1, float* out,
                   int64_t ldo) {
  switch (g.b.dtype) {
    case RMA_DTYPE_F16:
      return gemv_range<TM, RMA_DTYPE_F16>(g, x, n0, n1, out, ldo);
    case RMA_DTYPE_BF16:
      return gemv_range<TM, RMA_DTYPE_BF16>(g, x, n0, n1, out, ldo);
    default:
      return gemv_range<TM, RMA_DTYPE_F32>(g, x, n0, n1, out, ldo);
  }
}

bool gemv_impl(ThreadPool& pool, const GemmArgs& g) {
  const int64_t M = g.m, N = g.n, K = g.k;
  if (M <= 0 || N <= 0) return true;
  const bool small = M > cfg::kGemvMaxRows && M <= cfg::kSmallMaxRows && g.b.k_contig;
  if (K <= 0 || g.b.load_rows || (M > cfg::kGemvMaxRows && !small)) return gemm_impl(pool, g);
  // x as f32 rows [M, K] (zero rows up to a multiple of 8 for the small-M path).
  const int64_t m_pad = small ? round_up(M, 8) : M;
  thread_local ScratchArena arena;
  float* x = arena.get(pad16(m_pad * K));
  if (!x) return false;
  const size_t xes = dtype_size(g.a.dtype);
  const auto* xa = static_cast<const uint8_t*>(g.a.data);
  for (int64_t t = 0; t < M; ++t) {
    if (g.a.k_contig) {
      convert_row(g.a.dtype, xa + t * g.a.ld * xes, x + t * K, K);
    } else {
      for (int64_t k = 0; k < K; ++k) x[t * K + k] = scalar_to_f32(g.a.dtype, xa, k * g.a.ld + t);
    }
  }
  std::fill(x + M * K, x + m_pad * K, 0.f);
  const size_t yes = dtype_size(g.y_dtype);
  // Chunks of whole vectors so that each thread's columns start aligned.
  constexpr int64_t kChunk = 128;
  const int64_t grain = g.b.k_contig ? 64 : 4 * kL;
  const auto* w = static_cast<const uint8_t*>(g.b.data);
  const int64_t ldw_bytes = g.b.ld * static_cast<int64_t>(dtype_size(g.b.dtype));
  pool.parallel_for(ceil_div(N, grain), 1, [&](int64_t b0, int64_t b1) {
    const int64_t n_begin = b0 * grain, n_end = std::min(N, b1 * grain);
    HWY_ALIGN float out[cfg::kSmallMaxRows * kChunk];
    for (int64_t n0 = n_begin; n0 < n_end; n0 += kChunk) {
      const int64_t n1 = std::min(n_end, n0 + kChunk);
      if (small) {
        switch (g.b.dtype) {
          case RMA_DTYPE_F16:
            small_m_range<RMA_DTYPE_F16>(x, m_pad, K, w, ldw_bytes, n0, n1, out, kChunk);
            break;
          case RMA_DTYPE_BF16:
            small_m_range<RMA_DTYPE_BF16>(x, m_pad, K, w, ldw_bytes, n0, n1, out, kChunk);
            break;
          default:
            small_m_range<RMA_DTYPE_F32>(x, m_pad, K, w, ldw_bytes, n0, n1, out, kChunk);
            break;
        }
      } else {
        switch (M) {
          case 1:
            gemv_range_dt<1>(g, x, n0, n1, out, kChunk);
            break;
          case 2:
            gemv_range_dt<2>(g, x, n0, n1, out, kChunk);
            break;
          case 3:
            gemv_range_dt<3>(g, x, n0, n1, out, kChunk);
            break;
          default:
            gemv_range_dt<4>(g, x, n0, n1, out, kChunk);
            break;
        }
      }
      for (int64_t t = 0; t < M; ++t)
        epilogue_row_impl(out + t * kChunk, n1 - n0, g.ep.bias ? g.ep.bias + n0 : nullptr,
                          g.ep.alpha, g.ep.act, g.ep.act_param,
                          static_cast<uint8_t*>(g.y) + (t * g.ldy + n0) * yes, g.y_dtype);
    }
  });
  return true;
}

void apply_epilogue_impl(ThreadPool& pool, float* y, int64_t m, int64_t n, int64_t ldy,
                         const Epilogue& ep) {
  if (ep.alpha == 1.f && !ep.bias && ep.act == RMA_ACT_NONE) return;
  pool.parallel_for(m, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      epilogue_row_impl(y + r * ldy, n, ep.bias, ep.alpha, ep.act, ep.act_param, y + r * ldy,
                        RMA_DTYPE_F32);
  });
}

GemmInfo gemm_info_impl() { return {kMR, kNR, hwy::TargetName(HWY_TARGET)}; }

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(gemm_impl);
HWY_EXPORT(gemv_impl);
HWY_EXPORT(apply_epilogue_impl);
HWY_EXPORT(epilogue_row_impl);
HWY_EXPORT(gemm_info_impl);
HWY_EXPORT(packed_b_layout_impl);
HWY_EXPORT(pack_b_impl);

bool gemm(ThreadPool& pool, const GemmArgs& args) {
  return HWY_DYNAMIC_DISPATCH(gemm_impl)(pool, args);
}
bool gemv(ThreadPool& pool, const GemmArgs& args) {
  return HWY_DYNAMIC_DISPATCH(gemv_impl)(pool, args);
}
void apply_epilogue(ThreadPool& pool, float* y, int64_t m, int64_t n, int64_t ldy,
                    const Epilogue& ep) {
  HWY_DYNAMIC_DISPATCH(apply_epilogue_impl)(pool, y, m, n, ldy, ep);
}
void epilogue_row(const float* x, int64_t n, const float* bias, float alpha, int32_t act,
                  float act_param, void* y, int32_t dtype) {
  HWY_DYNAMIC_DISPATCH(epilogue_row_impl)(x, n, bias, alpha, act, act_param, y, dtype);
}
GemmInfo gemm_info() { return HWY_DYNAMIC_DISPATCH(gemm_info_impl)(); }
PackedBLayout packed_b_layout(int64_t n, int64_t k, int64_t k_align) {
  return HWY_DYNAMIC_DISPATCH(packed_b_layout_impl)(n, k, k_align);
}
void pack_b(ThreadPool& pool, const GemmOperand& b, int64_t n, int64_t k, float* dst) {
  HWY_DYNAMIC_DISPATCH(pack_b_impl)(pool, b, n, k, dst);
}
}  // namespace rma::cpu
#endif
