// One layer_norm row: statistics in shifted coordinates, then the affine map.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/layer_norm/kernels/layer_norm_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>

#include "ops/layer_norm/kernels/layer_norm_kernel.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void layer_norm_row(const float* x, const float* w, const float* b, float eps, float* y,
                    int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  // Pass 1: a rough mean c. Pass 2: the mean and variance of x - c, which is
  // exact where x is near c, so a large mean costs no precision.
  auto s0 = hn::Zero(d), s1 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    s0 = hn::Add(s0, hn::LoadU(d, x + i));
    s1 = hn::Add(s1, hn::LoadU(d, x + i + L));
  }
  for (; i + L <= n; i += L) s0 = hn::Add(s0, hn::LoadU(d, x + i));
  double sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  for (; i < n; ++i) sum += x[i];
  const float c = static_cast<float>(sum / double(n));

  const auto vc = hn::Set(d, c);
  auto u0 = hn::Zero(d), u1 = hn::Zero(d);
  s0 = hn::Zero(d);
  s1 = hn::Zero(d);
  i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    const auto a = hn::Sub(hn::LoadU(d, x + i), vc);
    const auto e = hn::Sub(hn::LoadU(d, x + i + L), vc);
    u0 = hn::Add(u0, a);
    u1 = hn::Add(u1, e);
    s0 = hn::MulAdd(a, a, s0);
    s1 = hn::MulAdd(e, e, s1);
  }
  for (; i + L <= n; i += L) {
    const auto a = hn::Sub(hn::LoadU(d, x + i), vc);
    u0 = hn::Add(u0, a);
    s0 = hn::MulAdd(a, a, s0);
  }
  double su = hn::GetLane(hn::SumOfLanes(d, hn::Add(u0, u1)));
  double sq = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  for (; i < n; ++i) {
    const double a = x[i] - c;
    su += a;
    sq += a * a;
  }
  const double mu = su / double(n);
  const double var = std::max(0.0, sq / double(n) - mu * mu);
  const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
  const float muf = static_cast<float>(mu);

  const auto vinv = hn::Set(d, inv), vmu = hn::Set(d, muf);
  i = 0;
  if (b) {
    for (; i + L <= n; i += L) {
      const auto t = hn::Sub(hn::Sub(hn::LoadU(d, x + i), vc), vmu);
      hn::StoreU(hn::MulAdd(hn::Mul(t, vinv), hn::LoadU(d, w + i), hn::LoadU(d, b + i)), d, y + i);
    }
    for (; i < n; ++i) y[i] = ((x[i] - c) - muf) * inv * w[i] + b[i];
  } else {
    for (; i + L <= n; i += L) {
      const auto t = hn::Sub(hn::Sub(hn::LoadU(d, x + i), vc), vmu);
      hn::StoreU(hn::Mul(hn::Mul(t, vinv), hn::LoadU(d, w + i)), d, y + i);
    }
    for (; i < n; ++i) y[i] = ((x[i] - c) - muf) * inv * w[i];
  }
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(layer_norm_row);
void layer_norm_row(const float* x, const float* w, const float* b, float eps, float* y,
                    int64_t n) {
  HWY_DYNAMIC_DISPATCH(layer_norm_row)(x, w, b, eps, y, n);
}
}  // namespace rma::cpu
#endif
