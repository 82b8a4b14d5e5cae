// The OpenCL backend through the public API: copies, mixed-device errors,
// streams and events, and the f16 / bf16 storage helpers bit for bit.
// Skips when no opencl device is present (no ICD, or the plugin was not
// built).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "rma/device.h"
#include "rma/error.h"
#include "rma/half.h"
#include "rma/ops.h"
#include "rma/tensor.h"

namespace rma {
namespace {

// opencl:0, or an invalid device when there is none.
Device opencl_device() {
  for (const Device& d : Runtime::get().devices())
    if (d.plugin_name() == "opencl") return d;
  return Device{};
}

#define RMA_REQUIRE_OPENCL(dev)                          \
  const Device dev = opencl_device();                    \
  if (!dev.valid()) GTEST_SKIP() << "no OpenCL device"

TEST(OpenCL, CopiesRoundTripHostDeviceHost) {
  RMA_REQUIRE_OPENCL(dev);
  std::vector<float> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i) * 0.5f - 7.f;
  Tensor t = Tensor::from_vector(v, {10, 100}, DType::kF32, dev);
  EXPECT_EQ(t.device(), dev);
  EXPECT_EQ(t.to_vector<float>(), v);
  // Device to device, then back through the cpu.
  Tensor cpu_copy = t.to(Runtime::get().device("cpu"));
  Tensor back = cpu_copy.to(dev);
  EXPECT_EQ(back.to_vector<float>(), v);
}

TEST(OpenCL, AddRunsOnTheDevice) {
  RMA_REQUIRE_OPENCL(dev);
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::kF32, dev);
  Tensor b = Tensor::from_vector(std::vector<float>{10, 20, 30}, {3}, DType::kF32, dev);
  Tensor y = ops::add(a, b);
  EXPECT_EQ(y.device(), dev);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{11, 22, 33, 14, 25, 36}));
}

TEST(OpenCL, MixingDevicesIsAnErrorNamingBoth) {
  RMA_REQUIRE_OPENCL(dev);
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2}, {2}, DType::kF32, Runtime::get().device("cpu"));
  Tensor b = Tensor::from_vector(std::vector<float>{3, 4}, {2}, DType::kF32, dev);
  try {
    ops::add(a, b);
    FAIL() << "add of a cpu and an opencl tensor did not throw";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cpu"), std::string::npos) << msg;
    EXPECT_NE(msg.find(dev.name()), std::string::npos) << msg;
  }
}

// Index tensors live on the device; a bad one is still an error naming the
// entry, not an out-of-bounds read (on cpu and opencl alike).
TEST(OpenCL, BadIndicesAreErrorsNamingTheEntry) {
  RMA_REQUIRE_OPENCL(dev);
  const int64_t blocks = 4, block_size = 4, hkv = 1, d = 8;
  Tensor q = Tensor::zeros({1, 2, d}, DType::kF32, dev);
  Tensor kc = Tensor::zeros({blocks, block_size, hkv, d}, DType::kF32, dev);
  Tensor vc = Tensor::zeros({blocks, block_size, hkv, d}, DType::kF32, dev);
  auto expect_error = [&](std::vector<int32_t> table, int32_t len, const std::string& what) {
    Tensor tb = Tensor::from_vector(table, {1, int64_t(table.size())}, DType::kI32, dev);
    Tensor ln = Tensor::from_vector(std::vector<int32_t>{len}, {1}, DType::kI32, dev);
    try {
      ops::paged_decode_attention(q, kc, vc, tb, ln, attention_attrs(0.35f));
      ADD_FAILURE() << "no error for " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
  };
  expect_error({0, 9}, 6, "block_table[0, 1] = 9");
  expect_error({0, -1}, 5, "block_table[0, 1] = -1");
  expect_error({0, 1}, 9, "context_lens[0] = 9");
  // Entries past the context are never followed, so they may hold anything.
  Tensor tb = Tensor::from_vector(std::vector<int32_t>{2, 77}, {1, 2}, DType::kI32, dev);
  Tensor ln = Tensor::from_vector(std::vector<int32_t>{3}, {1}, DType::kI32, dev);
  EXPECT_NO_THROW(ops::paged_decode_attention(q, kc, vc, tb, ln, attention_attrs(0.35f)));
}

TEST(OpenCL, StreamsAndEventsOrderWork) {
  RMA_REQUIRE_OPENCL(dev);
  Stream s1(dev), s2(dev);
  Event e(dev);
  e.synchronize();  // never recorded: returns at once
  const uint64_t n = 1 << 16;
  std::vector<float> src(n, 3.f), dst(n, 0.f);
  auto buf = dev.allocate(n * sizeof(float));
  auto buf2 = dev.allocate(n * sizeof(float));
  rma_error err{};
  err.struct_size = sizeof(err);
  err.abi_version = RMA_ABI_VERSION;
  const rma_plugin_api& api = dev.api();
  ASSERT_EQ(api.copy_host_to_device(dev.handle(), s1.handle(), buf->handle(), 0, src.data(),
                                    n * sizeof(float), &err),
            RMA_STATUS_OK)
      << err.message;
  e.record(s1);
  s2.wait(e);  // s2's copy must see s1's write
  ASSERT_EQ(api.copy_device_to_device(dev.handle(), s2.handle(), buf2->handle(), 0,
                                      buf->handle(), 0, n * sizeof(float), &err),
            RMA_STATUS_OK)
      << err.message;
  ASSERT_EQ(api.copy_device_to_host(dev.handle(), s2.handle(), dst.data(), buf2->handle(), 0,
                                    n * sizeof(float), &err),
            RMA_STATUS_OK)
      << err.message;
  e.record(s2);
  e.synchronize();
  EXPECT_EQ(dst, src);
  s1.synchronize();
  s2.synchronize();
}

TEST(OpenCL, ImpossibleAllocationReportsSizes) {
  RMA_REQUIRE_OPENCL(dev);
  try {
    Tensor::empty({int64_t(1) << 44}, DType::kF32, dev);
    FAIL() << "a 64 TiB allocation succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory) << e.what();
    EXPECT_NE(std::string(e.what()).find("70368744177664"), std::string::npos) << e.what();
  }
}

// ---- f16 / bf16 storage (backends/opencl/common/kernels/dtype.cl), bit for
// bit against rma/half.h. NaNs only need to stay NaNs.

float bits_to_f32(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
uint32_t f32_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
bool f16_is_nan(uint16_t h) { return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0; }
bool bf16_is_nan(uint16_t b) { return (b & 0x7F80u) == 0x7F80u && (b & 0x7Fu) != 0; }
bool is_nan(DType dt, uint16_t bits) {
  return dt == DType::kF16 ? f16_is_nan(bits) : bf16_is_nan(bits);
}
float widen(DType dt, uint16_t bits) {
  return dt == DType::kF16 ? f16_to_f32(bits) : bf16_to_f32(bits);
}
uint16_t narrow(DType dt, float v) { return dt == DType::kF16 ? f32_to_f16(v) : f32_to_bf16(v); }

std::vector<uint16_t> every_16_bit_pattern() {
  std::vector<uint16_t> v(65536);
  for (uint32_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint16_t>(i);
  return v;
}

// f32 values that exercise rounding to `dt`: every value of dt, the midpoint
// above each (ties), points just around it, and random f32 bit patterns
// (NaNs, infinities, f32 subnormals, overflow included).
std::vector<float> rounding_probes(DType dt) {
  std::vector<float> v;
  for (uint32_t i = 0; i < 65536; ++i) {
    const float a = widen(dt, static_cast<uint16_t>(i));
    const float b = widen(dt, static_cast<uint16_t>(i + 1 < 65536 ? i + 1 : i));
    v.push_back(a);
    if (std::isfinite(a) && std::isfinite(b)) {
      const float mid = a + (b - a) / 2;
      v.push_back(mid);
      v.push_back(std::nextafter(mid, b));
      v.push_back(std::nextafter(mid, a));
    }
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 65536; ++i) v.push_back(bits_to_f32(static_cast<uint32_t>(rng())));
  return v;
}

// fill_kv_cache of one token row [1, 1, n] into a [1, 1, 1, n] cache: a
// plain load and store through the kernel's scalar helpers.
Tensor copy_through_cache(const Tensor& row, DType cache_dtype, const Device& dev) {
  const int64_t n = row.numel();
  const Tensor k = row.reshape({1, 1, n});
  const Tensor slots = Tensor::from_vector(std::vector<int32_t>{0}, {1}, DType::kI32, dev);
  Tensor kc = Tensor::zeros({1, 1, 1, n}, cache_dtype, dev);
  Tensor vc = Tensor::zeros({1, 1, 1, n}, cache_dtype, dev);
  ops::fill_kv_cache(k, k, slots, kc, vc);
  return kc;
}

TEST(OpenCL, HalfStorageWidensEveryBitPatternExactly) {
  RMA_REQUIRE_OPENCL(dev);
  const std::vector<uint16_t> all = every_16_bit_pattern();
  for (DType dt : {DType::kF16, DType::kBF16}) {
    SCOPED_TRACE(std::string(name(dt)));
    const Tensor src = Tensor::from_vector(all, {int64_t(all.size())}, dt, dev);
    // To an f32 cache: the widening alone.
    const std::vector<float> wide = copy_through_cache(src, DType::kF32, dev).to_vector<float>();
    // To a cache of the same dtype: widen and narrow, the identity.
    const std::vector<uint16_t> same = copy_through_cache(src, dt, dev).to_vector<uint16_t>();
    int bad = 0;
    for (size_t i = 0; i < all.size() && bad < 10; ++i) {
      const float want = widen(dt, all[i]);
      if (is_nan(dt, all[i])) {
        if (!std::isnan(wide[i]) || !is_nan(dt, same[i])) ++bad;
        EXPECT_TRUE(std::isnan(wide[i])) << "bits " << all[i];
        EXPECT_TRUE(is_nan(dt, same[i])) << "bits " << all[i] << " came back " << same[i];
        continue;
      }
      if (f32_bits(wide[i]) != f32_bits(want) || same[i] != all[i]) ++bad;
      EXPECT_EQ(f32_bits(wide[i]), f32_bits(want)) << "bits " << all[i];
      EXPECT_EQ(same[i], all[i]) << "bits " << all[i];
    }
  }
}

TEST(OpenCL, HalfStorageRoundsToNearestEvenLikeTheReference) {
  RMA_REQUIRE_OPENCL(dev);
  for (DType dt : {DType::kF16, DType::kBF16}) {
    SCOPED_TRACE(std::string(name(dt)));
    const std::vector<float> probes = rounding_probes(dt);
    const Tensor src = Tensor::from_vector(probes, {int64_t(probes.size())}, DType::kF32, dev);
    const std::vector<uint16_t> got = copy_through_cache(src, dt, dev).to_vector<uint16_t>();
    int bad = 0;
    for (size_t i = 0; i < probes.size() && bad < 10; ++i) {
      const uint16_t want = narrow(dt, probes[i]);
      const bool ok = std::isnan(probes[i]) ? is_nan(dt, got[i]) : got[i] == want;
      if (!ok) ++bad;
      EXPECT_TRUE(ok) << "f32 bits 0x" << std::hex << f32_bits(probes[i]) << ": got 0x" << got[i]
                      << ", want 0x" << want;
    }
  }
}

// add_rms_norm's residual_out = x + residual goes through the 8-wide loads,
// stores and rounding (and a scalar tail: H is not a multiple of 8), from a
// row offset that is not 16-byte aligned.
TEST(OpenCL, HalfStorageVectorPathsMatchTheReference) {
  RMA_REQUIRE_OPENCL(dev);
  const int64_t h = 259, rows = 256;  // 66304 elements: every bit pattern and then some
  std::vector<uint16_t> x = every_16_bit_pattern();
  x.resize(size_t((rows + 1) * h), 0x3C00);
  std::vector<uint16_t> r(x.size());
  std::mt19937 rng(11);
  for (DType dt : {DType::kF16, DType::kBF16}) {
    SCOPED_TRACE(std::string(name(dt)));
    // Residuals: random finite values of moderate size, so sums round.
    for (uint16_t& b : r) {
      b = narrow(dt, std::uniform_real_distribution<float>(-4.f, 4.f)(rng));
    }
    // Row 0 is skipped: the views start h elements (2h bytes) in.
    const Tensor xs = Tensor::from_vector(x, {rows + 1, h}, dt, dev).slice(0, 1, rows + 1);
    const Tensor rs = Tensor::from_vector(r, {rows + 1, h}, dt, dev).slice(0, 1, rows + 1);
    const std::vector<uint16_t> ones(size_t(h), narrow(dt, 1.f));
    const Tensor w = Tensor::from_vector(ones, {h}, dt, dev);
    const std::vector<uint16_t> got =
        ops::add_rms_norm(xs, rs, w, 1e-5f).second.to_vector<uint16_t>();
    ASSERT_EQ(got.size(), size_t(rows * h));
    int bad = 0;
    for (size_t i = 0; i < got.size() && bad < 10; ++i) {
      const size_t j = size_t(h) + i;
      const float sum = widen(dt, x[j]) + widen(dt, r[j]);
      const uint16_t want = narrow(dt, sum);
      const bool ok = std::isnan(sum) ? is_nan(dt, got[i]) : got[i] == want;
      if (!ok) ++bad;
      EXPECT_TRUE(ok) << "element " << i << ": 0x" << std::hex << x[j] << " + 0x" << r[j]
                      << " gave 0x" << got[i] << ", want 0x" << want;
    }
  }
}

}  // namespace
}  // namespace rma
