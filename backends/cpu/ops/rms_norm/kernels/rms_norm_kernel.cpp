// One rms_norm row: sum of squares with four accumulators (shorter
// dependency chains, and partial sums that stay accurate), then the scale.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/rms_norm/kernels/rms_norm_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cmath>

#include "ops/rms_norm/kernels/rms_norm_kernel.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void rms_norm_row(const float* x, const float* w, float eps, float* y, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    const auto a = hn::LoadU(d, x + i), b = hn::LoadU(d, x + i + L);
    const auto c = hn::LoadU(d, x + i + 2 * L), e = hn::LoadU(d, x + i + 3 * L);
    s0 = hn::MulAdd(a, a, s0);
    s1 = hn::MulAdd(b, b, s1);
    s2 = hn::MulAdd(c, c, s2);
    s3 = hn::MulAdd(e, e, s3);
  }
  for (; i + L <= n; i += L) {
    const auto a = hn::LoadU(d, x + i);
    s0 = hn::MulAdd(a, a, s0);
  }
  double ss = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  for (; i < n; ++i) ss += double(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / double(n) + eps));

  const auto vinv = hn::Set(d, inv);
  i = 0;
  for (; i + L <= n; i += L)
    hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(d, x + i), vinv), hn::LoadU(d, w + i)), d, y + i);
  for (; i < n; ++i) y[i] = x[i] * inv * w[i];
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(rms_norm_row);
void rms_norm_row(const float* x, const float* w, float eps, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(rms_norm_row)(x, w, eps, y, n);
}
}  // namespace rma::cpu
#endif
