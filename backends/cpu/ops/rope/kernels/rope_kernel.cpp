// Rotary embedding kernels: per-token angle tables and per-head rotation.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/rope/kernels/rope_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cmath>

#include <hwy/contrib/math/math-inl.h>

#include "ops/rope/kernels/rope_kernel.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void rope_angles(const float* inv_freq, int64_t half, double position, float* c, float* s) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  // Reduced angles first (in c), then cos and sin of them.
  for (int64_t i = 0; i < half; ++i) {
    const double a = position * double(inv_freq[i]);
    c[i] = static_cast<float>(a - kTwoPi * std::nearbyint(a / kTwoPi));
  }
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  int64_t i = 0;
  for (; i + L <= half; i += L) {
    const auto a = hn::LoadU(d, c + i);
    hn::StoreU(hn::Sin(d, a), d, s + i);
    hn::StoreU(hn::Cos(d, a), d, c + i);
  }
  for (; i < half; ++i) {
    const float a = c[i];
    s[i] = std::sin(a);
    c[i] = std::cos(a);
  }
}

void rope_rotate_neox(const float* x, float* y, const float* c, const float* s, int64_t half) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  int64_t i = 0;
  for (; i + L <= half; i += L) {
    const auto x0 = hn::LoadU(d, x + i), x1 = hn::LoadU(d, x + half + i);
    const auto vc = hn::LoadU(d, c + i), vs = hn::LoadU(d, s + i);
    hn::StoreU(hn::NegMulAdd(x1, vs, hn::Mul(x0, vc)), d, y + i);
    hn::StoreU(hn::MulAdd(x0, vs, hn::Mul(x1, vc)), d, y + half + i);
  }
  for (; i < half; ++i) {
    const float x0 = x[i], x1 = x[half + i];
    y[i] = x0 * c[i] - x1 * s[i];
    y[half + i] = x1 * c[i] + x0 * s[i];
  }
}

void rope_rotate_gptj(const float* x, float* y, const float* ce, const float* se, int64_t r) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  int64_t i = 0;
  if (L >= 2) {
    // y[j] = x[j] * ce[j] + x[j ^ 1] * se[j]; Reverse2 swaps each lane pair.
    for (; i + L <= r; i += L) {
      const auto v = hn::LoadU(d, x + i);
      hn::StoreU(
          hn::MulAdd(hn::Reverse2(d, v), hn::LoadU(d, se + i), hn::Mul(v, hn::LoadU(d, ce + i))), d,
          y + i);
    }
  }
  for (; i < r; i += 2) {
    const float x0 = x[i], x1 = x[i + 1];
    y[i] = x0 * ce[i] + x1 * se[i];
    y[i + 1] = x1 * ce[i + 1] + x0 * se[i + 1];
  }
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(rope_angles);
HWY_EXPORT(rope_rotate_neox);
HWY_EXPORT(rope_rotate_gptj);
void rope_angles(const float* inv_freq, int64_t half, double position, float* c, float* s) {
  HWY_DYNAMIC_DISPATCH(rope_angles)(inv_freq, half, position, c, s);
}
void rope_rotate_neox(const float* x, float* y, const float* c, const float* s, int64_t half) {
  HWY_DYNAMIC_DISPATCH(rope_rotate_neox)(x, y, c, s, half);
}
void rope_rotate_gptj(const float* x, float* y, const float* ce, const float* se, int64_t r) {
  HWY_DYNAMIC_DISPATCH(rope_rotate_gptj)(x, y, ce, se, r);
}
}  // namespace rma::cpu
#endif
