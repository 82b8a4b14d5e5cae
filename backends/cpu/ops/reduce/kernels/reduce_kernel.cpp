// Row reductions: sums and extremes in f32 lanes, vectorised; products in
// double.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/reduce/kernels/reduce_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/reduce/kernels/reduce_kernel.h"
#include "rma/plugin.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

// Elements per block whose lane results are folded into the double total.
constexpr int64_t kBlock = 2048;

// Folds x into acc block by block: lanes combined with `vop` from `init`,
// each block's lanes reduced with `lanes` and merged into the double total
// with `merge`; the scalar tail with `sop`.
template <class VOp, class Lanes, class SOp, class Merge>
HWY_INLINE double fold(const float* x, int64_t n, float init, double total, VOp vop, Lanes lanes,
                       SOp sop, Merge merge) {
  const D d;
  const int64_t L = hn::Lanes(d);
  for (int64_t b0 = 0; b0 < n; b0 += kBlock) {
    const int64_t b1 = std::min(n, b0 + kBlock);
    V acc = hn::Set(d, init);
    int64_t i = b0;
    for (; i + L <= b1; i += L) acc = vop(acc, hn::LoadU(d, x + i));
    float part = lanes(acc);
    for (; i < b1; ++i) part = sop(part, x[i]);
    total = merge(total, part);
  }
  return total;
}

}  // namespace

double reduce_row_f32(int32_t kind, const float* x, int64_t n) {
  const D d;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const auto sum_lanes = [&](V v) { return hn::GetLane(hn::SumOfLanes(d, v)); };
  const auto add = [](double t, float p) { return t + p; };
  switch (kind) {
    case RMA_REDUCE_SUM:
    case RMA_REDUCE_MEAN:
      return fold(
          x, n, 0.f, 0.0, [](V a, V v) { return hn::Add(a, v); }, sum_lanes,
          [](float a, float v) { return a + v; }, add);
    case RMA_REDUCE_SUM_SQUARE:
      return fold(
          x, n, 0.f, 0.0, [](V a, V v) { return hn::MulAdd(v, v, a); }, sum_lanes,
          [](float a, float v) { return a + v * v; }, add);
    case RMA_REDUCE_MAX:
      return fold(
          x, n, -kInf, -kInf, [](V a, V v) { return hn::Max(a, v); },
          [&](V v) { return hn::GetLane(hn::MaxOfLanes(d, v)); },
          [](float a, float v) { return std::max(a, v); },
          [](double t, float p) { return std::max(t, double(p)); });
    case RMA_REDUCE_MIN:
      return fold(
          x, n, kInf, kInf, [](V a, V v) { return hn::Min(a, v); },
          [&](V v) { return hn::GetLane(hn::MinOfLanes(d, v)); },
          [](float a, float v) { return std::min(a, v); },
          [](double t, float p) { return std::min(t, double(p)); });
    case RMA_REDUCE_PROD: {
      // In double, element by element: f32 lane products of a long row
      // could overflow or underflow where the whole product does not.
      double p = 1.0;
      for (int64_t i = 0; i < n; ++i) p *= x[i];
      return p;
    }
    default:
      return 0.0;  // arg-reductions: the launcher's
  }
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(reduce_row_f32);
double reduce_row_f32(int32_t kind, const float* x, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(reduce_row_f32)(kind, x, n);
}
}  // namespace rma::cpu
#endif
