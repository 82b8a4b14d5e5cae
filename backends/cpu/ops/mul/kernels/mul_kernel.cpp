// y = a * b over one row, with a or b possibly a broadcast scalar.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/mul/kernels/mul_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "ops/mul/kernels/mul_kernel.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void mul_row(const float* a, int a_step, const float* b, int b_step, float* y, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    const auto va = a_step ? hn::LoadU(d, a + i) : hn::Set(d, a[0]);
    const auto vb = b_step ? hn::LoadU(d, b + i) : hn::Set(d, b[0]);
    hn::StoreU(hn::Mul(va, vb), d, y + i);
  }
  for (; i < n; ++i) y[i] = a[i * a_step] * b[i * b_step];
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(mul_row);
void mul_row(const float* a, int a_step, const float* b, int b_step, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(mul_row)(a, a_step, b, b_step, y, n);
}
}  // namespace rma::cpu
#endif
