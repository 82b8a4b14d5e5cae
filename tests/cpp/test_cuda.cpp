// The CUDA backend. Host-side parts run everywhere: the block decoders the
// kernels use (backends/cuda/common/block_decode.cuh, compiled here by the
// host compiler) bit for bit against include/rma/block_decode.h, the
// caching allocator's logic with a fake device, and the plugin's clean
// "no device" answer. The rest runs on a CUDA device and skips with one
// line where there is none.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../../backends/cuda/common/block_decode.cuh"
#include "../../backends/cuda/common/caching_allocator.h"
#include "rma/block_decode.h"
#include "rma/conformance.h"
#include "rma/device.h"
#include "rma/error.h"
#include "rma/half.h"
#include "rma/ops.h"
#include "rma/quant.h"
#include "rma/tensor.h"

namespace rma {
namespace {

// ------------------------------------------------------------ block decoders

// Decodes nb blocks of `dtype` at `blocks` with the reference.
std::vector<float> reference_decode(int32_t dtype, const uint8_t* blocks, int64_t nb) {
  const int64_t elems = nb * cuda::block_shape(dtype).elems;
  std::vector<float> out(static_cast<size_t>(elems));
  switch (dtype) {
    case RMA_DTYPE_Q8_0:
      decode_q8_0(reinterpret_cast<const rma_block_q8_0*>(blocks), out.data(), nb);
      break;
    case RMA_DTYPE_Q4_0:
      decode_q4_0(reinterpret_cast<const rma_block_q4_0*>(blocks), out.data(), nb);
      break;
    case RMA_DTYPE_Q4_1:
      decode_q4_1(reinterpret_cast<const rma_block_q4_1*>(blocks), out.data(), nb);
      break;
    case RMA_DTYPE_Q4_K:
      decode_q4_K(reinterpret_cast<const rma_block_q4_K*>(blocks), out.data(), nb);
      break;
    case RMA_DTYPE_Q5_K:
      decode_q5_K(reinterpret_cast<const rma_block_q5_K*>(blocks), out.data(), nb);
      break;
    case RMA_DTYPE_Q6_K:
      decode_q6_K(reinterpret_cast<const rma_block_q6_K*>(blocks), out.data(), nb);
      break;
    default:
      ADD_FAILURE() << "not a block type: " << dtype;
  }
  return out;
}

// Offsets of the f16 scale fields in a block (d, and dmin or m).
std::vector<int> scale_offsets(int32_t dtype) {
  switch (dtype) {
    case RMA_DTYPE_Q4_1:
    case RMA_DTYPE_Q4_K:
    case RMA_DTYPE_Q5_K:
      return {0, 2};
    case RMA_DTYPE_Q6_K:
      return {208};
    default:
      return {0};
  }
}

// Random blocks: every byte random; with `finite_scales`, the f16 scales
// are random finite values instead (the realistic case).
std::vector<uint8_t> random_blocks(int32_t dtype, int64_t nb, std::mt19937& rng,
                                   bool finite_scales) {
  const int bytes = cuda::block_shape(dtype).bytes;
  std::vector<uint8_t> raw(static_cast<size_t>(nb * bytes));
  for (auto& b : raw) b = static_cast<uint8_t>(rng());
  if (finite_scales) {
    std::uniform_real_distribution<float> scale(-0.1f, 0.1f);
    for (int64_t b = 0; b < nb; ++b)
      for (int off : scale_offsets(dtype)) {
        const uint16_t h = f32_to_f16(scale(rng));
        std::memcpy(&raw[size_t(b * bytes + off)], &h, 2);
      }
  }
  return raw;
}

constexpr std::array<int32_t, 6> kBlockTypes = {RMA_DTYPE_Q8_0, RMA_DTYPE_Q4_0, RMA_DTYPE_Q4_1,
                                                RMA_DTYPE_Q4_K, RMA_DTYPE_Q5_K, RMA_DTYPE_Q6_K};

template <int32_t kDtype>
void decode_row_t(const uint8_t* row, int64_t chunks, float* out) {
  for (int64_t c = 0; c < chunks; ++c) cuda::decode_chunk_t<kDtype>(row, c, out + c * cuda::kChunk);
}

void decode_row_static(int32_t dtype, const uint8_t* row, int64_t chunks, float* out) {
  switch (dtype) {
    case RMA_DTYPE_Q8_0:
      return decode_row_t<RMA_DTYPE_Q8_0>(row, chunks, out);
    case RMA_DTYPE_Q4_0:
      return decode_row_t<RMA_DTYPE_Q4_0>(row, chunks, out);
    case RMA_DTYPE_Q4_1:
      return decode_row_t<RMA_DTYPE_Q4_1>(row, chunks, out);
    case RMA_DTYPE_Q4_K:
      return decode_row_t<RMA_DTYPE_Q4_K>(row, chunks, out);
    case RMA_DTYPE_Q5_K:
      return decode_row_t<RMA_DTYPE_Q5_K>(row, chunks, out);
    default:
      return decode_row_t<RMA_DTYPE_Q6_K>(row, chunks, out);
  }
}

TEST(CudaBlockDecode, ChunksMatchTheReferenceBitForBit) {
  std::mt19937 rng(20240521);
  for (int32_t dtype : kBlockTypes) {
    for (bool finite : {true, false}) {
      const int64_t nb = 16;
      const std::vector<uint8_t> blocks = random_blocks(dtype, nb, rng, finite);
      const std::vector<float> want = reference_decode(dtype, blocks.data(), nb);
      const int64_t chunks = int64_t(want.size()) / cuda::kChunk;
      std::vector<float> runtime(want.size()), fixed(want.size());
      for (int64_t c = 0; c < chunks; ++c)
        cuda::decode_chunk(dtype, blocks.data(), c, runtime.data() + c * cuda::kChunk);
      decode_row_static(dtype, blocks.data(), chunks, fixed.data());
      for (size_t i = 0; i < want.size(); ++i) {
        uint32_t w, r, f;
        std::memcpy(&w, &want[i], 4);
        std::memcpy(&r, &runtime[i], 4);
        std::memcpy(&f, &fixed[i], 4);
        ASSERT_EQ(r, w) << "dtype " << dtype << (finite ? " finite" : " raw") << " element " << i
                        << ": " << runtime[i] << " vs reference " << want[i];
        ASSERT_EQ(f, w) << "dtype " << dtype << " (templated) element " << i;
      }
    }
  }
}

TEST(CudaBlockDecode, BlockShapesMatchTheFormats) {
  for (int32_t dtype : kBlockTypes) {
    const DType dt = static_cast<DType>(dtype);
    EXPECT_EQ(cuda::block_shape(dtype).elems, block_elems(dt)) << dtype;
    EXPECT_EQ(cuda::block_shape(dtype).bytes, block_bytes(dt)) << dtype;
    EXPECT_TRUE(cuda::is_block_quantized(dtype));
  }
  for (int32_t dtype : {RMA_DTYPE_F32, RMA_DTYPE_F16, RMA_DTYPE_BF16, RMA_DTYPE_I32})
    EXPECT_FALSE(cuda::is_block_quantized(dtype)) << dtype;
}

// A chunk may start at any byte (q8_0 blocks are 34 bytes): decoding from an
// odd address gives the same values.
TEST(CudaBlockDecode, ChunksDecodeFromUnalignedRows) {
  std::mt19937 rng(7);
  for (int32_t dtype : kBlockTypes) {
    const std::vector<uint8_t> blocks = random_blocks(dtype, 4, rng, true);
    std::vector<uint8_t> shifted(blocks.size() + 1);
    std::memcpy(shifted.data() + 1, blocks.data(), blocks.size());
    const int64_t chunks = 4 * cuda::block_shape(dtype).elems / cuda::kChunk;
    std::vector<float> a(size_t(chunks * cuda::kChunk)), b(a.size());
    for (int64_t c = 0; c < chunks; ++c) {
      cuda::decode_chunk(dtype, blocks.data(), c, a.data() + c * cuda::kChunk);
      cuda::decode_chunk(dtype, shifted.data() + 1, c, b.data() + c * cuda::kChunk);
    }
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * 4)) << dtype;
  }
}

// ---------------------------------------------------------- caching allocator

// A device with a byte budget; addresses are fake and never dereferenced.
class FakeDevice : public cuda::AllocatorBackend {
 public:
  explicit FakeDevice(uint64_t budget) : budget_(budget) {}
  void* device_alloc(uint64_t bytes) override {
    if (used_ + bytes > budget_) return nullptr;
    used_ += bytes;
    next_ += bytes + 4096;
    live_[reinterpret_cast<void*>(next_)] = bytes;
    ++allocs;
    return reinterpret_cast<void*>(next_);
  }
  void device_free(void* p) override {
    auto it = live_.find(p);
    ASSERT_NE(it, live_.end()) << "freed a pointer the device never gave out";
    used_ -= it->second;
    live_.erase(it);
    ++frees;
  }
  void synchronize() override { ++syncs; }
  uint64_t used() const { return used_; }

  int allocs = 0, frees = 0, syncs = 0;

 private:
  uint64_t budget_, used_ = 0;
  uintptr_t next_ = 1 << 20;
  std::map<void*, uint64_t> live_;
};

const void* const kStreamA = reinterpret_cast<const void*>(0xA0);
const void* const kStreamB = reinterpret_cast<const void*>(0xB0);

TEST(CudaAllocator, SizeClassesRoundSmallTo512AndLargeTo2MiB) {
  using cuda::size_class;
  EXPECT_EQ(size_class(0), 512u);
  EXPECT_EQ(size_class(1), 512u);
  EXPECT_EQ(size_class(512), 512u);
  EXPECT_EQ(size_class(513), 1024u);
  EXPECT_EQ(size_class(1u << 20), 1u << 20);
  EXPECT_EQ(size_class((1u << 20) + 1), 2u << 20);
  EXPECT_EQ(size_class(3u << 20), 4u << 20);
  EXPECT_EQ(size_class((64u << 20) + 5), 66u << 20);
  // A cached block serves requests up to a quarter smaller than itself.
  EXPECT_TRUE(cuda::block_fits(1024, 1024));
  EXPECT_TRUE(cuda::block_fits(1280, 1024));
  EXPECT_FALSE(cuda::block_fits(1536, 1024));
  EXPECT_FALSE(cuda::block_fits(512, 1024));
}

TEST(CudaAllocator, ReusesBlocksOnTheSameStreamOnly) {
  FakeDevice dev(1 << 30);
  cuda::CachingAllocator alloc(dev);
  void* a = alloc.allocate(1000, kStreamA);
  ASSERT_NE(a, nullptr);
  alloc.free(a);
  // Same stream: the cached block at once (work on a stream runs in order).
  EXPECT_EQ(alloc.allocate(900, kStreamA), a);
  alloc.free(a);
  // Another stream may still be racing the first: a fresh block.
  void* b = alloc.allocate(1000, kStreamB);
  EXPECT_NE(b, a);
  EXPECT_EQ(dev.allocs, 2);
  const cuda::AllocatorStats s = alloc.stats();
  EXPECT_EQ(s.cache_hits, 1u);
  EXPECT_EQ(s.device_allocs, 2u);
  EXPECT_EQ(s.bytes_in_use, 1024u);
  EXPECT_EQ(s.bytes_cached, 1024u);
  EXPECT_EQ(s.peak_bytes_in_use, 1024u);
}

TEST(CudaAllocator, RetiredStreamsShareTheirBlocks) {
  FakeDevice dev(1 << 30);
  cuda::CachingAllocator alloc(dev);
  void* a = alloc.allocate(5000, kStreamA);
  void* held = alloc.allocate(7000, kStreamA);
  alloc.free(a);
  alloc.retire_stream(kStreamA);
  EXPECT_EQ(alloc.allocate(5000, kStreamB), a);
  // A block still in use when its stream retired is shared once freed.
  alloc.free(held);
  EXPECT_EQ(alloc.allocate(7000, kStreamB), held);
  EXPECT_EQ(dev.allocs, 2);
}

TEST(CudaAllocator, DoesNotTieUpABigBlockForASmallRequest) {
  FakeDevice dev(1 << 30);
  cuda::CachingAllocator alloc(dev);
  void* big = alloc.allocate(8u << 20, kStreamA);
  alloc.free(big);
  void* small = alloc.allocate(1u << 20, kStreamA);
  EXPECT_NE(small, big);
  EXPECT_EQ(alloc.stats().bytes_cached, 8u << 20);
}

TEST(CudaAllocator, OutOfMemoryReleasesTheCacheAndRetries) {
  FakeDevice dev(10u << 20);
  cuda::CachingAllocator alloc(dev);
  void* a = alloc.allocate(4u << 20, kStreamA);
  void* b = alloc.allocate(4u << 20, kStreamB);
  alloc.free(a);
  alloc.free(b);
  // 8 MiB cached, 2 MiB free on the device: a 6 MiB request on a third
  // stream must wait for the device, hand the cache back, then succeed.
  const void* stream_c = reinterpret_cast<const void*>(0xC0);
  void* c = alloc.allocate(6u << 20, stream_c);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(dev.syncs, 1);
  EXPECT_EQ(dev.frees, 2);
  const cuda::AllocatorStats s = alloc.stats();
  EXPECT_EQ(s.releases, 1u);
  EXPECT_EQ(s.bytes_cached, 0u);
  EXPECT_EQ(s.bytes_in_use, 6u << 20);
  // Beyond what the device has even with an empty cache: nullptr, no crash.
  EXPECT_EQ(alloc.allocate(64u << 20, stream_c), nullptr);
  alloc.free(c);
  alloc.release_cached();
  EXPECT_EQ(dev.used(), 0u);
  EXPECT_EQ(alloc.stats().releases, 2u);
}

TEST(CudaAllocator, IgnoresPointersItNeverGaveOut) {
  FakeDevice dev(1 << 30);
  cuda::CachingAllocator alloc(dev);
  int not_ours = 0;
  alloc.free(&not_ours);
  alloc.free(nullptr);
  EXPECT_EQ(alloc.stats().bytes_cached, 0u);
}

// ------------------------------------------------------------------ plugin

std::string cuda_plugin_path() { return builtin_plugin_dir() + "/librma_cuda.so"; }

bool has_cuda_device() {
  for (const Device& d : Runtime::get().devices())
    if (d.plugin_name() == "cuda") return true;
  return false;
}

// Without a GPU (or driver) the plugin loads and says so in one line; the
// runtime lists it as skipped, and `rma info` shows the reason.
TEST(CudaPlugin, ReportsNoDeviceAsSkippedWithTheReason) {
  if (!std::filesystem::exists(cuda_plugin_path()))
    GTEST_SKIP() << "the CUDA plugin was not built (no nvcc)";
  if (has_cuda_device()) {
    bool listed = false;
    for (const PluginInfo& p : Runtime::get().plugins()) listed |= p.name == "cuda";
    EXPECT_TRUE(listed);
    GTEST_SKIP() << "a CUDA device is present: nothing is skipped";
  }
  std::string reason;
  for (const SkippedPlugin& s : Runtime::get().skipped_plugins())
    if (std::filesystem::path(s.path).filename() == "librma_cuda.so") reason = s.reason;
  ASSERT_FALSE(reason.empty()) << "librma_cuda.so is neither loaded nor skipped";
  EXPECT_EQ(reason.rfind("cuda: no ", 0), 0u) << reason;
  EXPECT_NE(reason.find("CUDA device"), std::string::npos) << reason;
  EXPECT_EQ(reason.find('\n'), std::string::npos) << "one line: " << reason;

  const std::string cmd = std::string(RMA_BINARY_DIR) + "/bin/rma info 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) out.append(buf, n);
  EXPECT_EQ(pclose(pipe), 0) << out;
  const size_t skipped = out.find("Skipped plugins:");
  ASSERT_NE(skipped, std::string::npos) << out;
  EXPECT_NE(out.find("librma_cuda.so", skipped), std::string::npos) << out;
  EXPECT_NE(out.find(reason, skipped), std::string::npos) << out;
}

// ------------------------------------------------------------- on a device

Device cuda_device() {
  for (const Device& d : Runtime::get().devices())
    if (d.plugin_name() == "cuda") return d;
  return Device{};
}

#define RMA_REQUIRE_CUDA(dev)       \
  const Device dev = cuda_device(); \
  if (!dev.valid()) GTEST_SKIP() << "no CUDA device"

Device cpu() { return Runtime::get().device("cpu"); }

// A tensor of `dtype` from floats (rounded or block-quantized on the host).
Tensor make(const std::vector<float>& v, const Shape& shape, DType dtype, const Device& dev) {
  std::vector<uint8_t> bytes(
      static_cast<size_t>(std::max<int64_t>(1, bytes_for(dtype, numel(shape)))));
  if (!v.empty()) quantize_row(dtype, v.data(), bytes.data(), numel(shape));
  return Tensor::from_host(bytes.data(), shape, dtype, dev);
}

std::vector<float> floats_of(const Tensor& t) {
  const std::vector<uint8_t> bytes = t.to_host_bytes();
  std::vector<float> out(static_cast<size_t>(t.numel()));
  if (!out.empty()) dequantize_row(t.dtype(), bytes.data(), out.data(), t.numel());
  return out;
}

std::vector<float> uniform(int64_t n, float lo, float hi, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double atol,
                  double rtol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int64_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(double(got[i]) - want[i]) <= atol + rtol * std::fabs(double(want[i])))) {
      if (bad++ < 3)
        ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", expected " << want[i];
    }
  EXPECT_EQ(bad, 0) << what;
}

TEST(Cuda, CopiesRoundTripThroughStagingChunks) {
  RMA_REQUIRE_CUDA(dev);
  // Sizes below, at and across the 4 MiB staging chunks.
  for (int64_t n : {int64_t{1}, int64_t{1000}, int64_t{1} << 20, (int64_t{5} << 20) / 4 + 3}) {
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[size_t(i)] = float(i % 9973) * 0.25f - 3.f;
    Tensor t = Tensor::from_vector(v, {n}, DType::kF32, dev);
    EXPECT_EQ(t.to_vector<float>(), v) << n;
    Tensor back = t.to(cpu()).to(dev);
    EXPECT_EQ(back.to_vector<float>(), v) << n;
  }
}

TEST(Cuda, StreamsAndEventsOrderWork) {
  RMA_REQUIRE_CUDA(dev);
  Stream s(dev);
  Event e(dev);
  e.synchronize();  // never recorded: returns at once
  e.record(s);
  dev.default_stream().wait(e);
  e.synchronize();
  s.synchronize();
  dev.synchronize();
}

TEST(Cuda, OutOfMemoryNamesTheBytes) {
  RMA_REQUIRE_CUDA(dev);
  const int64_t huge = int64_t{1} << 46;  // 64 TiB
  try {
    Tensor t = Tensor::empty({huge}, DType::kI8, dev);
    FAIL() << "allocating 64 TiB did not fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory) << e.what();
    const std::string msg = e.what();
    EXPECT_NE(msg.find(std::to_string(huge)), std::string::npos) << msg;
    EXPECT_NE(msg.find("free"), std::string::npos) << msg;
  }
  // The device still works afterwards.
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2}, {2}, DType::kF32, dev);
  EXPECT_EQ(ops::add(a, a).to_vector<float>(), (std::vector<float>{2, 4}));
}

TEST(Cuda, BadEmbeddingIdIsAnErrorNamingIt) {
  RMA_REQUIRE_CUDA(dev);
  Tensor table = Tensor::zeros({10, 4}, DType::kF32, dev);
  Tensor ids = Tensor::from_vector(std::vector<int32_t>{1, 10}, {2}, DType::kI32, dev);
  try {
    ops::embedding(ids, table);
    FAIL() << "id 10 of a 10-row table did not fail";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("id 10 at position 1"), std::string::npos) << msg;
  }
}

// linear through cuBLASLt (T > 8) with every activation, both layouts and
// sizes that defeat 16-byte alignment, against the CPU backend.
TEST(Cuda, LinearEpiloguesAndLayoutsMatchTheCpu) {
  RMA_REQUIRE_CUDA(dev);
  std::mt19937 rng(3);
  struct Shape3 {
    int64_t t, k, n;
  };
  const Shape3 shapes[] = {{40, 64, 48}, {33, 13, 7}, {9, 257, 129}};
  const Activation acts[] = {Activation::kNone,    Activation::kRelu,     Activation::kLeakyRelu,
                             Activation::kGelu,    Activation::kGeluTanh, Activation::kSilu,
                             Activation::kSigmoid, Activation::kTanh};
  for (DType dt : {DType::kF32, DType::kF16, DType::kBF16}) {
    const double atol = dt == DType::kF32 ? 2e-4 : dt == DType::kF16 ? 1e-2 : 6e-2;
    const double rtol = dt == DType::kF32 ? 2e-3 : dt == DType::kF16 ? 2e-2 : 8e-2;
    for (const Shape3& s : shapes)
      for (bool trans_a : {false, true})
        for (bool trans_b : {true, false})
          for (Activation act : acts) {
            const float r = 1.f / std::sqrt(float(s.k));
            const auto xv = uniform(s.t * s.k, -1, 1, rng), wv = uniform(s.n * s.k, -r, r, rng);
            const auto bv = uniform(s.n, -0.5f, 0.5f, rng);
            const Shape xs = trans_a ? Shape{s.k, s.t} : Shape{s.t, s.k};
            const Shape ws = trans_b ? Shape{s.n, s.k} : Shape{s.k, s.n};
            const rma_linear_attrs a = linear_attrs(act, trans_a, trans_b, 0.1f, 0.75f);
            const auto want = floats_of(ops::linear(
                make(xv, xs, dt, cpu()), make(wv, ws, dt, cpu()), make(bv, {s.n}, dt, cpu()), a));
            const auto got = floats_of(ops::linear(make(xv, xs, dt, dev), make(wv, ws, dt, dev),
                                                   make(bv, {s.n}, dt, dev), a));
            expect_close(got, want, atol, rtol,
                         std::string(name(dt)) + " t" + std::to_string(s.t) + " k" +
                             std::to_string(s.k) + " n" + std::to_string(s.n) +
                             (trans_a ? " trans_a" : "") + (trans_b ? "" : " trans_b=0") + " act " +
                             std::to_string(int(act)));
          }
  }
}

// quant_linear's decoded-tile path (T > 8) in both precisions, and the GEMV
// path (T <= 8), for every weight type and 16-bit activations.
TEST(Cuda, QuantLinearTilesAndGemvMatchTheCpu) {
  RMA_REQUIRE_CUDA(dev);
  std::mt19937 rng(5);
  const DType weights[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ4_K,
                           DType::kQ5_K, DType::kQ6_K, DType::kF16,  DType::kBF16};
  for (DType wt : weights)
    for (DType xt : {DType::kF32, DType::kF16, DType::kBF16})
      for (int64_t t : {int64_t{3}, int64_t{8}, int64_t{50}})
        for (Precision p : {Precision::kAccurate, Precision::kFast}) {
          const int64_t k = 512, n = 96;
          const auto xv = uniform(t * k, -1, 1, rng);
          const auto wv = uniform(n * k, -0.05f, 0.05f, rng);
          const auto bv = uniform(n, -0.5f, 0.5f, rng);
          const rma_linear_attrs a = linear_attrs(Activation::kSilu, false, true, 0.01f, 1.f, p);
          const auto want =
              floats_of(ops::quant_linear(make(xv, {t, k}, xt, cpu()), make(wv, {n, k}, wt, cpu()),
                                          make(bv, {n}, xt, cpu()), a));
          const auto got = floats_of(ops::quant_linear(
              make(xv, {t, k}, xt, dev), make(wv, {n, k}, wt, dev), make(bv, {n}, xt, dev), a));
          const double tol = xt == DType::kF32 ? 2e-3 : xt == DType::kF16 ? 1e-2 : 5e-2;
          expect_close(got, want, tol, tol,
                       std::string(name(wt)) + " x " + std::string(name(xt)) + " t" +
                           std::to_string(t) + (p == Precision::kFast ? " fast" : " accurate"));
        }
}

// Every op, dtype and shape of the conformance suite against the reference.
TEST(Cuda, ConformancePassesEveryCase) {
  RMA_REQUIRE_CUDA(dev);
  std::vector<std::string> failures;
  const ConformanceSummary s =
      run_conformance(dev, ConformanceOptions{}, [&](const ConformanceResult& r) {
        if (r.status != "pass" && r.status != "unsupported")
          failures.push_back(r.op + " " + r.dtype + " " + r.shapes + ": " + r.status + " " +
                             r.detail);
      });
  for (const std::string& f : failures) ADD_FAILURE() << f;
  EXPECT_EQ(s.failed, 0);
  EXPECT_GT(s.passed, 0);
}

}  // namespace
}  // namespace rma
