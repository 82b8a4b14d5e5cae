// Core runtime: plugin loading, device lookup, tensors, views, copies,
// memory pool, configuration overrides.
#include <gtest/gtest.h>

#include <cstdlib>

#include "rma/config.h"
#include "rma/device.h"
#include "rma/error.h"
#include "rma/ops.h"
#include "rma/tensor.h"

namespace rma {
namespace {

Device cpu() { return Runtime::get().device("cpu"); }

TEST(Runtime, CpuPluginLoadsThroughTheAbi) {
  const auto& plugins = Runtime::get().plugins();
  bool found = false;
  for (const auto& p : plugins)
    if (p.name == "cpu") {
      found = true;
      EXPECT_EQ(p.abi_version, RMA_ABI_VERSION);
      EXPECT_NE(p.path.find("librma_cpu.so"), std::string::npos);
      EXPECT_EQ(p.device_count, 1);
    }
  EXPECT_TRUE(found);
  const rma_device_info info = cpu().info();
  EXPECT_EQ(info.type, RMA_DEVICE_CPU);
  EXPECT_GT(info.memory_total, 0u);
  EXPECT_GT(info.compute_units, 0);
  EXPECT_TRUE(info.capabilities & RMA_CAP_HOST_MEMORY);
}

TEST(Runtime, DeviceLookupAcceptsAliasesAndListsDevicesOnError) {
  EXPECT_EQ(Runtime::get().device("cpu:0"), cpu());
  EXPECT_EQ(Runtime::get().device("auto").valid(), true);
  try {
    Runtime::get().device("npu:7");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("npu:7"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("cpu"), std::string::npos);
  }
}

TEST(Config, EnvironmentOverridesCode) {
  setenv("RM_DEVICE", "opencl:0", 1);
  setenv("RM_NUM_THREADS", "3", 1);
  Config c;
  c.device = "cpu";
  c.num_threads = 1;
  const Config e = c.with_environment();
  EXPECT_EQ(e.device, "opencl:0");
  EXPECT_EQ(e.num_threads, 3);
  setenv("RM_NUM_THREADS", "lots", 1);
  EXPECT_THROW(c.with_environment(), Error);
  unsetenv("RM_DEVICE");
  unsetenv("RM_NUM_THREADS");
  const Config d = c.with_environment();
  EXPECT_EQ(d.device, "cpu");
  EXPECT_EQ(d.num_threads, 1);
  EXPECT_FALSE(d.cache_dir.empty());
}

TEST(Tensor, RoundTripsThroughDeviceMemory) {
  std::vector<float> v{1, 2, 3, 4, 5, 6};
  Tensor t = Tensor::from_vector(v, {2, 3}, DType::kF32, cpu());
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.nbytes(), 24u);
  EXPECT_EQ(t.to_vector<float>(), v);
  EXPECT_THROW(Tensor::from_vector(v, {4, 3}, DType::kF32, cpu()), Error);
}

TEST(Tensor, ViewsShareStorageAndContiguousGathers) {
  std::vector<float> v{1, 2, 3, 4, 5, 6};
  Tensor t = Tensor::from_vector(v, {2, 3}, DType::kF32, cpu());
  Tensor tt = t.transpose(0, 1);
  EXPECT_FALSE(tt.is_contiguous());
  EXPECT_EQ(tt.contiguous().to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  Tensor row = t.slice(0, 1, 2);
  EXPECT_EQ(row.to_vector<float>(), (std::vector<float>{4, 5, 6}));
  Tensor col = t.slice(1, 1, 2).contiguous();
  EXPECT_EQ(col.to_vector<float>(), (std::vector<float>{2, 5}));
  Tensor r = t.reshape({3, -1});
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  EXPECT_EQ(r.buffer(), t.buffer());
  EXPECT_THROW(t.reshape({4, 2}), Error);
  EXPECT_THROW(tt.reshape({6}), Error);
  EXPECT_THROW(t.slice(0, 1, 3), Error);
}

TEST(Tensor, OverflowingShapeIsAClearError) {
  EXPECT_THROW(Tensor::empty({int64_t(1) << 40, int64_t(1) << 40}, DType::kF32, cpu()), Error);
  EXPECT_THROW(Tensor::empty({-1, 4}, DType::kF32, cpu()), Error);
}

TEST(Tensor, QuantizedShapesAreChecked) {
  EXPECT_THROW(Tensor::empty({4, 33}, DType::kQ8_0, cpu()), Error);
  Tensor q = Tensor::empty({4, 64}, DType::kQ8_0, cpu());
  EXPECT_EQ(q.nbytes(), 4u * 2 * 34);
}

TEST(Tensor, WrapHostIsZeroCopy) {
  auto storage = std::make_shared<std::vector<float>>(8, 2.5f);
  Tensor t = Tensor::wrap_host(storage->data(), {8}, DType::kF32, cpu(), storage);
  EXPECT_EQ(t.host_data(), storage->data());
  (*storage)[3] = 7.f;
  EXPECT_EQ(t.to_vector<float>()[3], 7.f);
}

TEST(MemoryPool, ReusesFreedBlocksAndTracksPeak) {
  const Device d = cpu();
  const MemoryStats before = d.memory_stats();
  { Tensor a = Tensor::empty({1 << 16}, DType::kF32, d); }
  { Tensor b = Tensor::empty({1 << 16}, DType::kF32, d); }
  const MemoryStats after = d.memory_stats();
  EXPECT_GE(after.pool_hits, before.pool_hits + 1);
  EXPECT_GE(after.peak_bytes_in_use, (1u << 16) * 4u);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  d.release_cached_memory();
  EXPECT_EQ(d.memory_stats().bytes_cached, 0u);
}

TEST(MemoryPool, ImpossibleAllocationIsAClearError) {
  try {
    Tensor::empty({int64_t(1) << 46}, DType::kF32, cpu());
    FAIL() << "expected out of memory";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
    EXPECT_NE(std::string(e.what()).find("bytes free"), std::string::npos);
  }
}

TEST(Streams, EventsAndStreamsWorkOnCpu) {
  Stream s(cpu());
  Event e(cpu());
  e.record(s);
  s.wait(e);
  e.synchronize();
  s.synchronize();
}

TEST(Dispatch, AddBroadcastsOnCpu) {
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::kF32, cpu());
  Tensor b = Tensor::from_vector(std::vector<float>{10, 20, 30}, {3}, DType::kF32, cpu());
  EXPECT_EQ(ops::add(a, b).to_vector<float>(), (std::vector<float>{11, 22, 33, 14, 25, 36}));
  EXPECT_EQ(ops::mul(a, b).to_vector<float>(), (std::vector<float>{10, 40, 90, 40, 100, 180}));
}

TEST(Dispatch, NonContiguousInputIsRejectedWithItsName) {
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2}, DType::kF32, cpu());
  try {
    ops::add(a.transpose(0, 1), a);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.op(), "add");
    EXPECT_NE(std::string(e.what()).find("'a'"), std::string::npos);
  }
}

}  // namespace
}  // namespace rma
