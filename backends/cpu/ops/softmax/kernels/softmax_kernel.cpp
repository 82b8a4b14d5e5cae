// One softmax row in three sweeps: max, exp(x - max) with its sum, scale;
// log_softmax likewise: max, the sum of exp(x - max), x - max - log(sum).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/softmax/kernels/softmax_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>

#include <hwy/contrib/math/math-inl.h>

#include "ops/softmax/kernels/softmax_kernel.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void softmax_row(const float* x, float* y, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  int64_t i = 0;
  float mx = -INFINITY;
  if (n >= L) {
    auto m = hn::LoadU(d, x);
    for (i = L; i + L <= n; i += L) m = hn::Max(m, hn::LoadU(d, x + i));
    mx = hn::GetLane(hn::MaxOfLanes(d, m));
  }
  for (; i < n; ++i) mx = std::fmax(mx, x[i]);

  // Exp maps its lower range (and -inf) to 0. Lane sums are flushed to a
  // double every block so long rows (vocabularies) keep their precision.
  constexpr int64_t kBlock = 2048;
  const auto vmx = hn::Set(d, mx);
  double sum = 0;
  i = 0;
  for (int64_t b0 = 0; b0 < n; b0 += kBlock) {
    const int64_t b1 = std::min(n, b0 + kBlock);
    auto s0 = hn::Zero(d), s1 = hn::Zero(d);
    for (i = b0; i + 2 * L <= b1; i += 2 * L) {
      const auto e0 = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vmx));
      const auto e1 = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i + L), vmx));
      hn::StoreU(e0, d, y + i);
      hn::StoreU(e1, d, y + i + L);
      s0 = hn::Add(s0, e0);
      s1 = hn::Add(s1, e1);
    }
    for (; i + L <= b1; i += L) {
      const auto e0 = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vmx));
      hn::StoreU(e0, d, y + i);
      s0 = hn::Add(s0, e0);
    }
    sum += hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
    for (; i < b1; ++i) sum += y[i] = std::exp(x[i] - mx);
  }

  const float inv = static_cast<float>(1.0 / sum);
  const auto vinv = hn::Set(d, inv);
  i = 0;
  for (; i + L <= n; i += L) hn::StoreU(hn::Mul(hn::LoadU(d, y + i), vinv), d, y + i);
  for (; i < n; ++i) y[i] *= inv;
}

void log_softmax_row(const float* x, float* y, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  int64_t i = 0;
  float mx = -INFINITY;
  if (n >= L) {
    auto m = hn::LoadU(d, x);
    for (i = L; i + L <= n; i += L) m = hn::Max(m, hn::LoadU(d, x + i));
    mx = hn::GetLane(hn::MaxOfLanes(d, m));
  }
  for (; i < n; ++i) mx = std::fmax(mx, x[i]);

  // sum exp(x - max) without storing it (y may alias x), flushed to double
  // per block as in softmax_row; then y = x - max - log(sum).
  constexpr int64_t kBlock = 2048;
  const auto vmx = hn::Set(d, mx);
  double sum = 0;
  for (int64_t b0 = 0; b0 < n; b0 += kBlock) {
    const int64_t b1 = std::min(n, b0 + kBlock);
    auto s0 = hn::Zero(d);
    for (i = b0; i + L <= b1; i += L)
      s0 = hn::Add(s0, hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vmx)));
    sum += hn::GetLane(hn::SumOfLanes(d, s0));
    for (; i < b1; ++i) sum += std::exp(x[i] - mx);
  }
  const auto shift = hn::Set(d, mx + static_cast<float>(std::log(sum)));
  i = 0;
  for (; i + L <= n; i += L) hn::StoreU(hn::Sub(hn::LoadU(d, x + i), shift), d, y + i);
  for (; i < n; ++i) y[i] = x[i] - (mx + static_cast<float>(std::log(sum)));
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(softmax_row);
HWY_EXPORT(log_softmax_row);
void softmax_row(const float* x, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(softmax_row)(x, y, n);
}
void log_softmax_row(const float* x, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(log_softmax_row)(x, y, n);
}
}  // namespace rma::cpu
#endif
