// The OpenCL backend through the public API: copies, mixed-device errors,
// streams and events. Skips when no opencl device is present (no ICD, or
// the plugin was not built).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rma/device.h"
#include "rma/error.h"
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

}  // namespace
}  // namespace rma
