// Tier-2 ops (unary, binary, matmul, reduce, cast, where, gather, concat,
// slice, transpose, expand) and log_softmax: the schemas' shapes, dtypes and
// errors (descriptors only), then the semantics on the cpu device checked
// against values worked out by hand — broadcasting, negative indices and
// steps, ties, integer division signs, rounding. The conformance suite
// compares every backend with the reference over many more shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "rma/device.h"
#include "rma/error.h"
#include "rma/half.h"
#include "rma/ops.h"
#include "rma/tensor.h"

namespace rma {
namespace {

constexpr DType kF32 = DType::kF32, kF16 = DType::kF16, kBF16 = DType::kBF16, kI32 = DType::kI32,
                kI64 = DType::kI64, kBool = DType::kBool, kQ4_0 = DType::kQ4_0;

// ------------------------------------------------------------ descriptors

rma_tensor desc(DType dtype, const Shape& shape) {
  rma_tensor d{};
  d.struct_size = sizeof(d);
  d.abi_version = RMA_ABI_VERSION;
  d.dtype = static_cast<int32_t>(dtype);
  d.ndim = static_cast<int32_t>(shape.size());
  int64_t stride = 1;
  for (int i = d.ndim - 1; i >= 0; --i) {
    d.shape[i] = shape[i];
    d.strides[i] = stride;
    stride *= shape[i];
  }
  return d;
}

TensorDesc infer(rma_op op, const std::vector<rma_tensor>& in, const void* attrs) {
  return infer_outputs(op, in, attrs).at(0);
}

// The message of the Error the schema throws (checking code and op), or a
// test failure if the call is accepted.
std::string rejection(rma_op op, const std::vector<rma_tensor>& in, const void* attrs) {
  try {
    infer_outputs(op, in, attrs);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(e.op(), std::string(op_name(op)));
    return e.message();
  }
  ADD_FAILURE() << op_name(op) << ": call accepted, expected a rejection";
  return {};
}

::testing::AssertionResult contains(const std::string& message,
                                    std::initializer_list<std::string_view> parts) {
  for (std::string_view p : parts)
    if (message.find(p) == std::string::npos)
      return ::testing::AssertionFailure() << "'" << p << "' not in: " << message;
  return ::testing::AssertionSuccess();
}

void expect_desc(const TensorDesc& d, const Shape& shape, DType dtype) {
  EXPECT_EQ(d.shape, shape);
  EXPECT_EQ(d.dtype, dtype);
}

// ------------------------------------------------------------- schemas

TEST(Tier2Schema, OpNamesAndKindNames) {
  EXPECT_EQ(op_name(RMA_OP_UNARY), "unary");
  EXPECT_EQ(op_name(RMA_OP_EXPAND), "expand");
  EXPECT_EQ(parse_op("gather"), RMA_OP_GATHER);
  EXPECT_EQ(unary_kind_name(RMA_UNARY_GELU_TANH), "gelu_tanh");
  EXPECT_EQ(binary_kind_name(RMA_BINARY_GREATER_EQUAL), "greater_equal");
  EXPECT_EQ(reduce_kind_name(RMA_REDUCE_ARGMIN), "argmin");
  EXPECT_EQ(unary_kind_name(99), "unknown");
  EXPECT_EQ(parse_unary_kind("not"), RMA_UNARY_NOT);
  EXPECT_EQ(parse_binary_kind("xor"), RMA_BINARY_XOR);
  EXPECT_EQ(parse_reduce_kind("sum_square"), RMA_REDUCE_SUM_SQUARE);
  EXPECT_FALSE(parse_reduce_kind("median"));
  EXPECT_TRUE(op_is_variadic(RMA_OP_CONCAT));
  EXPECT_FALSE(op_is_variadic(RMA_OP_WHERE));
  EXPECT_EQ(op_input_name(RMA_OP_CONCAT, 3), "x3");
  EXPECT_EQ(op_input_name(RMA_OP_WHERE, 0), "cond");
}

TEST(Tier2Schema, UnaryDtypesByKind) {
  auto exp = unary_attrs(RMA_UNARY_EXP);
  expect_desc(infer(RMA_OP_UNARY, {desc(kBF16, {2, 3})}, &exp), {2, 3}, kBF16);
  EXPECT_TRUE(contains(rejection(RMA_OP_UNARY, {desc(kI32, {2})}, &exp),
                       {"argument 'x'", "for exp", "got i32"}));
  auto neg = unary_attrs(RMA_UNARY_NEG);
  expect_desc(infer(RMA_OP_UNARY, {desc(kI64, {})}, &neg), {}, kI64);
  EXPECT_TRUE(contains(rejection(RMA_OP_UNARY, {desc(kBool, {2})}, &neg), {"for neg"}));
  auto logical_not = unary_attrs(RMA_UNARY_NOT);
  expect_desc(infer(RMA_OP_UNARY, {desc(kBool, {4})}, &logical_not), {4}, kBool);
  EXPECT_TRUE(contains(rejection(RMA_OP_UNARY, {desc(kF32, {4})}, &logical_not), {"(bool)"}));
  auto bad = unary_attrs(static_cast<rma_unary_kind>(RMA_UNARY_COUNT));
  EXPECT_TRUE(contains(rejection(RMA_OP_UNARY, {desc(kF32, {4})}, &bad), {"attribute 'kind'"}));
  auto clip = unary_attrs(RMA_UNARY_CLIP, NAN, 1.f);
  EXPECT_TRUE(contains(rejection(RMA_OP_UNARY, {desc(kF32, {4})}, &clip), {"attribute 'param0'"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_UNARY, {desc(kQ4_0, {32})}, &exp), {"got q4_0"}));
}

TEST(Tier2Schema, BinaryBroadcastsAndTypesItsOutput) {
  auto add = binary_attrs(RMA_BINARY_ADD);
  expect_desc(infer(RMA_OP_BINARY, {desc(kF32, {4, 1, 5}), desc(kF32, {3, 1})}, &add), {4, 3, 5},
              kF32);
  expect_desc(infer(RMA_OP_BINARY, {desc(kI64, {}), desc(kI64, {0, 2})}, &add), {0, 2}, kI64);
  EXPECT_TRUE(contains(rejection(RMA_OP_BINARY, {desc(kF32, {2, 3}), desc(kF32, {4})}, &add),
                       {"argument 'b'", "[4] does not broadcast with [2, 3]", "3 vs 4"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_BINARY, {desc(kF32, {2}), desc(kF16, {2})}, &add),
                       {"argument 'b'", "expected dtype f32"}));
  auto less = binary_attrs(RMA_BINARY_LESS);
  expect_desc(infer(RMA_OP_BINARY, {desc(kF16, {3}), desc(kF16, {1})}, &less), {3}, kBool);
  expect_desc(infer(RMA_OP_BINARY, {desc(kI32, {3}), desc(kI32, {3})}, &less), {3}, kBool);
  auto logical_and = binary_attrs(RMA_BINARY_AND);
  expect_desc(infer(RMA_OP_BINARY, {desc(kBool, {3}), desc(kBool, {3})}, &logical_and), {3}, kBool);
  EXPECT_TRUE(contains(rejection(RMA_OP_BINARY, {desc(kF32, {3}), desc(kF32, {3})}, &logical_and),
                       {"argument 'a'", "for and"}));
  auto pow = binary_attrs(RMA_BINARY_POW);
  EXPECT_TRUE(
      contains(rejection(RMA_OP_BINARY, {desc(kI32, {3}), desc(kI32, {3})}, &pow), {"for pow"}));
  auto bad = binary_attrs(static_cast<rma_binary_kind>(-1));
  EXPECT_TRUE(contains(rejection(RMA_OP_BINARY, {desc(kF32, {3}), desc(kF32, {3})}, &bad),
                       {"attribute 'kind'", "rma_binary_kind"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_BINARY, {desc(kF32, {3}), desc(kF32, {3})}, nullptr),
                       {"rma_binary_attrs"}));
}

TEST(Tier2Schema, MatmulShapesIncludingOneDimensionalOperands) {
  expect_desc(infer(RMA_OP_MATMUL, {desc(kF32, {7, 13}), desc(kF32, {13, 5})}, nullptr), {7, 5},
              kF32);
  expect_desc(infer(RMA_OP_MATMUL, {desc(kF16, {2, 1, 5, 8}), desc(kF16, {3, 8, 4})}, nullptr),
              {2, 3, 5, 4}, kF16);
  expect_desc(infer(RMA_OP_MATMUL, {desc(kF32, {8}), desc(kF32, {2, 8, 4})}, nullptr), {2, 4},
              kF32);
  expect_desc(infer(RMA_OP_MATMUL, {desc(kF32, {3, 5, 8}), desc(kF32, {8})}, nullptr), {3, 5},
              kF32);
  expect_desc(infer(RMA_OP_MATMUL, {desc(kF32, {8}), desc(kF32, {8})}, nullptr), {}, kF32);
  EXPECT_TRUE(contains(rejection(RMA_OP_MATMUL, {desc(kF32, {7, 8}), desc(kF32, {9, 5})}, nullptr),
                       {"argument 'b'", "expected K = 8"}));
  EXPECT_TRUE(
      contains(rejection(RMA_OP_MATMUL, {desc(kF32, {2, 7, 8}), desc(kF32, {3, 8, 5})}, nullptr),
               {"argument 'b'", "batch dims [3] do not broadcast with a's batch dims [2]"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_MATMUL, {desc(kI32, {2, 2}), desc(kI32, {2, 2})}, nullptr),
                       {"argument 'a'", "float"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_MATMUL, {desc(kF32, {}), desc(kF32, {2})}, nullptr),
                       {"argument 'a'", "at least 1 dim"}));
}

TEST(Tier2Schema, ReduceAxesKeepdimsAndEmptyAxes) {
  auto sum = reduce_attrs(RMA_REDUCE_SUM, 0b101);
  expect_desc(infer(RMA_OP_REDUCE, {desc(kF32, {2, 3, 4})}, &sum), {3}, kF32);
  auto kept = reduce_attrs(RMA_REDUCE_SUM, 0b101, true);
  expect_desc(infer(RMA_OP_REDUCE, {desc(kI32, {2, 3, 4})}, &kept), {1, 3, 1}, kI32);
  auto argmax = reduce_attrs(RMA_REDUCE_ARGMAX, 0b10);
  expect_desc(infer(RMA_OP_REDUCE, {desc(kBF16, {2, 3, 4})}, &argmax), {2, 4}, kI64);
  // Sums over an empty axis are their identity; extremes have no value.
  auto sum_last = reduce_attrs(RMA_REDUCE_SUM, 0b10);
  expect_desc(infer(RMA_OP_REDUCE, {desc(kF32, {4, 0})}, &sum_last), {4}, kF32);
  auto max = reduce_attrs(RMA_REDUCE_MAX, 0b10);
  EXPECT_TRUE(contains(rejection(RMA_OP_REDUCE, {desc(kF32, {4, 0})}, &max),
                       {"argument 'x'", "max over axis 1 of extent 0"}));
  auto none = reduce_attrs(RMA_REDUCE_SUM, 0);
  EXPECT_TRUE(contains(rejection(RMA_OP_REDUCE, {desc(kF32, {4, 2})}, &none),
                       {"attribute 'axes'", "at least one axis", "got 0x0"}));
  auto beyond = reduce_attrs(RMA_REDUCE_SUM, 0b100);
  EXPECT_TRUE(contains(rejection(RMA_OP_REDUCE, {desc(kF32, {4, 2})}, &beyond),
                       {"attribute 'axes'", "bits 0..1", "got 0x4"}));
  auto two = reduce_attrs(RMA_REDUCE_ARGMIN, 0b11);
  EXPECT_TRUE(contains(rejection(RMA_OP_REDUCE, {desc(kF32, {4, 2})}, &two),
                       {"attribute 'axes'", "argmin reduces exactly one axis"}));
  auto mean = reduce_attrs(RMA_REDUCE_MEAN, 1);
  EXPECT_TRUE(
      contains(rejection(RMA_OP_REDUCE, {desc(kI32, {4})}, &mean), {"argument 'x'", "for mean"}));
  auto keep2 = reduce_attrs(RMA_REDUCE_SUM, 1, false);
  keep2.keepdims = 2;
  EXPECT_TRUE(
      contains(rejection(RMA_OP_REDUCE, {desc(kF32, {4})}, &keep2), {"attribute 'keepdims'"}));
}

TEST(Tier2Schema, CastWhereGather) {
  auto to_i64 = cast_attrs(kI64);
  expect_desc(infer(RMA_OP_CAST, {desc(kBF16, {2, 3})}, &to_i64), {2, 3}, kI64);
  auto to_q = cast_attrs(kQ4_0);
  EXPECT_TRUE(contains(rejection(RMA_OP_CAST, {desc(kF32, {32})}, &to_q),
                       {"attribute 'dtype'", "got q4_0"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_CAST, {desc(DType::kI8, {3})}, &to_i64),
                       {"argument 'x'", "got i8"}));

  expect_desc(
      infer(RMA_OP_WHERE, {desc(kBool, {2, 1, 5}), desc(kI32, {3, 1}), desc(kI32, {})}, nullptr),
      {2, 3, 5}, kI32);
  EXPECT_TRUE(contains(
      rejection(RMA_OP_WHERE, {desc(kI32, {2}), desc(kF32, {2}), desc(kF32, {2})}, nullptr),
      {"argument 'cond'", "expected dtype bool"}));
  EXPECT_TRUE(contains(
      rejection(RMA_OP_WHERE, {desc(kBool, {2, 3}), desc(kF32, {3}), desc(kF32, {4, 1, 2})},
                nullptr),
      {"argument 'b'", "[4, 1, 2] does not broadcast with [2, 3] (the shape of cond, a)"}));

  auto axis1 = axis_attrs(1);
  expect_desc(infer(RMA_OP_GATHER, {desc(kF16, {2, 9, 3}), desc(kI64, {4, 5})}, &axis1),
              {2, 4, 5, 3}, kF16);
  expect_desc(infer(RMA_OP_GATHER, {desc(kBool, {2, 9}), desc(kI32, {})}, &axis1), {2}, kBool);
  auto axis2 = axis_attrs(2);
  EXPECT_TRUE(contains(rejection(RMA_OP_GATHER, {desc(kF32, {2, 9}), desc(kI32, {3})}, &axis2),
                       {"attribute 'axis'", "[0, 2)", "got 2"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_GATHER, {desc(kF32, {2, 9}), desc(kF32, {3})}, &axis1),
                       {"argument 'indices'", "index dtype"}));
  EXPECT_TRUE(contains(
      rejection(RMA_OP_GATHER, {desc(kF32, {2, 2, 2, 2, 2}), desc(kI32, {1, 1, 1, 1, 1})}, &axis1),
      {"argument 'indices'", "9 dims"}));
}

TEST(Tier2Schema, ConcatIsVariadic) {
  auto axis1 = axis_attrs(1);
  expect_desc(
      infer(RMA_OP_CONCAT, {desc(kF32, {2, 3}), desc(kF32, {2, 0}), desc(kF32, {2, 5})}, &axis1),
      {2, 8}, kF32);
  expect_desc(infer(RMA_OP_CONCAT, {desc(kI64, {2, 3})}, &axis1), {2, 3}, kI64);
  EXPECT_TRUE(contains(rejection(RMA_OP_CONCAT, {}, &axis1), {"expected 1 to 64 inputs (x0, x1"}));
  const std::vector<rma_tensor> many(65, desc(kF32, {1, 1}));
  EXPECT_TRUE(contains(rejection(RMA_OP_CONCAT, many, &axis1), {"got 65"}));
  EXPECT_NO_THROW(infer(RMA_OP_CONCAT, std::vector<rma_tensor>(64, desc(kF32, {1, 1})), &axis1));
  EXPECT_TRUE(
      contains(rejection(RMA_OP_CONCAT,
                         {desc(kF32, {2, 3}), desc(kF32, {2, 3}), desc(kF32, {3, 3})}, &axis1),
               {"argument 'x2'", "expected shape [2, *]", "got [3, 3]"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_CONCAT, {desc(kF32, {2, 3}), desc(kF16, {2, 3})}, &axis1),
                       {"argument 'x1'", "expected dtype f32"}));
  auto axis5 = axis_attrs(5);
  EXPECT_TRUE(
      contains(rejection(RMA_OP_CONCAT, {desc(kF32, {2, 3})}, &axis5), {"attribute 'axis'"}));
}

TEST(Tier2Schema, SliceTransposeExpand) {
  auto s = slice_attrs({9, 1}, {-2, 3}, {5, 2});
  expect_desc(infer(RMA_OP_SLICE, {desc(kF32, {10, 7})}, &s), {5, 2}, kF32);
  auto past = slice_attrs({0, 1}, {1, 3}, {10, 3});  // reads column 7 of 7
  EXPECT_TRUE(contains(rejection(RMA_OP_SLICE, {desc(kF32, {10, 7})}, &past),
                       {"attribute 'start[1]'", "outside [0, 7)"}));
  auto below = slice_attrs({3}, {-1}, {5});  // reads index -1
  EXPECT_TRUE(
      contains(rejection(RMA_OP_SLICE, {desc(kF32, {10})}, &below), {"attribute 'start[0]'"}));
  auto zero_step = slice_attrs({0}, {0}, {1});
  EXPECT_TRUE(
      contains(rejection(RMA_OP_SLICE, {desc(kF32, {10})}, &zero_step), {"attribute 'step[0]'"}));
  auto empty = slice_attrs({99}, {1}, {0});  // nothing read: start unchecked
  expect_desc(infer(RMA_OP_SLICE, {desc(kF32, {10})}, &empty), {0}, kF32);
  EXPECT_THROW(slice_attrs(std::vector<int64_t>(9, 0), std::vector<int64_t>(9, 1),
                           std::vector<int64_t>(9, 1)),
               Error);

  auto perm = transpose_attrs({2, 0, 1});
  expect_desc(infer(RMA_OP_TRANSPOSE, {desc(kI32, {2, 3, 4})}, &perm), {4, 2, 3}, kI32);
  auto repeat = transpose_attrs({0, 0, 1});
  EXPECT_TRUE(contains(rejection(RMA_OP_TRANSPOSE, {desc(kI32, {2, 3, 4})}, &repeat),
                       {"attribute 'perm'", "permutation of [0, 3)", "[0, 0, 1]"}));

  auto to = shape_attrs({2, 3, 4});
  expect_desc(infer(RMA_OP_EXPAND, {desc(kBool, {3, 1})}, &to), {2, 3, 4}, kBool);
  EXPECT_TRUE(contains(rejection(RMA_OP_EXPAND, {desc(kF32, {2, 4})}, &to),
                       {"argument 'x'", "does not broadcast to [2, 3, 4]"}));
  auto lower = shape_attrs({4});
  EXPECT_TRUE(
      contains(rejection(RMA_OP_EXPAND, {desc(kF32, {1, 4})}, &lower), {"attribute 'ndim'"}));
}

TEST(Tier2Schema, SoftmaxLogAttribute) {
  auto log = softmax_attrs(true);
  expect_desc(infer(RMA_OP_SOFTMAX, {desc(kF16, {2, 5})}, &log), {2, 5}, kF16);
  log.log = 2;
  EXPECT_TRUE(contains(rejection(RMA_OP_SOFTMAX, {desc(kF32, {5})}, &log), {"attribute 'log'"}));
  // A caller built before `log` was appended passes the shorter struct.
  auto old = softmax_attrs();
  old.struct_size = offsetof(rma_softmax_attrs, log);
  old.log = 7;  // beyond struct_size: never read
  EXPECT_NO_THROW(infer(RMA_OP_SOFTMAX, {desc(kF32, {5})}, &old));
}

// ------------------------------------------------------------ cpu, by hand

Device cpu() { return Runtime::get().device("cpu"); }

template <class T>
Tensor make(const std::vector<T>& v, const Shape& shape, DType dt) {
  return Tensor::from_vector(v, shape, dt, cpu());
}
Tensor f32(const std::vector<float>& v, const Shape& shape) { return make(v, shape, kF32); }
Tensor i32(const std::vector<int32_t>& v, const Shape& shape) { return make(v, shape, kI32); }
Tensor i64(const std::vector<int64_t>& v, const Shape& shape) { return make(v, shape, kI64); }
Tensor boolean(const std::vector<uint8_t>& v, const Shape& shape) { return make(v, shape, kBool); }

std::vector<float> floats(const Tensor& t) {
  if (t.dtype() == kF32) return t.to_vector<float>();
  std::vector<float> out;
  for (uint16_t b : t.to_vector<uint16_t>())
    out.push_back(t.dtype() == kF16 ? f16_to_f32(b) : bf16_to_f32(b));
  return out;
}

// The message of the Error a call on the cpu throws.
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

TEST(Tier2Cpu, BinaryBroadcastsRowsColumnsAndScalars) {
  // [2,1] + [3] -> [2,3]: a column against a row.
  const Tensor y = ops::binary(f32({10, 20}, {2, 1}), f32({1, 2, 3}, {3}), RMA_BINARY_ADD);
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{11, 12, 13, 21, 22, 23}));
  // A 0-D b, and b - a with a broadcast.
  EXPECT_EQ(
      ops::binary(f32({1, 2, 3, 4}, {2, 2}), f32({10}, {}), RMA_BINARY_SUB).to_vector<float>(),
      (std::vector<float>{-9, -8, -7, -6}));
  EXPECT_EQ(ops::binary(f32({6}, {}), f32({1, 2, 3}, {3}), RMA_BINARY_DIV).to_vector<float>(),
            (std::vector<float>{6, 3, 2}));
  EXPECT_EQ(ops::binary(f32({1, 5}, {2}), f32({3, 3}, {2}), RMA_BINARY_MAX).to_vector<float>(),
            (std::vector<float>{3, 5}));
  EXPECT_EQ(ops::binary(f32({2, 9}, {2}), f32({3, 0.5f}, {2}), RMA_BINARY_POW).to_vector<float>(),
            (std::vector<float>{8, 3}));
  // Float mod is C's fmod: the dividend's sign.
  EXPECT_EQ(ops::binary(f32({-7, 7}, {2}), f32({2, -2}, {2}), RMA_BINARY_MOD).to_vector<float>(),
            (std::vector<float>{-1, 1}));
  // f16 runs through f32 and rounds once.
  const Tensor h =
      ops::binary(make(std::vector<uint16_t>{f32_to_f16(1.5f), f32_to_f16(-2.f)}, {2}, kF16),
                  make(std::vector<uint16_t>{f32_to_f16(0.25f)}, {1}, kF16), RMA_BINARY_MUL);
  EXPECT_EQ(floats(h), (std::vector<float>{0.375f, -0.5f}));
  // A long row split across threads against a broadcast row.
  std::vector<float> big(3 * 40000), row(40000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = float(i % 7);
  for (size_t i = 0; i < row.size(); ++i) row[i] = float(i % 5);
  const std::vector<float> sum =
      ops::binary(f32(big, {3, 40000}), f32(row, {40000}), RMA_BINARY_ADD).to_vector<float>();
  for (size_t i = 0; i < sum.size(); i += 997) ASSERT_EQ(sum[i], float(i % 7 + (i % 40000) % 5));
}

TEST(Tier2Cpu, IntegerDivisionTruncatesAndModTakesTheDivisorsSign) {
  const Tensor a = i32({7, -7, 7, -7}, {4}), b = i32({2, 2, -2, -2}, {4});
  EXPECT_EQ(ops::binary(a, b, RMA_BINARY_DIV).to_vector<int32_t>(),
            (std::vector<int32_t>{3, -3, -3, 3}));
  EXPECT_EQ(ops::binary(a, b, RMA_BINARY_MOD).to_vector<int32_t>(),
            (std::vector<int32_t>{1, 1, -1, -1}));
  // The one overflowing quotient wraps; its remainder is 0.
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(ops::binary(i32({kMin}, {1}), i32({-1}, {1}), RMA_BINARY_DIV).to_vector<int32_t>(),
            (std::vector<int32_t>{kMin}));
  EXPECT_EQ(ops::binary(i32({kMin}, {1}), i32({-1}, {1}), RMA_BINARY_MOD).to_vector<int32_t>(),
            (std::vector<int32_t>{0}));
  // + and * wrap in two's complement.
  EXPECT_EQ(
      ops::binary(i64({std::numeric_limits<int64_t>::max()}, {1}), i64({1}, {1}), RMA_BINARY_ADD)
          .to_vector<int64_t>(),
      (std::vector<int64_t>{std::numeric_limits<int64_t>::min()}));
  EXPECT_TRUE(contains(error_of([] {
                         ops::binary(i64({1, 2, 3}, {3}), i64({4, 0, 1}, {3}), RMA_BINARY_DIV);
                       }),
                       {"binary", "integer division by zero", "element 1 of b"}));
  EXPECT_TRUE(contains(error_of([] { ops::binary(i32({1}, {1}), i32({0}, {1}), RMA_BINARY_MOD); }),
                       {"integer modulo by zero"}));
}

TEST(Tier2Cpu, ComparisonsAndLogicGiveBool) {
  const Tensor a = f32({1, 2, 3}, {3}), b = f32({2}, {1});
  const Tensor lt = ops::binary(a, b, RMA_BINARY_LESS);
  EXPECT_EQ(lt.dtype(), kBool);
  EXPECT_EQ(lt.to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 0}));
  EXPECT_EQ(ops::binary(a, b, RMA_BINARY_EQUAL).to_vector<uint8_t>(),
            (std::vector<uint8_t>{0, 1, 0}));
  EXPECT_EQ(ops::binary(i64({5, -5}, {2}), i64({-5, -5}, {2}), RMA_BINARY_GREATER_EQUAL)
                .to_vector<uint8_t>(),
            (std::vector<uint8_t>{1, 1}));
  const Tensor p = boolean({0, 0, 1, 1}, {4}), q = boolean({0, 1, 0, 1}, {4});
  EXPECT_EQ(ops::binary(p, q, RMA_BINARY_AND).to_vector<uint8_t>(),
            (std::vector<uint8_t>{0, 0, 0, 1}));
  EXPECT_EQ(ops::binary(p, q, RMA_BINARY_OR).to_vector<uint8_t>(),
            (std::vector<uint8_t>{0, 1, 1, 1}));
  EXPECT_EQ(ops::binary(p, q, RMA_BINARY_XOR).to_vector<uint8_t>(),
            (std::vector<uint8_t>{0, 1, 1, 0}));
  EXPECT_EQ(ops::unary(p, RMA_UNARY_NOT).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 0, 0}));
}

TEST(Tier2Cpu, UnaryRoundingSignClipAndEdges) {
  // Round: halves to even.
  EXPECT_EQ(ops::unary(f32({0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 2.6f}, {6}), RMA_UNARY_ROUND)
                .to_vector<float>(),
            (std::vector<float>{0, 2, 2, -0.f, -2, 3}));
  EXPECT_EQ(ops::unary(f32({-1.5f, 1.5f}, {2}), RMA_UNARY_FLOOR).to_vector<float>(),
            (std::vector<float>{-2, 1}));
  EXPECT_EQ(ops::unary(f32({-1.5f, 1.5f}, {2}), RMA_UNARY_CEIL).to_vector<float>(),
            (std::vector<float>{-1, 2}));
  EXPECT_EQ(ops::unary(f32({-2, 0, 3}, {3}), RMA_UNARY_SIGN).to_vector<float>(),
            (std::vector<float>{-1, 0, 1}));
  EXPECT_EQ(ops::unary(i64({-9, 0, 4}, {3}), RMA_UNARY_SIGN).to_vector<int64_t>(),
            (std::vector<int64_t>{-1, 0, 1}));
  EXPECT_EQ(ops::unary(f32({-3, 0.25f, 3}, {3}), RMA_UNARY_CLIP, -1.f, 2.f).to_vector<float>(),
            (std::vector<float>{-1, 0.25f, 2}));
  // Integer clip: bounds rounded inward (ceil of the min, floor of the max).
  EXPECT_EQ(ops::unary(i32({-5, 0, 5}, {3}), RMA_UNARY_CLIP, -2.5f, 3.7f).to_vector<int32_t>(),
            (std::vector<int32_t>{-2, 0, 3}));
  EXPECT_EQ(ops::unary(i32({-5, 5}, {2}), RMA_UNARY_CLIP, -INFINITY, 1.f).to_vector<int32_t>(),
            (std::vector<int32_t>{-5, 1}));
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(ops::unary(i32({kMin, -3}, {2}), RMA_UNARY_NEG).to_vector<int32_t>(),
            (std::vector<int32_t>{kMin, 3}));
  EXPECT_EQ(ops::unary(i32({-3, 4}, {2}), RMA_UNARY_RELU).to_vector<int32_t>(),
            (std::vector<int32_t>{0, 4}));
  EXPECT_EQ(ops::unary(f32({-2, 3}, {2}), RMA_UNARY_LEAKY_RELU, 0.5f).to_vector<float>(),
            (std::vector<float>{-1, 3}));
  // std::'s edges: log 0, log of a negative, exp overflow, sin far out.
  const std::vector<float> log = ops::unary(f32({0, -1, 1}, {3}), RMA_UNARY_LOG).to_vector<float>();
  EXPECT_EQ(log[0], -INFINITY);
  EXPECT_TRUE(std::isnan(log[1]));
  EXPECT_EQ(log[2], 0.f);
  const std::vector<float> exp =
      ops::unary(f32({100, -200, 0}, {3}), RMA_UNARY_EXP).to_vector<float>();
  EXPECT_EQ(exp, (std::vector<float>{INFINITY, 0, 1}));
  const float far = 1e6f;
  EXPECT_NEAR(ops::unary(f32({far}, {1}), RMA_UNARY_SIN).to_vector<float>()[0], std::sin(far),
              1e-5);
  // erf and gelu against the C library, small and large arguments.
  const std::vector<float> xs = {-4, -1, -1e-3f, 0, 1e-4f, 0.3f, 0.5f, 2, 6};
  const std::vector<float> erf = ops::unary(f32(xs, {9}), RMA_UNARY_ERF).to_vector<float>();
  const std::vector<float> gelu = ops::unary(f32(xs, {9}), RMA_UNARY_GELU).to_vector<float>();
  for (size_t i = 0; i < xs.size(); ++i) {
    EXPECT_NEAR(erf[i], std::erf(xs[i]), 1e-7 + 1e-6 * std::fabs(std::erf(xs[i]))) << xs[i];
    const double g = 0.5 * xs[i] * (1 + std::erf(xs[i] / std::sqrt(2.0)));
    EXPECT_NEAR(gelu[i], g, 1e-7 + 1e-6 * std::fabs(g)) << xs[i];
  }
  // bf16: computed in f32, rounded once.
  const Tensor x16 = make(std::vector<uint16_t>{f32_to_bf16(2.f)}, {1}, kBF16);
  EXPECT_EQ(floats(ops::unary(x16, RMA_UNARY_SQRT)),
            std::vector<float>{bf16_to_f32(f32_to_bf16(std::sqrt(2.f)))});
}

TEST(Tier2Cpu, CastTruncatesRoundsToEvenAndWraps) {
  EXPECT_EQ(ops::cast(f32({2.7f, -2.7f, 0.5f, -0.f}, {4}), kI32).to_vector<int32_t>(),
            (std::vector<int32_t>{2, -2, 0, 0}));
  EXPECT_EQ(ops::cast(f32({0, 0.1f, -0.f, NAN}, {4}), kBool).to_vector<uint8_t>(),
            (std::vector<uint8_t>{0, 1, 0, 1}));
  // f32 -> bf16 rounds to nearest, ties to even: 1 + 2^-8 is halfway
  // between 1 and 1 + 2^-7 (odd) and goes to 1; 1 + 3 * 2^-8 goes up.
  EXPECT_EQ(floats(ops::cast(f32({1.00390625f, 1.01171875f}, {2}), kBF16)),
            (std::vector<float>{1.f, 1.015625f}));
  EXPECT_EQ(floats(ops::cast(i32({3, -2049}, {2}), kF16)), (std::vector<float>{3, -2048}));
  EXPECT_EQ(ops::cast(i64({(int64_t{1} << 32) + 5, -1}, {2}), kI32).to_vector<int32_t>(),
            (std::vector<int32_t>{5, -1}));
  EXPECT_EQ(ops::cast(boolean({1, 0}, {2}), kF32).to_vector<float>(), (std::vector<float>{1, 0}));
  EXPECT_EQ(ops::cast(i32({7, 0}, {2}), kBool).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0}));
  const Tensor same = ops::cast(f32({1.25f}, {1}), kF32);
  EXPECT_EQ(same.to_vector<float>(), std::vector<float>{1.25f});
}

TEST(Tier2Cpu, ReduceAxesTiesAndEmptyExtents) {
  // x[2,3,2] = 0..11.
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = float(i);
  const Tensor x = f32(v, {2, 3, 2});
  // The middle axis: y[o, i] = sum_j x[o, j, i].
  EXPECT_EQ(ops::reduce(x, RMA_REDUCE_SUM, 0b010).to_vector<float>(),
            (std::vector<float>{6, 9, 24, 27}));
  // The last axis, kept as 1.
  const Tensor last = ops::reduce(x, RMA_REDUCE_MAX, 0b100, true);
  EXPECT_EQ(last.shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(last.to_vector<float>(), (std::vector<float>{1, 3, 5, 7, 9, 11}));
  // Non-adjacent axes 0 and 2: y[j] = sum over o, i of x[o, j, i].
  EXPECT_EQ(ops::reduce(x, RMA_REDUCE_SUM, 0b101).to_vector<float>(),
            (std::vector<float>{0 + 1 + 6 + 7, 2 + 3 + 8 + 9, 4 + 5 + 10 + 11}));
  EXPECT_EQ(ops::reduce(x, RMA_REDUCE_MEAN, 0b111).to_vector<float>(), std::vector<float>{5.5f});
  EXPECT_EQ(ops::reduce(f32({1, -2, 3}, {3}), RMA_REDUCE_SUM_SQUARE, 1).to_vector<float>(),
            std::vector<float>{14});
  EXPECT_EQ(ops::reduce(f32({1, -2, 3}, {3}), RMA_REDUCE_PROD, 1).to_vector<float>(),
            std::vector<float>{-6});
  // Ties go to the first index; i64 output.
  const Tensor am = ops::reduce(f32({1, 3, 3, 2, 0, 0, -1, -1}, {2, 4}), RMA_REDUCE_ARGMAX, 0b10);
  EXPECT_EQ(am.dtype(), kI64);
  EXPECT_EQ(am.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(ops::reduce(f32({1, 3, 3, 2, 0, 0, -1, -1}, {2, 4}), RMA_REDUCE_ARGMIN, 0b10)
                .to_vector<int64_t>(),
            (std::vector<int64_t>{0, 2}));
  // Along axis 0 (a column per output), ties again to the first:
  // columns (5, 5, 2) and (1, 7, 7).
  EXPECT_EQ(
      ops::reduce(i32({5, 1, 5, 7, 2, 7}, {3, 2}), RMA_REDUCE_ARGMAX, 0b01).to_vector<int64_t>(),
      (std::vector<int64_t>{0, 1}));
  // Integer sums wrap; empty extents give the identity.
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  EXPECT_EQ(ops::reduce(i32({kMax, 1}, {2}), RMA_REDUCE_SUM, 1).to_vector<int32_t>(),
            std::vector<int32_t>{std::numeric_limits<int32_t>::min()});
  EXPECT_EQ(ops::reduce(f32({}, {3, 0}), RMA_REDUCE_SUM, 0b10).to_vector<float>(),
            (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(ops::reduce(i64({}, {2, 0}), RMA_REDUCE_PROD, 0b10).to_vector<int64_t>(),
            (std::vector<int64_t>{1, 1}));
  EXPECT_TRUE(contains(error_of([] {
                         ops::reduce(f32({}, {2, 0}), RMA_REDUCE_MIN, 0b10);
                       }),
                       {"reduce", "argument 'x'", "min over axis 1 of extent 0"}));
}

TEST(Tier2Cpu, GatherCountsNegativeIndicesFromTheEnd) {
  const Tensor data = f32({1, 2, 3, 4, 5, 6}, {3, 2});
  const Tensor rows = ops::gather(data, i64({-1, 0, 1}, {3}), 0);
  EXPECT_EQ(rows.shape(), (Shape{3, 2}));
  EXPECT_EQ(rows.to_vector<float>(), (std::vector<float>{5, 6, 1, 2, 3, 4}));
  // Along the last axis with 2-D indices: y[r, i, j] = data[r, idx[i, j]].
  const Tensor cols = ops::gather(data, i32({1, -2, 1, 1}, {2, 2}), 1);
  EXPECT_EQ(cols.shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(cols.to_vector<float>(), (std::vector<float>{2, 1, 2, 2, 4, 3, 4, 4, 6, 5, 6, 6}));
  // A 0-D index drops the axis.
  EXPECT_EQ(ops::gather(data, i32({2}, {}), 0).to_vector<float>(), (std::vector<float>{5, 6}));
  EXPECT_TRUE(contains(error_of([&] {
                         ops::gather(data, i32({0, 3}, {2}), 0);
                       }),
                       {"gather", "index 3 at position 1", "outside [-3, 3)"}));
  EXPECT_TRUE(contains(error_of([&] { ops::gather(data, i32({-4}, {1}), 0); }), {"index -4"}));
}

TEST(Tier2Cpu, SliceWithNegativeSteps) {
  std::vector<int32_t> v(10);
  for (int i = 0; i < 10; ++i) v[i] = i;
  EXPECT_EQ(ops::slice(i32(v, {10}), slice_attrs({9}, {-3}, {4})).to_vector<int32_t>(),
            (std::vector<int32_t>{9, 6, 3, 0}));
  // x[2,5] = 0..9: rows reversed, every other column from 1.
  const Tensor y = ops::slice(i32(v, {2, 5}), slice_attrs({1, 1}, {-1, 2}, {2, 2}));
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(y.to_vector<int32_t>(), (std::vector<int32_t>{6, 8, 1, 3}));
  EXPECT_EQ(ops::slice(i32(v, {10}), slice_attrs({4}, {1}, {0})).numel(), 0);
}

TEST(Tier2Cpu, TransposeConcatExpandWhere) {
  const Tensor x = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor t = ops::transpose(x, {1, 0});
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  // [2,3,2] -> perm (2,0,1) -> [2,2,3]: y[a,b,c] = x[b,c,a].
  std::vector<int64_t> v(12);
  for (int i = 0; i < 12; ++i) v[i] = i;
  EXPECT_EQ(ops::transpose(i64(v, {2, 3, 2}), {2, 0, 1}).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11}));
  // A large 2-D transpose goes tile by tile.
  std::vector<float> big(300 * 517);
  for (size_t i = 0; i < big.size(); ++i) big[i] = float(i);
  const std::vector<float> bt = ops::transpose(f32(big, {300, 517}), {1, 0}).to_vector<float>();
  for (int64_t r = 0; r < 517; r += 13)
    for (int64_t c = 0; c < 300; c += 7) ASSERT_EQ(bt[r * 300 + c], float(c * 517 + r));

  const Tensor c =
      ops::concat({f32({1, 2}, {2, 1}), f32({}, {2, 0}), f32({3, 4, 5, 6}, {2, 2})}, 1);
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{1, 3, 4, 2, 5, 6}));
  EXPECT_TRUE(contains(error_of([] { ops::concat({}, 0); }), {"concat"}));

  const Tensor e = ops::expand(i32({1, 2, 3}, {3, 1}), {2, 3, 2});
  EXPECT_EQ(e.to_vector<int32_t>(), (std::vector<int32_t>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));

  const Tensor w = ops::where(boolean({1, 0}, {2, 1}), f32({1, 2, 3}, {3}), f32({-1}, {}));
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{1, 2, 3, -1, -1, -1}));
  EXPECT_TRUE(contains(error_of([] { ops::where(f32({1}, {1}), f32({1}, {1}), f32({1}, {1})); }),
                       {"where", "argument 'cond'"}));
}

TEST(Tier2Cpu, MatmulBatchesAndOneDimensionalOperands) {
  const Tensor a = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = f32({1, 0, 0, 1, 1, 1}, {3, 2});
  EXPECT_EQ(ops::matmul(a, b).to_vector<float>(), (std::vector<float>{4, 5, 10, 11}));
  // 1-D a: a row; 1-D b: a column; both: a dot product (0-D).
  EXPECT_EQ(ops::matmul(f32({1, 1, 1}, {3}), b).to_vector<float>(), (std::vector<float>{2, 2}));
  const Tensor col = ops::matmul(a, f32({1, 0, -1}, {3}));
  EXPECT_EQ(col.shape(), (Shape{2}));
  EXPECT_EQ(col.to_vector<float>(), (std::vector<float>{-2, -2}));
  const Tensor dot = ops::matmul(f32({1, 2, 3}, {3}), f32({4, 5, 6}, {3}));
  EXPECT_EQ(dot.shape(), Shape{});
  EXPECT_EQ(dot.to_vector<float>(), std::vector<float>{32});
  // Batch broadcasting: a[2,1,1,2] . b[3,2,1] -> y[2,3,1,1].
  const Tensor y =
      ops::matmul(f32({1, 2, 10, 20}, {2, 1, 1, 2}), f32({1, 0, 0, 1, 1, 1}, {3, 2, 1}));
  EXPECT_EQ(y.shape(), (Shape{2, 3, 1, 1}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 2, 3, 10, 20, 30}));
  // K = 0: empty sums are 0.
  EXPECT_EQ(ops::matmul(f32({}, {2, 0}), f32({}, {0, 2})).to_vector<float>(),
            (std::vector<float>{0, 0, 0, 0}));
  EXPECT_TRUE(
      contains(error_of([&] { ops::matmul(a, a); }), {"matmul", "argument 'b'", "expected K = 3"}));
}

TEST(Tier2Cpu, LogSoftmax) {
  const float ln3 = std::log(3.f);
  const std::vector<float> y = ops::log_softmax(f32({0, ln3, 5, 5}, {2, 2})).to_vector<float>();
  const std::vector<float> want = {std::log(0.25f), std::log(0.75f), std::log(0.5f),
                                   std::log(0.5f)};
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], want[i], 1e-6) << i;
  // Far from the max, log_softmax stays finite where softmax underflows.
  const std::vector<float> far = ops::log_softmax(f32({0, -200}, {2})).to_vector<float>();
  EXPECT_NEAR(far[1], -200.f, 1e-4);
}

}  // namespace
}  // namespace rma
