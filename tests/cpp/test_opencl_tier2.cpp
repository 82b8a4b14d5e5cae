// The OpenCL backend's Tier-2 ops where values, not shapes, decide: errors
// the reference raises from data (a gather index out of range, an integer
// division by zero) must come from the device too, naming the entry; calls
// it cannot run must be declined with a reason naming the dtype; and the
// argmax/argmin scan semantics (first index of ties, NaN) must hold on both
// kernels (one work-item per output, and one work-group per long output).
// Kernels a device's policy may leave unused here (the tiled transpose is
// for GPUs; CLBlast or ours for matmul by shape) are forced and checked
// against the cpu. The conformance suite (`rma test opencl:0`) covers the
// values at large.
// Skips when no opencl device is present.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "rma/device.h"
#include "rma/error.h"
#include "rma/ops.h"
#include "rma/tensor.h"

namespace rma {
namespace {

Device opencl_device() {
  for (const Device& d : Runtime::get().devices())
    if (d.plugin_name() == "opencl") return d;
  return Device{};
}

#define RMA_REQUIRE_OPENCL(dev)       \
  const Device dev = opencl_device(); \
  if (!dev.valid()) GTEST_SKIP() << "no OpenCL device"

// The Error `fn` throws (a test failure if it throws none).
template <class Fn>
Error error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(ErrorCode::kInternal, "no error");
}

bool contains(const std::string& s, std::initializer_list<const char*> parts) {
  for (const char* p : parts)
    if (s.find(p) == std::string::npos) return false;
  return true;
}

TEST(OpenCLTier2, GatherIndexOutOfRangeNamesTheEntry) {
  RMA_REQUIRE_OPENCL(dev);
  std::vector<float> table(12);
  for (size_t i = 0; i < table.size(); ++i) table[i] = float(i);
  const Tensor data = Tensor::from_vector(table, {4, 3}, DType::kF32, dev);
  // In range, negatives counting from the end.
  const Tensor ok = Tensor::from_vector(std::vector<int64_t>{3, -4, -1}, {3}, DType::kI64, dev);
  EXPECT_EQ(ops::gather(data, ok, 0).to_vector<float>(),
            (std::vector<float>{9, 10, 11, 0, 1, 2, 9, 10, 11}));
  for (const auto& [bad, what] : {std::pair{std::vector<int32_t>{0, 4, 1}, "index 4 at position 1"},
                                  std::pair{std::vector<int32_t>{-5}, "index -5 at position 0"}}) {
    const Tensor idx = Tensor::from_vector(bad, {int64_t(bad.size())}, DType::kI32, dev);
    const Error e = error_of([&] { ops::gather(data, idx, 0); });
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_TRUE(contains(e.what(), {"gather", what, "[-4, 4)"})) << e.what();
  }
  // Along axis 1 the extent is 3.
  const Tensor idx = Tensor::from_vector(std::vector<int64_t>{2, 3}, {2}, DType::kI64, dev);
  EXPECT_TRUE(contains(error_of([&] { ops::gather(data, idx, 1); }).what(),
                       {"index 3 at position 1", "[-3, 3)", "axis 1"}));
}

TEST(OpenCLTier2, IntegerDivisionByZeroIsAnErrorNamingTheElement) {
  RMA_REQUIRE_OPENCL(dev);
  const Tensor a = Tensor::from_vector(std::vector<int32_t>{7, -7, 7, -7}, {4}, DType::kI32, dev);
  const Tensor b = Tensor::from_vector(std::vector<int32_t>{2, 2, -2, -2}, {4}, DType::kI32, dev);
  // Truncated quotients; remainders with the divisor's sign.
  EXPECT_EQ(ops::binary(a, b, RMA_BINARY_DIV).to_vector<int32_t>(),
            (std::vector<int32_t>{3, -3, -3, 3}));
  EXPECT_EQ(ops::binary(a, b, RMA_BINARY_MOD).to_vector<int32_t>(),
            (std::vector<int32_t>{1, 1, -1, -1}));
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  const Tensor m = Tensor::from_vector(std::vector<int64_t>{kMin}, {1}, DType::kI64, dev);
  const Tensor minus1 = Tensor::from_vector(std::vector<int64_t>{-1}, {1}, DType::kI64, dev);
  EXPECT_EQ(ops::binary(m, minus1, RMA_BINARY_DIV).to_vector<int64_t>(),
            (std::vector<int64_t>{kMin}));
  EXPECT_EQ(ops::binary(m, minus1, RMA_BINARY_MOD).to_vector<int64_t>(), (std::vector<int64_t>{0}));

  // A zero divisor, broadcast over rows: an error, for div and mod alike.
  const Tensor rows =
      Tensor::from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::kI64, dev);
  const Tensor zero = Tensor::from_vector(std::vector<int64_t>{4, 0, 1}, {3}, DType::kI64, dev);
  const Error div = error_of([&] { ops::binary(rows, zero, RMA_BINARY_DIV); });
  EXPECT_EQ(div.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(div.what(), {"binary", "integer division by zero", "element 1 of b"}))
      << div.what();
  const Tensor z32 = Tensor::from_vector(std::vector<int32_t>{0}, {}, DType::kI32, dev);
  EXPECT_TRUE(contains(error_of([&] { ops::binary(a, z32, RMA_BINARY_MOD); }).what(),
                       {"integer modulo by zero", "element 0 of b"}));
  // Floats divide by zero as IEEE.
  const Tensor f = Tensor::from_vector(std::vector<float>{1, -1}, {2}, DType::kF32, dev);
  const Tensor fz = Tensor::from_vector(std::vector<float>{0}, {1}, DType::kF32, dev);
  const std::vector<float> q = ops::binary(f, fz, RMA_BINARY_DIV).to_vector<float>();
  EXPECT_TRUE(std::isinf(q[0]) && q[0] > 0 && std::isinf(q[1]) && q[1] < 0);
}

// op_supported, called directly: what the schema would reject before a
// plugin sees it must still be declined by the plugin, saying why.
TEST(OpenCLTier2, DeclinedDtypesAreNamedInTheReason) {
  RMA_REQUIRE_OPENCL(dev);
  auto tensor = [](DType dt, std::vector<int64_t> shape) {
    rma_tensor t{};
    t.struct_size = sizeof(t);
    t.abi_version = RMA_ABI_VERSION;
    t.dtype = static_cast<int32_t>(dt);
    t.ndim = static_cast<int32_t>(shape.size());
    int64_t stride = 1;
    for (int d = t.ndim - 1; d >= 0; --d) {
      t.shape[d] = shape[size_t(d)];
      t.strides[d] = stride;
      stride *= shape[size_t(d)];
    }
    return t;
  };
  auto reason = [&](rma_op op, std::vector<rma_tensor> in, rma_tensor out, const void* attrs) {
    rma_op_call call{};
    call.struct_size = sizeof(call);
    call.abi_version = RMA_ABI_VERSION;
    call.op = op;
    call.num_inputs = static_cast<int32_t>(in.size());
    call.inputs = in.data();
    call.num_outputs = 1;
    call.outputs = &out;
    call.attrs = attrs;
    rma_error err{};
    err.struct_size = sizeof(err);
    err.abi_version = RMA_ABI_VERSION;
    const rma_status st = dev.api().op_supported(dev.handle(), &call, &err);
    EXPECT_NE(st, RMA_STATUS_OK) << "op " << op << " accepted";
    return std::string(err.message);
  };
  const rma_unary_attrs exp_attrs = unary_attrs(RMA_UNARY_EXP);
  EXPECT_TRUE(contains(
      reason(RMA_OP_UNARY, {tensor(DType::kI32, {4})}, tensor(DType::kI32, {4}), &exp_attrs),
      {"unary", "i32"}));
  const rma_unary_attrs not_attrs = unary_attrs(RMA_UNARY_NOT);
  EXPECT_TRUE(contains(
      reason(RMA_OP_UNARY, {tensor(DType::kF32, {4})}, tensor(DType::kF32, {4}), &not_attrs),
      {"unary", "f32"}));
  const rma_binary_attrs pow_attrs = binary_attrs(RMA_BINARY_POW);
  EXPECT_TRUE(contains(reason(RMA_OP_BINARY, {tensor(DType::kI64, {4}), tensor(DType::kI64, {4})},
                              tensor(DType::kI64, {4}), &pow_attrs),
                       {"binary", "i64"}));
  const rma_reduce_attrs mean = reduce_attrs(RMA_REDUCE_MEAN, 1);
  EXPECT_TRUE(
      contains(reason(RMA_OP_REDUCE, {tensor(DType::kI32, {4})}, tensor(DType::kI32, {}), &mean),
               {"reduce", "i32"}));
  EXPECT_TRUE(
      contains(reason(RMA_OP_MATMUL, {tensor(DType::kI32, {2, 2}), tensor(DType::kI32, {2, 2})},
                      tensor(DType::kI32, {2, 2}), nullptr),
               {"matmul", "i32"}));
  const rma_transpose_attrs perm = transpose_attrs({1, 0});
  EXPECT_TRUE(contains(reason(RMA_OP_TRANSPOSE, {tensor(DType::kQ8_0, {2, 32})},
                              tensor(DType::kQ8_0, {32, 2}), &perm),
                       {"transpose", "q8_0"}));
  const rma_axis_attrs axis0 = axis_attrs(0);
  EXPECT_TRUE(
      contains(reason(RMA_OP_GATHER, {tensor(DType::kF32, {4, 3}), tensor(DType::kF32, {2})},
                      tensor(DType::kF32, {2, 3}), &axis0),
               {"gather", "indices", "f32"}));
}

// argmax / argmin as the reference's scan: the first index of ties, NaN
// skipped unless the first element is NaN. Rows of 5 take the per-output
// kernel, rows of 3000 the per-group one; both must agree with the cpu.
TEST(OpenCLTier2, ArgReductionsKeepTheScanSemantics) {
  RMA_REQUIRE_OPENCL(dev);
  const Device cpu = Runtime::get().device("cpu");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const int64_t n : {int64_t{5}, int64_t{3000}}) {
    std::vector<float> v(size_t(4 * n), 0.f);
    for (int64_t r = 0; r < 4; ++r)
      for (int64_t j = 0; j < n; ++j) v[size_t(r * n + j)] = float((j * 7 + r) % 3);  // ties
    v[0] = nan;                      // row 0 starts with NaN: index 0
    v[size_t(n + 1)] = nan;          // row 1: a NaN inside is skipped
    v[size_t(2 * n + n - 1)] = 9.f;  // row 2: the extreme at the very end
    v[size_t(3 * n + 2)] = -9.f;
    for (const rma_reduce_kind kind : {RMA_REDUCE_ARGMAX, RMA_REDUCE_ARGMIN}) {
      const Tensor x = Tensor::from_vector(v, {4, n}, DType::kF32, dev);
      const std::vector<int64_t> got = ops::reduce(x, kind, 0b10).to_vector<int64_t>();
      const std::vector<int64_t> want = ops::reduce(x.to(cpu), kind, 0b10).to_vector<int64_t>();
      EXPECT_EQ(got, want) << "n = " << n << ", kind " << kind;
      EXPECT_EQ(got[0], 0);
    }
  }
}

// Sets an environment variable for one scope (the launchers read their
// RMA_OPENCL_* overrides at every call).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

// A tensor of varied values (a few hundred distinct, both signs, fractions)
// in `dtype`, made on `dev`.
Tensor counting(const Shape& shape, DType dtype, const Device& dev) {
  int64_t n = 1;
  for (int64_t e : shape) n *= e;
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = float(i % 251) * 0.25f - 31.f;
  return ops::cast(Tensor::from_vector(v, shape, DType::kF32, dev), dtype);
}

TEST(OpenCLTier2, EveryTransposeAndMatmulPathAgreesWithTheCpu) {
  RMA_REQUIRE_OPENCL(dev);
  const Device cpu = Runtime::get().device("cpu");
  struct Swap {
    Shape x;
    std::vector<int> perm;
  };
  // Swaps of the last two axes (2-D, batched, sizes off the tile), in every
  // element size.
  const Swap swaps[] = {
      {{37, 70}, {1, 0}}, {{3, 17, 33}, {0, 2, 1}}, {{2, 3, 16, 48}, {0, 1, 3, 2}}};
  for (const char* path : {"tiled", "copy"}) {
    const ScopedEnv env("RMA_OPENCL_TRANSPOSE", path);
    for (const Swap& s : swaps)
      for (DType dt : {DType::kF32, DType::kBF16, DType::kI64, DType::kBool}) {
        const Tensor x = counting(s.x, dt, dev);
        const Tensor got = ops::transpose(x, s.perm).to(cpu);
        const Tensor want = ops::transpose(x.to(cpu), s.perm);
        EXPECT_EQ(got.to_host_bytes(), want.to_host_bytes()) << path << " " << name(dt);
      }
  }
  struct Product {
    Shape a, b;
  };
  const Product products[] = {{{5, 40}, {40, 7}},          {{30, 40}, {40, 20}},
                              {{2, 3, 30, 16}, {16, 9}},   {{30, 16}, {4, 16, 9}},
                              {{2, 1, 12, 8}, {3, 8, 10}}, {{6, 20, 8}, {6, 8, 33}},
                              {{16}, {3, 16, 12}}};
  for (const char* path : {"own", "clblast"}) {
    const ScopedEnv env("RMA_OPENCL_MATMUL", path);
    for (const Product& p : products)
      for (DType dt : {DType::kF32, DType::kF16}) {
        const Tensor a = ops::unary(counting(p.a, dt, dev), RMA_UNARY_SIN);
        const Tensor b = ops::unary(counting(p.b, dt, dev), RMA_UNARY_COS);
        const std::vector<float> got = ops::cast(ops::matmul(a, b), DType::kF32).to_vector<float>();
        const std::vector<float> want =
            ops::cast(ops::matmul(a.to(cpu), b.to(cpu)), DType::kF32).to_vector<float>();
        ASSERT_EQ(got.size(), want.size());
        const float tol = dt == DType::kF32 ? 1e-4f : 2e-2f;
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], want[i], tol * (1.f + std::fabs(want[i])))
              << path << " " << name(dt) << " element " << i;
      }
  }
}

}  // namespace
}  // namespace rma
