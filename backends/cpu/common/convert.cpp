#include "common/convert.h"

#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "common/convert.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "rma/half.h"

HWY_BEFORE_NAMESPACE();
namespace rma::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void load_f16(const uint16_t* src, float* dst, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const int64_t L = hn::Lanes(df);
  int64_t i = 0;
  for (; i + L <= n; i += L)
    hn::StoreU(hn::PromoteTo(df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(src) + i)),
               df, dst + i);
  for (; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

void store_f16(const float* src, uint16_t* dst, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const int64_t L = hn::Lanes(df);
  int64_t i = 0;
  for (; i + L <= n; i += L)
    hn::StoreU(hn::DemoteTo(dh, hn::LoadU(df, src + i)), dh,
               reinterpret_cast<hwy::float16_t*>(dst) + i);
  for (; i < n; ++i) dst[i] = f32_to_f16(src[i]);
}

void load_bf16(const uint16_t* src, float* dst, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const hn::RebindToUnsigned<decltype(df)> du32;
  const int64_t L = hn::Lanes(df);
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    const auto w = hn::PromoteTo(du32, hn::LoadU(du16, src + i));
    hn::StoreU(hn::BitCast(df, hn::ShiftLeft<16>(w)), df, dst + i);
  }
  for (; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}

void store_bf16(const float* src, uint16_t* dst, int64_t n) {
  // Round to nearest even, as f32_to_bf16 (NaNs are not expected here).
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du32;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const int64_t L = hn::Lanes(df);
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    auto u = hn::BitCast(du32, hn::LoadU(df, src + i));
    const auto lsb = hn::And(hn::ShiftRight<16>(u), hn::Set(du32, 1));
    u = hn::Add(u, hn::Add(hn::Set(du32, 0x7FFF), lsb));
    hn::StoreU(hn::TruncateTo(du16, hn::ShiftRight<16>(u)), du16, dst + i);
  }
  for (; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

}  // namespace rma::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rma::cpu {
HWY_EXPORT(load_f16);
HWY_EXPORT(store_f16);
HWY_EXPORT(load_bf16);
HWY_EXPORT(store_bf16);

void load_f32(int32_t dtype, const void* src, float* dst, int64_t n) {
  switch (dtype) {
    case RMA_DTYPE_F16:
      return HWY_DYNAMIC_DISPATCH(load_f16)(static_cast<const uint16_t*>(src), dst, n);
    case RMA_DTYPE_BF16:
      return HWY_DYNAMIC_DISPATCH(load_bf16)(static_cast<const uint16_t*>(src), dst, n);
    default: std::memcpy(dst, src, n * sizeof(float));
  }
}

void store_f32(int32_t dtype, const float* src, void* dst, int64_t n) {
  switch (dtype) {
    case RMA_DTYPE_F16:
      return HWY_DYNAMIC_DISPATCH(store_f16)(src, static_cast<uint16_t*>(dst), n);
    case RMA_DTYPE_BF16:
      return HWY_DYNAMIC_DISPATCH(store_bf16)(src, static_cast<uint16_t*>(dst), n);
    default:
      if (dst != src) std::memmove(dst, src, n * sizeof(float));
  }
}
}  // namespace rma::cpu
#endif
