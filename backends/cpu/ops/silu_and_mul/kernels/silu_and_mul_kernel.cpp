// silu(g) * u with a vectorised exp.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/silu_and_mul/kernels/silu_and_mul_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cmath>

#include <hwy/contrib/math/math-inl.h>

#include "ops/silu_and_mul/kernels/silu_and_mul_kernel.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void silu_and_mul_row(const float* g, const float* u, float* y, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  const auto one = hn::Set(d, 1.f);
  // hwy's Exp is valid up to 104; e^88 already makes g / (1 + e^-g) ~ 0.
  const auto cap = hn::Set(d, 88.f);
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    const auto x = hn::LoadU(d, g + i);
    const auto e = hn::Exp(d, hn::Min(hn::Neg(x), cap));
    hn::StoreU(hn::Mul(hn::Div(x, hn::Add(one, e)), hn::LoadU(d, u + i)), d, y + i);
  }
  for (; i < n; ++i) y[i] = g[i] / (1.f + std::exp(-g[i])) * u[i];
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(silu_and_mul_row);
void silu_and_mul_row(const float* g, const float* u, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(silu_and_mul_row)(g, u, y, n);
}
}  // namespace rma::cpu
#endif
