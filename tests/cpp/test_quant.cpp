// Block quantization: exact layouts on handcrafted blocks, GGUF-compatible
// dequantization of fixed blocks, and round-trip error bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "rma/device.h"
#include "rma/error.h"
#include "rma/formats.h"
#include "rma/half.h"
#include "rma/ops.h"
#include "rma/quant.h"
#include "rma/tensor.h"

namespace rma {
namespace {

std::vector<uint8_t> quantize(DType dt, const std::vector<float>& x) {
  std::vector<uint8_t> q(static_cast<size_t>(bytes_for(dt, static_cast<int64_t>(x.size()))));
  quantize_row(dt, x.data(), q.data(), static_cast<int64_t>(x.size()));
  return q;
}

std::vector<float> dequantize(DType dt, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(dt, q.data(), y.data(), n);
  return y;
}

// Gaussian rows whose scale changes from block to block, as weights do.
std::vector<float> random_row(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[i] = normal(rng) * (1.f + static_cast<float>((i / 32) % 4));
  return x;
}

double relative_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    ref += double(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

uint16_t f16_field(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

// ------------------------------------------------------------ exact blocks

TEST(QuantQ8_0, HandcraftedBlock) {
  // amax 127 makes d exactly 1, so every code is the rounded value.
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = static_cast<float>(4 * i - 62);
  x[5] = 127.f;
  x[3] = 2.5f;  // halves round away from zero, as ggml's roundf
  x[4] = -2.5f;
  const std::vector<uint8_t> q = quantize(DType::kQ8_0, x);
  ASSERT_EQ(q.size(), 34u);
  const auto* blk = reinterpret_cast<const rma_block_q8_0*>(q.data());
  EXPECT_EQ(blk->d, 0x3C00);  // f16 1.0
  EXPECT_EQ(blk->qs[0], -62);
  EXPECT_EQ(blk->qs[3], 3);
  EXPECT_EQ(blk->qs[4], -3);
  EXPECT_EQ(blk->qs[5], 127);
  EXPECT_EQ(blk->qs[31], 62);
  const std::vector<float> y = dequantize(DType::kQ8_0, q, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], static_cast<float>(blk->qs[i])) << i;
}

TEST(QuantQ4_0, HandcraftedBlock) {
  // The value of largest magnitude (8) maps to code 0: d = 8 / -8 = -1, so
  // x = -(nibble - 8) and nibble = 8 - x.
  std::vector<float> x(32, 0.f);
  x[0] = 8.f;
  x[16] = -7.f;
  x[1] = 3.f;
  x[17] = -1.f;
  const std::vector<uint8_t> q = quantize(DType::kQ4_0, x);
  ASSERT_EQ(q.size(), 18u);
  EXPECT_EQ(f16_field(q.data()), 0xBC00);  // f16 -1.0
  // Element i in the low nibble of qs[i], element i + 16 in the high nibble.
  EXPECT_EQ(q[2 + 0], 0x00 | (15 << 4));
  EXPECT_EQ(q[2 + 1], 5 | (9 << 4));
  EXPECT_EQ(q[2 + 2], 8 | (8 << 4));  // zeros
  EXPECT_EQ(dequantize(DType::kQ4_0, q, 32), x);

  // Hand-built bytes decode as d * (nibble - 8).
  std::vector<uint8_t> blk(18, 0x88);
  const uint16_t half = f32_to_f16(0.5f);
  std::memcpy(blk.data(), &half, 2);
  blk[2] = 0xF0;  // element 0: nibble 0 -> -4; element 16: nibble 15 -> 3.5
  const std::vector<float> y = dequantize(DType::kQ4_0, blk, 32);
  EXPECT_EQ(y[0], -4.f);
  EXPECT_EQ(y[16], 3.5f);
  EXPECT_EQ(y[1], 0.f);
}

TEST(QuantQ4_1, HandcraftedBlock) {
  // min 0, max 15: d = 1, m = 0, so codes are the values.
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = static_cast<float>(i % 16);
  const std::vector<uint8_t> q = quantize(DType::kQ4_1, x);
  ASSERT_EQ(q.size(), 20u);
  EXPECT_EQ(f16_field(q.data()), 0x3C00);
  EXPECT_EQ(f16_field(q.data() + 2), 0x0000);
  EXPECT_EQ(q[4 + 1], 0x11);
  EXPECT_EQ(q[4 + 15], 0xFF);
  EXPECT_EQ(dequantize(DType::kQ4_1, q, 32), x);

  // A negative offset: x = 0.5 * nibble - 2.
  for (int i = 0; i < 32; ++i) x[i] = 0.5f * static_cast<float>(i % 16) - 2.f;
  const std::vector<uint8_t> q2 = quantize(DType::kQ4_1, x);
  EXPECT_EQ(f16_field(q2.data() + 2), f32_to_f16(-2.f));
  EXPECT_EQ(dequantize(DType::kQ4_1, q2, 32), x);
}

// Fixed blocks of patterned bytes; the expected values come from the gguf
// Python package's dequantizers (llama.cpp's reference), so a layout slip
// shows up here.
const int kProbe[16] = {0, 1, 15, 16, 31, 32, 33, 63, 64, 95, 96, 127, 128, 160, 200, 255};

TEST(QuantQ4_K, DequantizesLikeGguf) {
  std::vector<uint8_t> blk(144);
  for (int i = 0; i < 144; ++i) blk[i] = static_cast<uint8_t>((i * 37 + 11) & 0xFF);
  const uint16_t d = f32_to_f16(0.5f), dmin = f32_to_f16(0.25f);
  std::memcpy(blk.data(), &d, 2);
  std::memcpy(blk.data() + 2, &dmin, 2);
  const std::vector<float> y = dequantize(DType::kQ4_K, blk, 256);
  const float expected[16] = {157.75f, -12.75f, 80.25f, 157.75f, 80.25f, 4.0f,   10.0f,  20.0f,
                              210.25f, 107.75f, 96.5f,  40.5f,   211.5f, 262.5f, 69.25f, 24.25f};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(y[kProbe[i]], expected[i]) << "element " << kProbe[i];
  double sum = 0;
  for (float v : y) sum += v;
  EXPECT_EQ(sum, 27220.0);
}

TEST(QuantQ5_K, DequantizesLikeGguf) {
  std::vector<uint8_t> blk(176);
  for (int i = 0; i < 176; ++i) blk[i] = static_cast<uint8_t>((i * 29 + 3) & 0xFF);
  const uint16_t d = f32_to_f16(0.5f), dmin = f32_to_f16(0.25f);
  std::memcpy(blk.data(), &d, 2);
  std::memcpy(blk.data() + 2, &dmin, 2);
  const std::vector<float> y = dequantize(DType::kQ5_K, blk, 256);
  const float expected[16] = {511.75f, -10.75f, 154.25f, 511.75f, 154.25f, 228.0f,
                              88.0f,   308.0f,  64.25f,  529.75f, 6.5f,    62.5f,
                              281.25f, 240.25f, 223.25f, 344.25f};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(y[kProbe[i]], expected[i]) << "element " << kProbe[i];
  double sum = 0;
  for (float v : y) sum += v;
  EXPECT_EQ(sum, 75308.0);
}

// The fifth bit: levels 16..31 set it, and it lands at bit 2k (2k + 1) of
// qh[i] for element 64k + i (64k + 32 + i).
TEST(QuantQ5_K, HighBitsLandInQh) {
  // One sub-block pattern repeated: levels 0..31 in order, scale 1, min 0
  // (exact up to the f16 rounding of d = 1 / 63).
  std::vector<float> x(256);
  for (int i = 0; i < 256; ++i) x[i] = static_cast<float>(i % 32);
  const std::vector<uint8_t> q = quantize(DType::kQ5_K, x);
  ASSERT_EQ(q.size(), 176u);
  const auto* blk = reinterpret_cast<const rma_block_q5_K*>(q.data());
  for (int i = 0; i < 32; ++i) {
    // Every sub-block has level i at position i: bit 4 set from 16 on.
    EXPECT_EQ(blk->qh[i], i >= 16 ? 0xFF : 0x00) << i;
    EXPECT_EQ(blk->qs[i], (i & 15) | ((i & 15) << 4)) << i;
  }
  const std::vector<float> y = dequantize(DType::kQ5_K, q, 256);
  for (int i = 0; i < 256; ++i) EXPECT_NEAR(y[i], x[i], 1e-2f) << i;
}

TEST(QuantQ6_K, DequantizesLikeGguf) {
  std::vector<uint8_t> blk(210);
  for (int i = 0; i < 210; ++i) blk[i] = static_cast<uint8_t>((i * 53 + 7) & 0xFF);
  const uint16_t d = f32_to_f16(0.125f);
  std::memcpy(blk.data() + 208, &d, 2);
  const std::vector<float> y = dequantize(DType::kQ6_K, blk, 256);
  const float expected[16] = {-163.875f, 142.5f,  -14.25f,  -11.5f,  -1.0f, -55.125f,
                              171.5f,    -382.5f, 404.0f,   -138.0f, 6.25f, 123.25f,
                              319.125f,  43.875f, -150.75f, -18.75f};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(y[kProbe[i]], expected[i]) << "element " << kProbe[i];
  double sum = 0;
  for (float v : y) sum += v;
  EXPECT_EQ(sum, -235.5);
}

// ------------------------------------------------------------- round trips

// Per-element bounds follow from the formats: half a quantization step plus
// the f16 rounding of the block scales.
TEST(QuantRoundTrip, Q8_0WithinHalfStep) {
  const std::vector<float> x = random_row(32 * 64, 1);
  const std::vector<float> y = dequantize(DType::kQ8_0, quantize(DType::kQ8_0, x), 32 * 64);
  for (size_t b = 0; b < x.size() / 32; ++b) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[32 * b + i]));
    const float step = amax / 127.f;
    for (int i = 0; i < 32; ++i)
      EXPECT_LE(std::fabs(x[32 * b + i] - y[32 * b + i]), 0.6f * step) << 32 * b + i;
  }
  EXPECT_LT(relative_rmse(x, y), 0.01);
}

TEST(QuantRoundTrip, Q4_0WithinOneStep) {
  const std::vector<float> x = random_row(32 * 64, 2);
  const std::vector<float> y = dequantize(DType::kQ4_0, quantize(DType::kQ4_0, x), 32 * 64);
  for (size_t b = 0; b < x.size() / 32; ++b) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[32 * b + i]));
    // One step at most: the side opposite the extreme value clamps at +7.
    const float step = amax / 8.f;
    for (int i = 0; i < 32; ++i)
      EXPECT_LE(std::fabs(x[32 * b + i] - y[32 * b + i]), 1.01f * step) << 32 * b + i;
  }
  EXPECT_LT(relative_rmse(x, y), 0.12);
}

TEST(QuantRoundTrip, Q4_1WithinHalfStep) {
  const std::vector<float> x = random_row(32 * 64, 3);
  const std::vector<float> y = dequantize(DType::kQ4_1, quantize(DType::kQ4_1, x), 32 * 64);
  for (size_t b = 0; b < x.size() / 32; ++b) {
    float lo = x[32 * b], hi = x[32 * b];
    for (int i = 0; i < 32; ++i) {
      lo = std::min(lo, x[32 * b + i]);
      hi = std::max(hi, x[32 * b + i]);
    }
    const float step = (hi - lo) / 15.f;
    const float slack = (std::fabs(lo) + (hi - lo)) * 1e-3f;  // f16 d and m
    for (int i = 0; i < 32; ++i)
      EXPECT_LE(std::fabs(x[32 * b + i] - y[32 * b + i]), 0.5f * step + slack) << 32 * b + i;
  }
  EXPECT_LT(relative_rmse(x, y), 0.1);
}

TEST(QuantRoundTrip, KQuantsKeepDecentError) {
  struct Case {
    DType dtype;
    double max_rmse;  // relative to the signal
    float max_error;  // per element, relative to the super-block's amax
  };
  // q5_K has the q4_K header and twice the levels: about half q4_K's error.
  for (const Case c : {Case{DType::kQ4_K, 0.085, 0.15f}, Case{DType::kQ5_K, 0.045, 0.08f},
                       Case{DType::kQ6_K, 0.022, 0.04f}}) {
    const std::vector<float> x = random_row(256 * 16, 4);
    const std::vector<float> y = dequantize(c.dtype, quantize(c.dtype, x), 256 * 16);
    EXPECT_LT(relative_rmse(x, y), c.max_rmse) << name(c.dtype);
    for (size_t b = 0; b < x.size() / 256; ++b) {
      float amax = 0;
      for (int i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(x[256 * b + i]));
      for (int i = 0; i < 256; ++i)
        ASSERT_LE(std::fabs(x[256 * b + i] - y[256 * b + i]), c.max_error * amax)
            << name(c.dtype) << " element " << 256 * b + i;
    }
  }
}

TEST(QuantRoundTrip, ZerosAndConstantsStayExactEnough) {
  for (DType dt :
       {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    const std::vector<float> zeros(256, 0.f);
    EXPECT_EQ(dequantize(dt, quantize(dt, zeros), 256), zeros) << name(dt);
    const std::vector<float> ones(256, 1.f);
    const std::vector<float> y = dequantize(dt, quantize(dt, ones), 256);
    for (float v : y) EXPECT_NEAR(v, 1.f, 2e-3f) << name(dt);
  }
}

TEST(QuantRoundTrip, FloatTypesConvert) {
  const std::vector<float> x = {1.f, -2.5f, 65504.f, 1e-8f, 3.14159265f, 0.f};
  EXPECT_EQ(dequantize(DType::kF32, quantize(DType::kF32, x), 6), x);

  const std::vector<uint8_t> h = quantize(DType::kF16, x);
  EXPECT_EQ(f16_field(h.data()), 0x3C00);
  const std::vector<float> yh = dequantize(DType::kF16, h, 6);
  EXPECT_EQ(yh[1], -2.5f);
  EXPECT_EQ(yh[2], 65504.f);
  EXPECT_NEAR(yh[4], 3.14159265f, 1e-3f);

  const std::vector<float> yb = dequantize(DType::kBF16, quantize(DType::kBF16, x), 6);
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_LE(std::fabs(yb[i] - x[i]), std::fabs(x[i]) * 0x1p-8f) << i;
}

// ------------------------------------------------------------------ errors

TEST(QuantErrors, RejectsPartialBlocks) {
  std::vector<float> x(300);
  std::vector<uint8_t> q(1024);
  try {
    quantize_row(DType::kQ4_K, x.data(), q.data(), 300);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("q4_k"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("300"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dequantize_row(DType::kQ8_0, q.data(), x.data(), 33), Error);
}

TEST(QuantErrors, RejectsNonFloatTypes) {
  std::vector<float> x(8);
  std::vector<uint8_t> q(64);
  try {
    quantize_row(DType::kI32, x.data(), q.data(), 8);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("i32"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dequantize_row(static_cast<DType>(99), q.data(), x.data(), 8), Error);
}

// ------------------------------------------- quantized and f16/bf16 weights

rma_tensor desc(DType dt, const Shape& shape) {
  rma_tensor t{};
  t.struct_size = sizeof(rma_tensor);
  t.abi_version = RMA_ABI_VERSION;
  t.dtype = static_cast<int32_t>(dt);
  t.ndim = static_cast<int32_t>(shape.size());
  const Shape strides = contiguous_strides(shape);
  for (size_t i = 0; i < shape.size(); ++i) {
    t.shape[i] = shape[i];
    t.strides[i] = strides[i];
  }
  return t;
}

std::string rejection(rma_op op, const std::vector<rma_tensor>& in, const void* attrs,
                      std::optional<DType> out_dtype = std::nullopt) {
  try {
    infer_outputs(op, in, attrs, {}, out_dtype);
  } catch (const Error& e) {
    return e.what();
  }
  return "accepted";
}

TEST(QuantLinearWeights, SchemaTakesQ5KAndHalfWeights) {
  const auto a = linear_attrs();
  // f16 / bf16 weights with any float x (y in x's dtype), any K.
  for (DType wt : {DType::kF16, DType::kBF16})
    for (DType xt : {DType::kF32, DType::kF16, DType::kBF16}) {
      const auto y = infer_outputs(RMA_OP_QUANT_LINEAR,
                                   {desc(xt, {3, 100}), desc(wt, {7, 100}), desc(xt, {7})}, &a);
      ASSERT_EQ(y.size(), 1u);
      EXPECT_EQ(y[0].shape, (Shape{3, 7}));
      EXPECT_EQ(y[0].dtype, xt);
    }
  EXPECT_EQ(infer_outputs(RMA_OP_QUANT_LINEAR,
                          {desc(DType::kF32, {2, 512}), desc(DType::kQ5_K, {9, 512})}, &a)[0]
                .shape,
            (Shape{2, 9}));
  // f32 weights are linear's; q5_k needs whole 256-blocks.
  const std::string f32w =
      rejection(RMA_OP_QUANT_LINEAR, {desc(DType::kF32, {2, 64}), desc(DType::kF32, {9, 64})}, &a);
  EXPECT_NE(f32w.find("argument 'w'"), std::string::npos) << f32w;
  EXPECT_NE(f32w.find("linear"), std::string::npos) << f32w;
  const std::string partial = rejection(
      RMA_OP_QUANT_LINEAR, {desc(DType::kF32, {2, 576}), desc(DType::kQ5_K, {9, 576})}, &a);
  EXPECT_NE(partial.find("256"), std::string::npos) << partial;
}

TEST(QuantLinearWeights, SchemaChecksPrecision) {
  const std::vector<rma_tensor> in = {desc(DType::kF32, {2, 64}), desc(DType::kQ4_1, {9, 64})};
  for (Precision p : {Precision::kAccurate, Precision::kFast}) {
    const auto a = linear_attrs(Activation::kNone, false, true, 0.01f, 1.f, p);
    EXPECT_EQ(infer_outputs(RMA_OP_QUANT_LINEAR, in, &a)[0].shape, (Shape{2, 9}));
  }
  for (int32_t bad : {2, -1}) {
    rma_linear_attrs a = linear_attrs();
    a.precision = bad;
    const std::string why = rejection(RMA_OP_QUANT_LINEAR, in, &a);
    EXPECT_NE(why.find("precision"), std::string::npos) << why;
  }
  // A caller built before `precision` was appended: the shorter struct is
  // accepted (as accurate); shorter still is not.
  rma_linear_attrs old = linear_attrs();
  old.precision = 7;  // past struct_size: never read
  old.struct_size = offsetof(rma_linear_attrs, precision);
  EXPECT_EQ(infer_outputs(RMA_OP_QUANT_LINEAR, in, &old)[0].shape, (Shape{2, 9}));
  old.struct_size -= 4;
  EXPECT_NE(rejection(RMA_OP_QUANT_LINEAR, in, &old).find("struct_size"), std::string::npos);
}

Device cpu() { return Runtime::get().device("cpu"); }

Tensor host_tensor(DType dt, const std::vector<float>& v, const Shape& shape) {
  std::vector<uint8_t> bytes(static_cast<size_t>(bytes_for(dt, numel(shape))));
  quantize_row(dt, v.data(), bytes.data(), numel(shape));
  return Tensor::from_host(bytes.data(), shape, dt, cpu());
}

std::vector<float> floats_of(const Tensor& t) {
  const std::vector<uint8_t> bytes = t.to_host_bytes();
  std::vector<float> out(static_cast<size_t>(t.numel()));
  dequantize_row(t.dtype(), bytes.data(), out.data(), t.numel());
  return out;
}

// quant_linear on the cpu against the widened weights: for f16 / bf16 w the
// device must equal linear over the exactly widened w (both accumulate in
// f32), for q5_k the double-precision product within the q8 activation
// error. T spans the GEMV, small-M and blocked-GEMM paths.
TEST(QuantLinearWeights, CpuMatchesWidenedWeights) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  struct Case {
    DType wt, xt;
    int64_t k;
  };
  for (const Case c : {Case{DType::kF16, DType::kF32, 200}, Case{DType::kBF16, DType::kF32, 77},
                       Case{DType::kF16, DType::kBF16, 96}, Case{DType::kQ5_K, DType::kF32, 512},
                       Case{DType::kQ5_K, DType::kF16, 256}})
    for (int64_t t : {1, 3, 4, 9, 17, 40}) {
      const int64_t n = 37;
      SCOPED_TRACE(std::string(name(c.wt)) + " x " + std::string(name(c.xt)) +
                   " T=" + std::to_string(t));
      std::vector<float> xv(static_cast<size_t>(t * c.k)), wv(static_cast<size_t>(n * c.k));
      for (float& v : xv) v = u(rng);
      for (float& v : wv) v = u(rng) / std::sqrt(static_cast<float>(c.k));
      const Tensor x = host_tensor(c.xt, xv, {t, c.k});
      const Tensor w = host_tensor(c.wt, wv, {n, c.k});
      const Tensor y = ops::quant_linear(x, w);
      ASSERT_EQ(y.dtype(), c.xt);
      ASSERT_EQ(y.shape(), (Shape{t, n}));
      const std::vector<float> got = floats_of(y), xs = floats_of(x), ws = floats_of(w);
      for (int64_t i = 0; i < t; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double ref = 0, mag = 0;
          for (int64_t k = 0; k < c.k; ++k) {
            ref += double(xs[i * c.k + k]) * ws[j * c.k + k];
            mag += std::fabs(double(xs[i * c.k + k]) * ws[j * c.k + k]);
          }
          // f32 accumulation (half weights) or q8 activations (q5_k), then
          // one rounding to y's dtype.
          const double tol = (is_quantized(c.wt) ? 1.5e-2 : 1e-5) * mag +
                             (c.xt == DType::kF32 ? 1e-6 : 8e-3) * std::fabs(ref);
          ASSERT_NEAR(got[i * n + j], ref, tol) << "y[" << i << ", " << j << "]";
        }
    }
}

// An f16 table gives f32 rows when asked (the rows widened exactly), bf16
// ones when asked, and its own dtype by default.
TEST(EmbeddingOutDtype, FloatTablesConvertOnTheCpu) {
  std::vector<float> table(50 * 24);
  for (size_t i = 0; i < table.size(); ++i) table[i] = 0.01f * static_cast<float>(i) - 3.f;
  const Tensor t16 = host_tensor(DType::kF16, table, {50, 24});
  const std::vector<int32_t> id_values = {3, 0, 49, 3};
  const Tensor ids = Tensor::from_vector(id_values, {4}, DType::kI32, cpu());
  const std::vector<float> widened = floats_of(t16);

  const Tensor y32 = ops::embedding(ids, t16, DType::kF32);
  ASSERT_EQ(y32.dtype(), DType::kF32);
  const std::vector<float> rows = y32.to_vector<float>();
  for (int r = 0; r < 4; ++r)
    for (int j = 0; j < 24; ++j)
      EXPECT_EQ(rows[r * 24 + j], widened[id_values[r] * 24 + j]) << r << ", " << j;

  EXPECT_EQ(ops::embedding(ids, t16).dtype(), DType::kF16);
  const Tensor yb = ops::embedding(ids, t16, DType::kBF16);
  ASSERT_EQ(yb.dtype(), DType::kBF16);
  const std::vector<float> brows = floats_of(yb);
  for (int j = 0; j < 24; ++j) EXPECT_EQ(brows[24 + j], bf16_to_f32(f32_to_bf16(widened[j])));

  const std::string msg =
      rejection(RMA_OP_EMBEDDING, {ids.to_abi(), t16.to_abi()}, nullptr, DType::kI8);
  EXPECT_NE(msg.find("out_dtype"), std::string::npos) << msg;
}

}  // namespace
}  // namespace rma
