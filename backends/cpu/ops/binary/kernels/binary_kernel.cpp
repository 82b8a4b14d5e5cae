// f32 arithmetic of the binary op, vectorised: add, sub, mul, div, max and
// min with either operand a row or a broadcast scalar; pow and mod (fmod)
// call the C library per element (exactly rounded, as the reference).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/binary/kernels/binary_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cmath>

#include "ops/binary/kernels/binary_kernel.h"
#include "rma/plugin.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

template <class VecOp, class ScalarOp>
HWY_INLINE void map2(const float* a, int64_t as, const float* b, int64_t bs, float* y, int64_t n,
                     VecOp vop, ScalarOp sop) {
  const D d;
  const int64_t L = hn::Lanes(d);
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    const V va = as ? hn::LoadU(d, a + i) : hn::Set(d, a[0]);
    const V vb = bs ? hn::LoadU(d, b + i) : hn::Set(d, b[0]);
    hn::StoreU(vop(va, vb), d, y + i);
  }
  for (; i < n; ++i) y[i] = sop(a[i * as], b[i * bs]);
}

}  // namespace

void binary_f32(int32_t kind, const float* a, int64_t as, const float* b, int64_t bs, float* y,
                int64_t n) {
  switch (kind) {
    case RMA_BINARY_ADD:
      return map2(
          a, as, b, bs, y, n, [](V u, V v) { return hn::Add(u, v); },
          [](float u, float v) { return u + v; });
    case RMA_BINARY_SUB:
      return map2(
          a, as, b, bs, y, n, [](V u, V v) { return hn::Sub(u, v); },
          [](float u, float v) { return u - v; });
    case RMA_BINARY_MUL:
      return map2(
          a, as, b, bs, y, n, [](V u, V v) { return hn::Mul(u, v); },
          [](float u, float v) { return u * v; });
    case RMA_BINARY_DIV:
      return map2(
          a, as, b, bs, y, n, [](V u, V v) { return hn::Div(u, v); },
          [](float u, float v) { return u / v; });
    // max(u, v) = u < v ? v : u in both forms (std::max's order).
    case RMA_BINARY_MAX:
      return map2(
          a, as, b, bs, y, n, [](V u, V v) { return hn::IfThenElse(hn::Lt(u, v), v, u); },
          [](float u, float v) { return u < v ? v : u; });
    case RMA_BINARY_MIN:
      return map2(
          a, as, b, bs, y, n, [](V u, V v) { return hn::IfThenElse(hn::Lt(v, u), v, u); },
          [](float u, float v) { return v < u ? v : u; });
    case RMA_BINARY_POW:
      for (int64_t i = 0; i < n; ++i) y[i] = std::pow(a[i * as], b[i * bs]);
      return;
    case RMA_BINARY_MOD:
      for (int64_t i = 0; i < n; ++i) y[i] = std::fmod(a[i * as], b[i * bs]);
      return;
    default:
      return;  // comparisons and logic: the launcher's
  }
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(binary_f32);
void binary_f32(int32_t kind, const float* a, int64_t a_step, const float* b, int64_t b_step,
                float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(binary_f32)(kind, a, a_step, b, b_step, y, n);
}
}  // namespace rma::cpu
#endif
