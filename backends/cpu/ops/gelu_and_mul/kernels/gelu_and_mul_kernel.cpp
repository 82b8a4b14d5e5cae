// gelu(g) * u, vectorised. Both forms are rewritten so no 1 + (-1 + tiny)
// cancellation loses the negative tail:
//   erf form:  1 + erf(z) = z >= 0 ? 2 - erfc(z) : erfc(-z), with erfc from
//              the Chebyshev fit erfc(z) = t exp(-z^2 + P(t)), t = 1/(1 + z/2)
//              (Numerical Recipes' erfcc, relative error < 1.2e-7);
//   tanh form: 0.5x(1 + tanh(a)) = x / (1 + e^(-2a)).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/gelu_and_mul/kernels/gelu_and_mul_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cmath>

#include <hwy/contrib/math/math-inl.h>

#include "ops/gelu_and_mul/kernels/gelu_and_mul_kernel.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kSqrt2OverPi = 0.79788456080286535588f;

// 1 + erf(z), accurate relative to itself also far into the negative tail.
template <class D, class V>
HWY_INLINE V one_plus_erf(D d, V z) {
  const auto a = hn::Abs(z);
  const auto t = hn::Div(hn::Set(d, 1.f), hn::MulAdd(a, hn::Set(d, 0.5f), hn::Set(d, 1.f)));
  auto p = hn::Set(d, 0.17087277f);
  p = hn::MulAdd(p, t, hn::Set(d, -0.82215223f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.48851587f));
  p = hn::MulAdd(p, t, hn::Set(d, -1.13520398f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.27886807f));
  p = hn::MulAdd(p, t, hn::Set(d, -0.18628806f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.09678418f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.37409196f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.00002368f));
  p = hn::MulAdd(p, t, hn::Set(d, -1.26551223f));
  // Exp returns 0 below -104, which covers -inf from huge |z|.
  const auto erfc = hn::Mul(t, hn::Exp(d, hn::NegMulAdd(a, a, p)));
  return hn::IfThenElse(hn::Lt(z, hn::Zero(d)), erfc, hn::Sub(hn::Set(d, 2.f), erfc));
}

float gelu_scalar(float x, bool tanh_form) {
  if (tanh_form) {
    const float a = kSqrt2OverPi * (x + 0.044715f * x * x * x);
    return x / (1.f + std::exp(std::fmin(-2.f * a, 88.f)));
  }
  return 0.5f * x * std::erfc(-x * kInvSqrt2);
}

}  // namespace

void gelu_and_mul_row(const float* g, const float* u, float* y, int64_t n, bool tanh_form) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  int64_t i = 0;
  if (tanh_form) {
    const auto c = hn::Set(d, kSqrt2OverPi), k = hn::Set(d, 0.044715f);
    const auto m2 = hn::Set(d, -2.f), one = hn::Set(d, 1.f), cap = hn::Set(d, 88.f);
    for (; i + L <= n; i += L) {
      const auto x = hn::LoadU(d, g + i);
      const auto x3 = hn::Mul(hn::Mul(x, x), x);
      const auto a = hn::Mul(c, hn::MulAdd(k, x3, x));
      const auto e = hn::Exp(d, hn::Min(hn::Mul(m2, a), cap));
      hn::StoreU(hn::Mul(hn::Div(x, hn::Add(one, e)), hn::LoadU(d, u + i)), d, y + i);
    }
  } else {
    const auto s = hn::Set(d, kInvSqrt2), h = hn::Set(d, 0.5f);
    for (; i + L <= n; i += L) {
      const auto x = hn::LoadU(d, g + i);
      const auto act = hn::Mul(hn::Mul(h, x), one_plus_erf(d, hn::Mul(x, s)));
      hn::StoreU(hn::Mul(act, hn::LoadU(d, u + i)), d, y + i);
    }
  }
  for (; i < n; ++i) y[i] = gelu_scalar(g[i], tanh_form) * u[i];
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(gelu_and_mul_row);
void gelu_and_mul_row(const float* g, const float* u, float* y, int64_t n, bool tanh_form) {
  HWY_DYNAMIC_DISPATCH(gelu_and_mul_row)(g, u, y, n, tanh_form);
}
}  // namespace rma::cpu
#endif
