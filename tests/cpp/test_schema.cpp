// Op schemas (rma::infer_outputs): each op accepts a valid call with the
// output shapes and dtypes of docs/ops.md, and rejects typical mistakes with
// an Error that names the op and the argument. Descriptors are built by hand
// (data NULL), as in a capability query; no device is involved.
#include <gtest/gtest.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rma/error.h"
#include "rma/ops.h"

namespace rma {
namespace {

constexpr DType kF32 = DType::kF32, kF16 = DType::kF16, kBF16 = DType::kBF16, kI8 = DType::kI8,
                kI32 = DType::kI32, kI64 = DType::kI64, kQ8_0 = DType::kQ8_0, kQ4_0 = DType::kQ4_0,
                kQ4_K = DType::kQ4_K;

rma_tensor t(DType dtype, const Shape& shape) {
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

rma_tensor absent() {
  rma_tensor d{};
  d.struct_size = sizeof(d);
  d.abi_version = RMA_ABI_VERSION;
  d.ndim = -1;
  return d;
}

using Tensors = std::vector<rma_tensor>;

// The message of the Error infer_outputs throws, after checking its code and
// op; a failure (and "") if the call is accepted.
std::string rejection(rma_op op, const Tensors& in, const void* attrs, const Tensors& out = {},
                      std::optional<DType> out_dtype = std::nullopt) {
  try {
    infer_outputs(op, in, attrs, out, out_dtype);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(e.op(), std::string(op_name(op)));
    return e.message();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an rma::Error: " << e.what();
    return {};
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

void expect_descs(const std::vector<TensorDesc>& got, const std::vector<TensorDesc>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].shape, want[i].shape) << "output " << i;
    EXPECT_EQ(got[i].dtype, want[i].dtype) << "output " << i;
  }
}

// ------------------------------------------------------------------ general

TEST(Schema, UnknownOp) {
  try {
    infer_outputs(static_cast<rma_op>(99), {}, nullptr);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_TRUE(contains(e.message(), {"99"}));
  }
}

TEST(Schema, InputCount) {
  const auto a = norm_attrs(1e-6f);
  EXPECT_TRUE(contains(rejection(RMA_OP_RMS_NORM, {t(kF32, {2, 8})}, &a),
                       {"expected 2 inputs", "x, w", "got 1"}));
  EXPECT_TRUE(contains(
      rejection(RMA_OP_RMS_NORM, {t(kF32, {2, 8}), t(kF32, {8}), t(kF32, {8})}, &a), {"got 3"}));
  // Trailing optional inputs may be left out.
  const auto la = linear_attrs();
  expect_descs(infer_outputs(RMA_OP_LINEAR, {t(kF32, {2, 4}), t(kF32, {3, 4})}, &la),
               {{{2, 3}, kF32}});
}

TEST(Schema, RequiredInputAbsent) {
  const auto a = norm_attrs(1e-6f);
  EXPECT_TRUE(contains(rejection(RMA_OP_RMS_NORM, {t(kF32, {2, 8}), absent()}, &a),
                       {"argument 'w'", "absent"}));
}

TEST(Schema, BadDescriptors) {
  const auto a = norm_attrs(1e-6f);
  rma_tensor bad_dtype = t(kF32, {8});
  bad_dtype.dtype = 42;
  EXPECT_TRUE(contains(rejection(RMA_OP_RMS_NORM, {t(kF32, {2, 8}), bad_dtype}, &a),
                       {"argument 'w'", "dtype", "42"}));
  bad_dtype.dtype = -1;
  EXPECT_TRUE(contains(rejection(RMA_OP_RMS_NORM, {t(kF32, {2, 8}), bad_dtype}, &a),
                       {"argument 'w'", "-1"}));

  rma_tensor bad_ndim = t(kF32, {2, 8});
  bad_ndim.ndim = RMA_MAX_DIMS + 1;
  EXPECT_TRUE(contains(rejection(RMA_OP_RMS_NORM, {bad_ndim, t(kF32, {8})}, &a),
                       {"argument 'x'", "ndim", "9"}));
  bad_ndim.ndim = -2;
  EXPECT_TRUE(contains(rejection(RMA_OP_RMS_NORM, {bad_ndim, t(kF32, {8})}, &a),
                       {"argument 'x'", "ndim", "-2"}));

  EXPECT_TRUE(contains(rejection(RMA_OP_RMS_NORM, {t(kF32, {2, -8}), t(kF32, {8})}, &a),
                       {"argument 'x'", "negative", "[2, -8]"}));
}

TEST(Schema, AttrsRequired) {
  EXPECT_TRUE(contains(rejection(RMA_OP_RMS_NORM, {t(kF32, {2, 8}), t(kF32, {8})}, nullptr),
                       {"attributes", "rma_norm_attrs", "NULL"}));
  auto a = norm_attrs(1e-6f);
  a.struct_size = 4;
  EXPECT_TRUE(contains(rejection(RMA_OP_RMS_NORM, {t(kF32, {2, 8}), t(kF32, {8})}, &a),
                       {"struct_size", "rma_norm_attrs"}));
  // A newer, longer struct is fine.
  a.struct_size = sizeof(a) + 16;
  EXPECT_NO_THROW(infer_outputs(RMA_OP_RMS_NORM, {t(kF32, {2, 8}), t(kF32, {8})}, &a));
}

TEST(Schema, GivenOutputs) {
  const Tensors in = {t(kF32, {2, 3}), t(kF32, {2, 3})};
  expect_descs(infer_outputs(RMA_OP_ADD, in, nullptr, {t(kF32, {2, 3})}), {{{2, 3}, kF32}});
  EXPECT_TRUE(contains(rejection(RMA_OP_ADD, in, nullptr, {t(kF32, {2, 4})}),
                       {"output 'y'", "f32[2, 3]", "f32[2, 4]"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_ADD, in, nullptr, {t(kF16, {2, 3})}),
                       {"output 'y'", "f32[2, 3]", "f16[2, 3]"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_ADD, in, nullptr, {t(kF32, {2, 3}), t(kF32, {2, 3})}),
                       {"outputs", "got 2"}));
  // An absent given output is left for the caller to allocate.
  const auto na = norm_attrs(1e-6f);
  expect_descs(infer_outputs(RMA_OP_ADD_RMS_NORM, {t(kF16, {2, 8}), t(kF16, {2, 8}), t(kF16, {8})},
                             &na, {absent(), t(kF16, {2, 8})}),
               {{{2, 8}, kF16}, {{2, 8}, kF16}});
}

// ------------------------------------------------------------------- linear

TEST(Linear, Valid) {
  const auto a = linear_attrs(Activation::kSilu);
  expect_descs(infer_outputs(RMA_OP_LINEAR,
                             {t(kBF16, {2, 3, 576}), t(kBF16, {1536, 576}), t(kBF16, {1536})}, &a),
               {{{2, 3, 1536}, kBF16}});
  // Absent bias.
  expect_descs(
      infer_outputs(RMA_OP_LINEAR, {t(kF32, {4, 576}), t(kF32, {1536, 576}), absent()}, &a),
      {{{4, 1536}, kF32}});
  // w stored [K, N] without trans_b.
  const auto nt = linear_attrs(Activation::kNone, false, false);
  expect_descs(infer_outputs(RMA_OP_LINEAR, {t(kF32, {4, 576}), t(kF32, {576, 100})}, &nt),
               {{{4, 100}, kF32}});
  // x stored [K, T] with trans_a.
  const auto ta = linear_attrs(Activation::kNone, true, true);
  expect_descs(infer_outputs(RMA_OP_LINEAR, {t(kF32, {576, 7}), t(kF32, {100, 576})}, &ta),
               {{{7, 100}, kF32}});
}

TEST(Linear, Rejects) {
  const auto a = linear_attrs();
  EXPECT_EQ(rejection(RMA_OP_LINEAR, {t(kF32, {4, 576}), t(kF32, {1536, 512})}, &a),
            "argument 'w': expected shape [N, 576] (K of x), got [1536, 512]");
  EXPECT_TRUE(contains(rejection(RMA_OP_LINEAR, {t(kF32, {4, 576}), t(kF16, {1536, 576})}, &a),
                       {"argument 'w'", "f32", "f16"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_LINEAR, {t(kF32, {4, 64}), t(kQ4_0, {32, 64})}, &a),
                       {"argument 'w'", "q4_0", "quant_linear"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_LINEAR, {t(kI32, {4, 64}), t(kF32, {32, 64})}, &a),
                       {"argument 'x'", "float", "i32"}));
  EXPECT_TRUE(
      contains(rejection(RMA_OP_LINEAR, {t(kF32, {4, 64}), t(kF32, {32, 64}), t(kF32, {64})}, &a),
               {"argument 'bias'", "[32]", "[64]"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_LINEAR, {t(kF32, {}), t(kF32, {32, 64})}, &a),
                       {"argument 'x'", "[..., K]"}));
  // trans_a needs a 2-D x.
  const auto ta = linear_attrs(Activation::kNone, true);
  EXPECT_TRUE(contains(rejection(RMA_OP_LINEAR, {t(kF32, {2, 64, 4}), t(kF32, {32, 64})}, &ta),
                       {"argument 'x'", "[K, T]"}));
  auto bad = linear_attrs();
  bad.activation = 42;
  EXPECT_TRUE(contains(rejection(RMA_OP_LINEAR, {t(kF32, {4, 64}), t(kF32, {32, 64})}, &bad),
                       {"'activation'", "42"}));
  bad = linear_attrs();
  bad.trans_b = 2;
  EXPECT_TRUE(contains(rejection(RMA_OP_LINEAR, {t(kF32, {4, 64}), t(kF32, {32, 64})}, &bad),
                       {"'trans_b'", "2"}));
}

TEST(QuantLinear, Valid) {
  const auto a = linear_attrs();
  expect_descs(infer_outputs(RMA_OP_QUANT_LINEAR,
                             {t(kF16, {5, 512}), t(kQ4_K, {1000, 512}), t(kF16, {1000})}, &a),
               {{{5, 1000}, kF16}});
  expect_descs(infer_outputs(RMA_OP_QUANT_LINEAR, {t(kF32, {2, 3, 64}), t(kQ8_0, {16, 64})}, &a),
               {{{2, 3, 16}, kF32}});
}

TEST(QuantLinear, Rejects) {
  const auto a = linear_attrs();
  EXPECT_TRUE(contains(rejection(RMA_OP_QUANT_LINEAR, {t(kF32, {4, 64}), t(kF32, {16, 64})}, &a),
                       {"argument 'w'", "quantized", "f32"}));
  // K not a multiple of the block size.
  EXPECT_TRUE(contains(rejection(RMA_OP_QUANT_LINEAR, {t(kF32, {4, 48}), t(kQ4_0, {16, 48})}, &a),
                       {"argument 'w'", "32", "[16, 48]"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_QUANT_LINEAR, {t(kF32, {4, 64}), t(kQ4_0, {16, 96})}, &a),
                       {"argument 'w'", "[N, 64]", "[16, 96]"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_QUANT_LINEAR, {t(kQ4_0, {4, 64}), t(kQ4_0, {16, 64})}, &a),
                       {"argument 'x'", "float"}));
  EXPECT_TRUE(contains(
      rejection(RMA_OP_QUANT_LINEAR, {t(kF32, {4, 64}), t(kQ4_0, {16, 64}), t(kF16, {16})}, &a),
      {"argument 'bias'", "f16"}));
  const auto nt = linear_attrs(Activation::kNone, false, false);
  EXPECT_TRUE(contains(rejection(RMA_OP_QUANT_LINEAR, {t(kF32, {4, 64}), t(kQ4_0, {16, 64})}, &nt),
                       {"'trans_b'"}));
  const auto ta = linear_attrs(Activation::kNone, true, true);
  EXPECT_TRUE(contains(rejection(RMA_OP_QUANT_LINEAR, {t(kF32, {64, 4}), t(kQ4_0, {16, 64})}, &ta),
                       {"'trans_a'"}));
}

// -------------------------------------------------------------------- norms

TEST(RmsNorm, ValidAndRejects) {
  const auto a = norm_attrs(1e-5f);
  expect_descs(infer_outputs(RMA_OP_RMS_NORM, {t(kF16, {2, 3, 8}), t(kF16, {8})}, &a),
               {{{2, 3, 8}, kF16}});
  expect_descs(infer_outputs(RMA_OP_RMS_NORM, {t(kF32, {8}), t(kF32, {8})}, &a), {{{8}, kF32}});
  EXPECT_TRUE(contains(rejection(RMA_OP_RMS_NORM, {t(kF32, {2, 8}), t(kF32, {9})}, &a),
                       {"argument 'w'", "[8]", "H of x", "[9]"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_RMS_NORM, {t(kF32, {2, 8}), t(kBF16, {8})}, &a),
                       {"argument 'w'", "f32", "bf16"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_RMS_NORM, {t(kI64, {2, 8}), t(kF32, {8})}, &a),
                       {"argument 'x'", "float", "i64"}));
  const auto neg = norm_attrs(-1.f);
  EXPECT_TRUE(
      contains(rejection(RMA_OP_RMS_NORM, {t(kF32, {2, 8}), t(kF32, {8})}, &neg), {"'eps'", "-1"}));
}

TEST(AddRmsNorm, ValidAndRejects) {
  const auto a = norm_attrs(1e-5f);
  expect_descs(infer_outputs(RMA_OP_ADD_RMS_NORM,
                             {t(kBF16, {4, 16}), t(kBF16, {4, 16}), t(kBF16, {16})}, &a),
               {{{4, 16}, kBF16}, {{4, 16}, kBF16}});
  EXPECT_TRUE(contains(
      rejection(RMA_OP_ADD_RMS_NORM, {t(kF32, {4, 16}), t(kF32, {3, 16}), t(kF32, {16})}, &a),
      {"argument 'residual'", "[4, 16]", "[3, 16]"}));
  EXPECT_TRUE(contains(
      rejection(RMA_OP_ADD_RMS_NORM, {t(kF32, {4, 16}), t(kF16, {4, 16}), t(kF32, {16})}, &a),
      {"argument 'residual'", "f16"}));
}

TEST(LayerNorm, ValidAndRejects) {
  const auto a = norm_attrs(1e-5f);
  expect_descs(
      infer_outputs(RMA_OP_LAYER_NORM, {t(kF32, {4, 16}), t(kF32, {16}), t(kF32, {16})}, &a),
      {{{4, 16}, kF32}});
  expect_descs(infer_outputs(RMA_OP_LAYER_NORM, {t(kF32, {4, 16}), t(kF32, {16}), absent()}, &a),
               {{{4, 16}, kF32}});
  EXPECT_TRUE(
      contains(rejection(RMA_OP_LAYER_NORM, {t(kF32, {4, 16}), t(kF32, {16}), t(kF32, {15})}, &a),
               {"argument 'b'", "[16]", "[15]"}));
}

// --------------------------------------------------------------------- rope

TEST(Rope, ValidAndRejects) {
  const auto a = rope_attrs(10000.f, RMA_ROPE_NEOX, 32);
  const Tensors in = {t(kF16, {5, 8, 64}), t(kF16, {5, 2, 64}), t(kI64, {5})};
  expect_descs(infer_outputs(RMA_OP_ROPE, in, &a), {{{5, 8, 64}, kF16}, {{5, 2, 64}, kF16}});

  EXPECT_TRUE(
      contains(rejection(RMA_OP_ROPE, {t(kF16, {5, 8, 64}), t(kF16, {5, 2, 32}), t(kI32, {5})}, &a),
               {"argument 'k'", "[5, Hkv, 64]", "[5, 2, 32]"}));
  EXPECT_TRUE(
      contains(rejection(RMA_OP_ROPE, {t(kF16, {5, 8, 64}), t(kF16, {5, 2, 64}), t(kF32, {5})}, &a),
               {"argument 'positions'", "i32, i64", "f32"}));
  EXPECT_TRUE(
      contains(rejection(RMA_OP_ROPE, {t(kF16, {5, 8, 64}), t(kF16, {5, 2, 64}), t(kI32, {4})}, &a),
               {"argument 'positions'", "[5]", "[4]"}));
  EXPECT_TRUE(
      contains(rejection(RMA_OP_ROPE, {t(kF16, {5, 64}), t(kF16, {5, 64}), t(kI32, {5})}, &a),
               {"argument 'q'", "[T, Hq, D]"}));

  auto odd = rope_attrs(10000.f, RMA_ROPE_GPTJ, 31);
  EXPECT_TRUE(contains(rejection(RMA_OP_ROPE, in, &odd), {"'rotary_dim'", "even", "31"}));
  auto big = rope_attrs(10000.f, RMA_ROPE_NEOX, 128);
  EXPECT_TRUE(contains(rejection(RMA_OP_ROPE, in, &big), {"'rotary_dim'", "64", "128"}));
  auto yarn = rope_attrs();
  yarn.scaling = RMA_ROPE_SCALING_YARN;
  EXPECT_TRUE(contains(rejection(RMA_OP_ROPE, in, &yarn), {"'scaling'", "yarn", "v1"}));
  auto style = rope_attrs();
  style.style = 7;
  EXPECT_TRUE(contains(rejection(RMA_OP_ROPE, in, &style), {"'style'", "7"}));
  auto llama3 = rope_attrs();
  llama3.scaling = RMA_ROPE_SCALING_LLAMA3;
  llama3.factor = 8.f;
  EXPECT_NO_THROW(infer_outputs(RMA_OP_ROPE, in, &llama3));
  llama3.factor = 0.f;
  EXPECT_TRUE(contains(rejection(RMA_OP_ROPE, in, &llama3), {"'factor'"}));
}

TEST(Rope, AttrDefaults) {
  const auto a = rope_attrs();
  EXPECT_EQ(a.struct_size, sizeof(rma_rope_attrs));
  EXPECT_EQ(a.abi_version, RMA_ABI_VERSION);
  EXPECT_EQ(a.style, RMA_ROPE_NEOX);
  EXPECT_EQ(a.rotary_dim, 0);
  EXPECT_EQ(a.theta, 10000.f);
  EXPECT_EQ(a.scaling, RMA_ROPE_SCALING_NONE);
  EXPECT_EQ(a.factor, 1.f);
  EXPECT_EQ(a.low_freq_factor, 1.f);
  EXPECT_EQ(a.high_freq_factor, 4.f);
  EXPECT_EQ(a.original_max_position, 8192);
}

// ------------------------------------------------------------ fill_kv_cache

TEST(FillKvCache, ValidAndRejects) {
  const Tensors in = {t(kF32, {6, 2, 64}), t(kF32, {6, 2, 64}), t(kI64, {6})};
  // The cache may be of another float dtype than k and v.
  const Tensors caches = {t(kF16, {10, 16, 2, 64}), t(kF16, {10, 16, 2, 64})};
  expect_descs(infer_outputs(RMA_OP_FILL_KV_CACHE, in, nullptr, caches),
               {{{10, 16, 2, 64}, kF16}, {{10, 16, 2, 64}, kF16}});

  EXPECT_TRUE(contains(rejection(RMA_OP_FILL_KV_CACHE, in, nullptr), {"'k_cache'", "in place"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_FILL_KV_CACHE, in, nullptr,
                                 {t(kF16, {10, 16, 2, 32}), t(kF16, {10, 16, 2, 32})}),
                       {"output 'k_cache'", "[num_blocks, block_size, 2, 64]", "[10, 16, 2, 32]"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_FILL_KV_CACHE, in, nullptr,
                                 {t(kF16, {10, 16, 2, 64}), t(kF32, {10, 16, 2, 64})}),
                       {"output 'v_cache'", "f16", "f32"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_FILL_KV_CACHE, in, nullptr,
                                 {t(kF16, {10, 0, 2, 64}), t(kF16, {10, 0, 2, 64})}),
                       {"output 'k_cache'", "block_size"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_FILL_KV_CACHE, in, nullptr,
                                 {t(kI32, {10, 16, 2, 64}), t(kI32, {10, 16, 2, 64})}),
                       {"output 'k_cache'", "float"}));
  EXPECT_TRUE(
      contains(rejection(RMA_OP_FILL_KV_CACHE,
                         {t(kF32, {6, 2, 64}), t(kF32, {6, 2, 64}), t(kI32, {5})}, nullptr, caches),
               {"argument 'slot_mapping'", "[6]", "[5]"}));
  EXPECT_TRUE(
      contains(rejection(RMA_OP_FILL_KV_CACHE,
                         {t(kF32, {6, 2, 64}), t(kF32, {6, 4, 64}), t(kI32, {6})}, nullptr, caches),
               {"argument 'v'", "[6, 2, 64]", "[6, 4, 64]"}));
}

// ---------------------------------------------------------------- attention

TEST(PrefillAttention, ValidAndRejects) {
  const auto a = attention_attrs(0.125f);
  const rma_tensor q = t(kBF16, {9, 8, 64}), kv = t(kBF16, {9, 2, 64}), cu = t(kI32, {3});
  expect_descs(infer_outputs(RMA_OP_PREFILL_ATTENTION, {q, kv, kv, cu}, &a), {{{9, 8, 64}, kBF16}});
  expect_descs(infer_outputs(RMA_OP_PREFILL_ATTENTION, {q, kv, kv, cu, t(kF32, {8})}, &a),
               {{{9, 8, 64}, kBF16}});

  EXPECT_TRUE(contains(
      rejection(RMA_OP_PREFILL_ATTENTION, {q, t(kBF16, {9, 3, 64}), t(kBF16, {9, 3, 64}), cu}, &a),
      {"argument 'k'", "Hq = 8", "Hkv = 3"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_PREFILL_ATTENTION, {q, kv, t(kBF16, {9, 2, 32}), cu}, &a),
                       {"argument 'v'", "[9, 2, 64]", "[9, 2, 32]"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_PREFILL_ATTENTION, {q, kv, kv, t(kI64, {3})}, &a),
                       {"argument 'cu_seqlens'", "i32", "i64"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_PREFILL_ATTENTION, {q, kv, kv, t(kI32, {0})}, &a),
                       {"argument 'cu_seqlens'", "B+1"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_PREFILL_ATTENTION, {q, kv, kv, t(kI32, {2, 3})}, &a),
                       {"argument 'cu_seqlens'", "[B+1]", "[2, 3]"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_PREFILL_ATTENTION, {q, kv, kv, cu, t(kF16, {8})}, &a),
                       {"argument 'alibi_slopes'", "f32", "f16"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_PREFILL_ATTENTION, {q, kv, kv, cu, t(kF32, {2})}, &a),
                       {"argument 'alibi_slopes'", "[8]", "[2]"}));
  const auto win = attention_attrs(0.125f, true, -4);
  EXPECT_TRUE(contains(rejection(RMA_OP_PREFILL_ATTENTION, {q, kv, kv, cu}, &win),
                       {"'sliding_window'", "-4"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_PREFILL_ATTENTION, {q, kv, kv, cu}, nullptr),
                       {"rma_attention_attrs"}));
}

TEST(PagedDecodeAttention, ValidAndRejects) {
  const auto a = attention_attrs(0.125f, false);
  const rma_tensor q = t(kF32, {3, 8, 64}), cache = t(kF16, {20, 16, 4, 64}),
                   table = t(kI32, {3, 5}), lens = t(kI32, {3});
  expect_descs(infer_outputs(RMA_OP_PAGED_DECODE_ATTENTION, {q, cache, cache, table, lens}, &a),
               {{{3, 8, 64}, kF32}});

  EXPECT_TRUE(contains(
      rejection(RMA_OP_PAGED_DECODE_ATTENTION, {q, cache, cache, t(kI64, {3, 5}), lens}, &a),
      {"argument 'block_table'", "i32", "i64"}));
  EXPECT_TRUE(contains(
      rejection(RMA_OP_PAGED_DECODE_ATTENTION, {q, cache, cache, t(kI32, {2, 5}), lens}, &a),
      {"argument 'block_table'", "[3, max_blocks]", "[2, 5]"}));
  EXPECT_TRUE(
      contains(rejection(RMA_OP_PAGED_DECODE_ATTENTION, {q, cache, cache, table, t(kI32, {4})}, &a),
               {"argument 'context_lens'", "[3]", "[4]"}));
  EXPECT_TRUE(
      contains(rejection(RMA_OP_PAGED_DECODE_ATTENTION,
                         {q, t(kF16, {20, 16, 4, 32}), t(kF16, {20, 16, 4, 32}), table, lens}, &a),
               {"argument 'k_cache'", "[num_blocks, block_size, Hkv, 64]"}));
  EXPECT_TRUE(
      contains(rejection(RMA_OP_PAGED_DECODE_ATTENTION,
                         {q, t(kF16, {20, 16, 3, 64}), t(kF16, {20, 16, 3, 64}), table, lens}, &a),
               {"argument 'k_cache'", "Hkv = 3"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_PAGED_DECODE_ATTENTION,
                                 {q, cache, t(kF32, {20, 16, 4, 64}), table, lens}, &a),
                       {"argument 'v_cache'", "f16", "f32"}));
}

// -------------------------------------------------------------- activations

TEST(ActAndMul, ValidAndRejects) {
  expect_descs(infer_outputs(RMA_OP_SILU_AND_MUL, {t(kF16, {2, 3, 16})}, nullptr),
               {{{2, 3, 8}, kF16}});
  EXPECT_TRUE(contains(rejection(RMA_OP_SILU_AND_MUL, {t(kF16, {2, 7})}, nullptr),
                       {"argument 'x'", "even", "[2, 7]"}));
  const auto g = gelu_attrs(true);
  expect_descs(infer_outputs(RMA_OP_GELU_AND_MUL, {t(kF32, {4, 10})}, &g), {{{4, 5}, kF32}});
  auto bad = gelu_attrs();
  bad.approximate = 2;
  EXPECT_TRUE(
      contains(rejection(RMA_OP_GELU_AND_MUL, {t(kF32, {4, 10})}, &bad), {"'approximate'", "2"}));
  EXPECT_TRUE(
      contains(rejection(RMA_OP_GELU_AND_MUL, {t(kI8, {4, 10})}, &g), {"argument 'x'", "i8"}));
}

// ---------------------------------------------------------------- embedding

TEST(Embedding, OutputDtype) {
  const rma_tensor ids = t(kI32, {7});
  expect_descs(infer_outputs(RMA_OP_EMBEDDING, {ids, t(kBF16, {100, 64})}, nullptr),
               {{{7, 64}, kBF16}});
  // A quantized table: f32 by default, else out_dtype, else a given output's.
  expect_descs(infer_outputs(RMA_OP_EMBEDDING, {ids, t(kQ4_0, {100, 64})}, nullptr),
               {{{7, 64}, kF32}});
  expect_descs(infer_outputs(RMA_OP_EMBEDDING, {ids, t(kQ4_0, {100, 64})}, nullptr, {}, kF16),
               {{{7, 64}, kF16}});
  expect_descs(
      infer_outputs(RMA_OP_EMBEDDING, {ids, t(kQ4_0, {100, 64})}, nullptr, {t(kBF16, {7, 64})}),
      {{{7, 64}, kBF16}});
  EXPECT_TRUE(contains(rejection(RMA_OP_EMBEDDING, {ids, t(kQ4_0, {100, 64})}, nullptr, {}, kI32),
                       {"out_dtype", "float", "i32"}));
  EXPECT_TRUE(contains(
      rejection(RMA_OP_EMBEDDING, {ids, t(kQ4_0, {100, 64})}, nullptr, {t(kF16, {7, 64})}, kF32),
      {"output 'y'", "f32[7, 64]", "f16[7, 64]"}));
}

TEST(Embedding, Rejects) {
  EXPECT_TRUE(contains(rejection(RMA_OP_EMBEDDING, {t(kF32, {7}), t(kF32, {100, 64})}, nullptr),
                       {"argument 'ids'", "i32, i64", "f32"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_EMBEDDING, {t(kI32, {7, 2}), t(kF32, {100, 64})}, nullptr),
                       {"argument 'ids'", "[T]", "[7, 2]"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_EMBEDDING, {t(kI32, {7}), t(kI32, {100, 64})}, nullptr),
                       {"argument 'table'", "i32"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_EMBEDDING, {t(kI32, {7}), t(kF32, {6400})}, nullptr),
                       {"argument 'table'", "[V, H]", "[6400]"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_EMBEDDING, {t(kI32, {7}), t(kQ8_0, {100, 40})}, nullptr),
                       {"argument 'table'", "32", "[100, 40]"}));
}

// -------------------------------------------------------------- moe, sample

TEST(MoeGating, ValidAndRejects) {
  const auto a = moe_gating_attrs(2, true);
  expect_descs(infer_outputs(RMA_OP_MOE_GATING_TOPK_SOFTMAX, {t(kBF16, {5, 8})}, &a),
               {{{5, 2}, kF32}, {{5, 2}, kI32}});
  const auto zero = moe_gating_attrs(0, false), many = moe_gating_attrs(9, false);
  EXPECT_TRUE(contains(rejection(RMA_OP_MOE_GATING_TOPK_SOFTMAX, {t(kF32, {5, 8})}, &zero),
                       {"'k'", "E = 8", "got 0"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_MOE_GATING_TOPK_SOFTMAX, {t(kF32, {5, 8})}, &many),
                       {"'k'", "E = 8", "got 9"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_MOE_GATING_TOPK_SOFTMAX, {t(kF32, {40})}, &a),
                       {"argument 'logits'", "[T, E]", "[40]"}));
}

TEST(Sample, ValidAndRejects) {
  const auto a = sample_attrs(0.8f, 40, 0.95f, 0.05f, 1.1f, 42);
  const rma_tensor logits = t(kF32, {4, 1000});
  expect_descs(infer_outputs(RMA_OP_SAMPLE, {logits}, &a), {{{4}, kI32}});
  expect_descs(infer_outputs(RMA_OP_SAMPLE, {logits, t(kI32, {4, 16})}, &a), {{{4}, kI32}});
  expect_descs(infer_outputs(RMA_OP_SAMPLE, {logits, absent()}, &a), {{{4}, kI32}});

  EXPECT_TRUE(contains(rejection(RMA_OP_SAMPLE, {logits, t(kI64, {4, 16})}, &a),
                       {"argument 'prev_tokens'", "i32", "i64"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_SAMPLE, {logits, t(kI32, {3, 16})}, &a),
                       {"argument 'prev_tokens'", "[4, L]", "[3, 16]"}));
  EXPECT_TRUE(
      contains(rejection(RMA_OP_SAMPLE, {t(kF32, {4})}, &a), {"argument 'logits'", "[B, V]"}));
  const auto neg_k = sample_attrs(1.f, -1);
  EXPECT_TRUE(contains(rejection(RMA_OP_SAMPLE, {logits}, &neg_k), {"'top_k'", "-1"}));
  const auto p0 = sample_attrs(1.f, 0, 0.f), p2 = sample_attrs(1.f, 0, 1.5f);
  EXPECT_TRUE(contains(rejection(RMA_OP_SAMPLE, {logits}, &p0), {"'top_p'", "(0, 1]"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_SAMPLE, {logits}, &p2), {"'top_p'", "1.5"}));
  const auto p1 = sample_attrs(1.f, 0, 1.f);
  EXPECT_NO_THROW(infer_outputs(RMA_OP_SAMPLE, {logits}, &p1));
}

// --------------------------------------------------------- softmax, add, mul

TEST(Softmax, ValidAndRejects) {
  auto a = softmax_attrs();
  EXPECT_EQ(a.axis, -1);
  expect_descs(infer_outputs(RMA_OP_SOFTMAX, {t(kF16, {2, 3, 5})}, &a), {{{2, 3, 5}, kF16}});
  a.axis = 2;  // the last axis, counted from the front
  EXPECT_NO_THROW(infer_outputs(RMA_OP_SOFTMAX, {t(kF16, {2, 3, 5})}, &a));
  a.axis = 0;
  EXPECT_TRUE(contains(rejection(RMA_OP_SOFTMAX, {t(kF16, {2, 3, 5})}, &a),
                       {"'axis'", "last axis", "got 0"}));
  const auto ok = softmax_attrs();
  EXPECT_TRUE(contains(rejection(RMA_OP_SOFTMAX, {t(kI32, {2, 3})}, &ok), {"argument 'x'"}));
}

TEST(Binary, Broadcasting) {
  expect_descs(infer_outputs(RMA_OP_ADD, {t(kF32, {2, 1, 4}), t(kF32, {3, 1})}, nullptr),
               {{{2, 3, 4}, kF32}});
  expect_descs(infer_outputs(RMA_OP_MUL, {t(kF16, {}), t(kF16, {5, 6})}, nullptr),
               {{{5, 6}, kF16}});
  expect_descs(infer_outputs(RMA_OP_MUL, {t(kF32, {0, 4}), t(kF32, {1, 4})}, nullptr),
               {{{0, 4}, kF32}});
  EXPECT_TRUE(contains(rejection(RMA_OP_ADD, {t(kF32, {2, 3}), t(kF32, {4})}, nullptr),
                       {"argument 'b'", "[4]", "[2, 3]", "3 vs 4"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_MUL, {t(kF32, {2, 3}), t(kBF16, {2, 3})}, nullptr),
                       {"argument 'b'", "f32", "bf16"}));
  EXPECT_TRUE(contains(rejection(RMA_OP_MUL, {t(kQ4_0, {2, 32}), t(kQ4_0, {2, 32})}, nullptr),
                       {"argument 'a'", "float", "q4_0"}));
}

// ----------------------------------------------------------- attr helpers

TEST(AttrHelpers, HeadersAndValues) {
  const auto l = linear_attrs(Activation::kLeakyRelu, true, false, 0.2f, 0.5f);
  EXPECT_EQ(l.struct_size, sizeof(rma_linear_attrs));
  EXPECT_EQ(l.abi_version, RMA_ABI_VERSION);
  EXPECT_EQ(l.trans_a, 1);
  EXPECT_EQ(l.trans_b, 0);
  EXPECT_EQ(l.activation, RMA_ACT_LEAKY_RELU);
  EXPECT_EQ(l.activation_param, 0.2f);
  EXPECT_EQ(l.alpha, 0.5f);
  const auto s = sample_attrs(0.7f, 5, 0.9f, 0.1f, 1.2f, 99);
  EXPECT_EQ(s.struct_size, sizeof(rma_sample_attrs));
  EXPECT_EQ(s.top_k, 5);
  EXPECT_EQ(s.top_p, 0.9f);
  EXPECT_EQ(s.min_p, 0.1f);
  EXPECT_EQ(s.repetition_penalty, 1.2f);
  EXPECT_EQ(s.seed, 99u);
  const auto at = attention_attrs(0.5f, false, 128);
  EXPECT_EQ(at.struct_size, sizeof(rma_attention_attrs));
  EXPECT_EQ(at.causal, 0);
  EXPECT_EQ(at.sliding_window, 128);
  const auto m = moe_gating_attrs(2, true);
  EXPECT_EQ(m.struct_size, sizeof(rma_moe_gating_attrs));
  EXPECT_EQ(m.k, 2);
  EXPECT_EQ(m.renormalize, 1);
  EXPECT_EQ(norm_attrs(1e-6f).struct_size, sizeof(rma_norm_attrs));
  EXPECT_EQ(gelu_attrs(true).approximate, 1);
  EXPECT_EQ(softmax_attrs().struct_size, sizeof(rma_softmax_attrs));
}

}  // namespace
}  // namespace rma
