// Float unary functions, vectorised. Highway's exp, log, sin, cos and tanh
// are used inside their valid ranges, with the edges (overflow, log of 0 or
// of a negative, huge sine arguments, NaN) fixed up to match std::. erf and
// gelu use the erfc fit of the gelu_and_mul kernel (relative error < 1.2e-7)
// and, for erf near 0, its Taylor series. A tail shorter than a vector goes
// through a padded buffer, so every element sees the same arithmetic.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/unary/kernels/unary_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <hwy/contrib/math/math-inl.h>

#include "ops/unary/kernels/unary_kernel.h"
#include "rma/plugin.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kSqrt2OverPi = 0.79788456080286535588f;

// y = f(x) vector by vector; the tail through a zero-padded buffer.
template <class F>
HWY_INLINE void map(const float* x, float* y, int64_t n, F f) {
  const D d;
  const int64_t L = hn::Lanes(d);
  int64_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(f(hn::LoadU(d, x + i)), d, y + i);
  if (i < n) {
    HWY_ALIGN float buf[HWY_MAX_BYTES / sizeof(float)] = {};
    std::copy(x + i, x + n, buf);
    hn::Store(f(hn::Load(d, buf)), d, buf);
    std::copy(buf, buf + (n - i), y + i);
  }
}

// std::fn lane by lane, for the rare vectors outside a SIMD routine's range.
template <class Fn>
HWY_INLINE V per_lane(V x, Fn fn) {
  const D d;
  HWY_ALIGN float buf[HWY_MAX_BYTES / sizeof(float)];
  hn::Store(x, d, buf);
  for (size_t i = 0; i < hn::Lanes(d); ++i) buf[i] = fn(buf[i]);
  return hn::Load(d, buf);
}

// exp over the whole float range: Highway's is valid up to 104; past
// ln(FLT_MAX) the result is inf, and NaN stays NaN.
HWY_INLINE V exp_full(V x) {
  const D d;
  V r = hn::Exp(d, hn::Min(x, hn::Set(d, 100.f)));
  r = hn::IfThenElse(hn::Gt(x, hn::Set(d, 88.7228394f)), hn::Set(d, kInf), r);
  return hn::IfThenElse(hn::IsNaN(x), x, r);
}

// log with std::log's edges: log 0 = -inf, log of a negative = NaN,
// log inf = inf.
HWY_INLINE V log_full(V x) {
  const D d;
  const V zero = hn::Zero(d);
  V r = hn::Log(d, hn::IfThenElse(hn::Gt(x, zero), x, hn::Set(d, 1.f)));
  r = hn::IfThenElse(hn::Eq(x, zero), hn::Set(d, -kInf), r);
  r = hn::IfThenElse(hn::Eq(x, hn::Set(d, kInf)), x, r);
  return hn::IfThenElse(hn::Lt(x, zero), hn::Set(d, std::numeric_limits<float>::quiet_NaN()),
                        hn::IfThenElse(hn::IsNaN(x), x, r));
}

// Highway's sin and cos hold for |x| <= 39000; other vectors go lane by lane.
template <bool kSin>
HWY_INLINE V sin_cos(V x) {
  const D d;
  if (!hn::AllFalse(d, hn::Not(hn::Le(hn::Abs(x), hn::Set(d, 39000.f)))))
    return per_lane(x, [](float v) { return kSin ? std::sin(v) : std::cos(v); });
  return kSin ? hn::Sin(d, x) : hn::Cos(d, x);
}

// erfc(a) for a >= 0: t exp(-a^2 + P(t)), t = 1 / (1 + a/2) (Numerical
// Recipes' erfcc, relative error < 1.2e-7); 0 for a = inf.
HWY_INLINE V erfc_nonneg(V a) {
  const D d;
  const V t = hn::Div(hn::Set(d, 1.f), hn::MulAdd(a, hn::Set(d, 0.5f), hn::Set(d, 1.f)));
  V p = hn::Set(d, 0.17087277f);
  p = hn::MulAdd(p, t, hn::Set(d, -0.82215223f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.48851587f));
  p = hn::MulAdd(p, t, hn::Set(d, -1.13520398f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.27886807f));
  p = hn::MulAdd(p, t, hn::Set(d, -0.18628806f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.09678418f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.37409196f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.00002368f));
  p = hn::MulAdd(p, t, hn::Set(d, -1.26551223f));
  return hn::Mul(t, exp_full(hn::NegMulAdd(a, a, p)));
}

// erf: the Taylor series below |x| = 0.5 (7 terms: relative error ~1e-9),
// 1 - erfc above, with x's sign.
HWY_INLINE V erf(V x) {
  const D d;
  const V a = hn::Abs(x), x2 = hn::Mul(x, x);
  V s = hn::Set(d, 0.00012055332981789664f);
  s = hn::MulAdd(s, x2, hn::Set(d, -0.0008548327023450853f));
  s = hn::MulAdd(s, x2, hn::Set(d, 0.005223977625442188f));
  s = hn::MulAdd(s, x2, hn::Set(d, -0.026866170645131252f));
  s = hn::MulAdd(s, x2, hn::Set(d, 0.11283791670955126f));
  s = hn::MulAdd(s, x2, hn::Set(d, -0.37612638903183754f));
  s = hn::MulAdd(s, x2, hn::Set(d, 1.1283791670955126f));
  const V tail = hn::CopySign(hn::Sub(hn::Set(d, 1.f), erfc_nonneg(a)), x);
  return hn::IfThenElse(hn::Lt(a, hn::Set(d, 0.5f)), hn::Mul(s, x), tail);
}

// 1 + erf(z) without cancellation in the negative tail (as gelu_and_mul).
HWY_INLINE V one_plus_erf(V z) {
  const D d;
  const V erfc = erfc_nonneg(hn::Abs(z));
  return hn::IfThenElse(hn::Lt(z, hn::Zero(d)), erfc, hn::Sub(hn::Set(d, 2.f), erfc));
}

// x / (1 + e^-s), e^-s capped so that huge negative s gives 0, not NaN.
HWY_INLINE V x_sigmoid(V x, V s) {
  const D d;
  const V e = hn::Exp(d, hn::Min(hn::Neg(s), hn::Set(d, 88.f)));
  return hn::Div(x, hn::Add(hn::Set(d, 1.f), e));
}

}  // namespace

void unary_f32(int32_t kind, float p0, float p1, const float* x, float* y, int64_t n) {
  const D d;
  const V zero = hn::Zero(d), one = hn::Set(d, 1.f);
  switch (kind) {
    case RMA_UNARY_NEG:
      return map(x, y, n, [&](V v) { return hn::Neg(v); });
    case RMA_UNARY_ABS:
      return map(x, y, n, [&](V v) { return hn::Abs(v); });
    case RMA_UNARY_EXP:
      return map(x, y, n, [&](V v) { return exp_full(v); });
    case RMA_UNARY_LOG:
      return map(x, y, n, [&](V v) { return log_full(v); });
    case RMA_UNARY_SQRT:
      return map(x, y, n, [&](V v) { return hn::Sqrt(v); });
    case RMA_UNARY_RSQRT:
      return map(x, y, n, [&](V v) { return hn::Div(one, hn::Sqrt(v)); });
    case RMA_UNARY_RECIPROCAL:
      return map(x, y, n, [&](V v) { return hn::Div(one, v); });
    case RMA_UNARY_SIN:
      return map(x, y, n, [&](V v) { return sin_cos<true>(v); });
    case RMA_UNARY_COS:
      return map(x, y, n, [&](V v) { return sin_cos<false>(v); });
    case RMA_UNARY_ERF:
      return map(x, y, n, [&](V v) { return erf(v); });
    case RMA_UNARY_TANH:
      return map(x, y, n, [&](V v) { return hn::Tanh(d, v); });
    case RMA_UNARY_SIGMOID:
      return map(x, y, n, [&](V v) { return x_sigmoid(one, v); });
    case RMA_UNARY_RELU:
      return map(x, y, n, [&](V v) { return hn::IfThenElse(hn::Gt(v, zero), v, zero); });
    case RMA_UNARY_LEAKY_RELU: {
      const V slope = hn::Set(d, p0);
      return map(x, y, n,
                 [&](V v) { return hn::IfThenElse(hn::Gt(v, zero), v, hn::Mul(slope, v)); });
    }
    case RMA_UNARY_GELU: {
      const V s = hn::Set(d, kInvSqrt2), h = hn::Set(d, 0.5f);
      return map(x, y, n, [&](V v) { return hn::Mul(hn::Mul(h, v), one_plus_erf(hn::Mul(v, s))); });
    }
    case RMA_UNARY_GELU_TANH: {
      // 0.5x(1 + tanh(a)) = x / (1 + e^(-2a)), a = sqrt(2/pi)(x + 0.044715x^3).
      const V c = hn::Set(d, 2.f * kSqrt2OverPi), k = hn::Set(d, 0.044715f);
      return map(x, y, n, [&](V v) {
        return x_sigmoid(v, hn::Mul(c, hn::MulAdd(k, hn::Mul(hn::Mul(v, v), v), v)));
      });
    }
    case RMA_UNARY_SILU:
      return map(x, y, n, [&](V v) { return x_sigmoid(v, v); });
    case RMA_UNARY_FLOOR:
      return map(x, y, n, [&](V v) { return hn::Floor(v); });
    case RMA_UNARY_CEIL:
      return map(x, y, n, [&](V v) { return hn::Ceil(v); });
    case RMA_UNARY_ROUND:
      return map(x, y, n, [&](V v) { return hn::Round(v); });  // ties to even
    case RMA_UNARY_SIGN:
      return map(x, y, n, [&](V v) {
        return hn::IfThenElse(hn::Gt(v, zero), one,
                              hn::IfThenElse(hn::Lt(v, zero), hn::Neg(one), v));
      });
    case RMA_UNARY_CLIP: {
      const V lo = hn::Set(d, p0), hi = hn::Set(d, p1);
      return map(x, y, n, [&](V v) { return hn::Min(hn::Max(v, lo), hi); });
    }
    default:
      return;  // not a float kind: the launcher never asks
  }
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(unary_f32);
void unary_f32(int32_t kind, float p0, float p1, const float* x, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(unary_f32)(kind, p0, p1, x, y, n);
}
}  // namespace rma::cpu
#endif
