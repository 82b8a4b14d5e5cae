// Router softmax over one row of expert logits.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/moe_gating_topk_softmax/kernels/moe_gating_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cmath>

#include <hwy/contrib/math/math-inl.h>

#include "ops/moe_gating_topk_softmax/kernels/moe_gating_kernel.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

float moe_softmax_row(const float* x, float* p, int64_t n) {
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

  const auto vmx = hn::Set(d, mx);
  auto s = hn::Zero(d);
  for (i = 0; i + L <= n; i += L) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vmx));
    hn::StoreU(e, d, p + i);
    s = hn::Add(s, e);
  }
  double sum = hn::GetLane(hn::SumOfLanes(d, s));
  for (; i < n; ++i) sum += p[i] = std::exp(x[i] - mx);

  const auto vinv = hn::Set(d, static_cast<float>(1.0 / sum));
  for (i = 0; i + L <= n; i += L) hn::StoreU(hn::Mul(hn::LoadU(d, p + i), vinv), d, p + i);
  for (; i < n; ++i) p[i] = static_cast<float>(p[i] / sum);
  return mx;
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(moe_softmax_row);
float moe_softmax_row(const float* x, float* p, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(moe_softmax_row)(x, p, n);
}
}  // namespace rma::cpu
#endif
