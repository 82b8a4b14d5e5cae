// Row passes of the sampler (vectorised) and the candidate sort (an LSD
// radix sort over (logit, id) keys: the full vocabulary is sorted whenever
// top_k is off, and the sum of the softmax must run in sorted order to pick
// exactly the reference's token).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/sample/kernels/sample_kernel.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>

#include "ops/sample/config.h"
#include "ops/sample/kernels/sample_kernel.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void sample_clean_row(const float* x, float* l, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  const auto ninf = hn::Set(d, -INFINITY);
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    const auto v = hn::LoadU(d, x + i);
    hn::StoreU(hn::IfThenElse(hn::IsNaN(v), ninf, v), d, l + i);
  }
  for (; i < n; ++i) l[i] = std::isnan(x[i]) ? -INFINITY : x[i];
}

void sample_divide_row(float* l, int64_t n, float t) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  const auto vt = hn::Set(d, t);
  int64_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(hn::Div(hn::LoadU(d, l + i), vt), d, l + i);
  for (; i < n; ++i) l[i] /= t;
}

int64_t sample_argmax(const float* l, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  if (n <= 0) return 0;
  int64_t i = 0;
  float mx = l[0];
  if (n >= L) {
    auto m = hn::LoadU(d, l);
    for (i = L; i + L <= n; i += L) m = hn::Max(m, hn::LoadU(d, l + i));
    mx = hn::GetLane(hn::MaxOfLanes(d, m));
  }
  for (; i < n; ++i) mx = std::max(mx, l[i]);
  // The first index holding the maximum.
  const auto vm = hn::Set(d, mx);
  for (i = 0; i + L <= n; i += L) {
    const intptr_t hit = hn::FindFirstTrue(d, hn::Eq(hn::LoadU(d, l + i), vm));
    if (hit >= 0) return i + hit;
  }
  for (; i < n; ++i)
    if (l[i] == mx) return i;
  return 0;
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(sample_clean_row);
HWY_EXPORT(sample_divide_row);
HWY_EXPORT(sample_argmax);
void sample_clean_row(const float* x, float* l, int64_t n) {
  HWY_DYNAMIC_DISPATCH(sample_clean_row)(x, l, n);
}
void sample_divide_row(float* l, int64_t n, float t) {
  HWY_DYNAMIC_DISPATCH(sample_divide_row)(l, n, t);
}
int64_t sample_argmax(const float* l, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(sample_argmax)(l, n);
}

void sample_sort_keys(std::vector<uint64_t>& keys, std::vector<uint64_t>& tmp) {
  const size_t n = keys.size();
  if (static_cast<int64_t>(n) < sample_config::kRadixMinCandidates) {
    std::sort(keys.begin(), keys.end());
    return;
  }
  constexpr int kBits = sample_config::kRadixBits;
  constexpr uint32_t kMask = (1u << kBits) - 1;
  tmp.resize(n);
  std::vector<uint32_t> count(size_t{1} << kBits);
  // Stable counting passes over the 32 logit bits (the high word), least
  // significant digit first. The keys come in ascending id order and every
  // pass is stable, so equal logits stay in id order without sorting ids.
  auto pass = [&](auto digit) {
    std::fill(count.begin(), count.end(), 0u);
    for (uint64_t k : keys) ++count[digit(k)];
    if (count[digit(keys[0])] == n) return;  // one digit value: order unchanged
    uint32_t sum = 0;
    for (uint32_t& c : count) {
      const uint32_t v = c;
      c = sum;
      sum += v;
    }
    for (uint64_t k : keys) tmp[count[digit(k)]++] = k;
    keys.swap(tmp);
  };
  for (int shift = 32; shift < 64; shift += kBits)
    pass([shift](uint64_t k) { return static_cast<uint32_t>(k >> shift) & kMask; });
}
}  // namespace rma::cpu
#endif
