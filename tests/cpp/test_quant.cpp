// Block quantization: exact layouts on handcrafted blocks, GGUF-compatible
// dequantization of fixed blocks, and round-trip error bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "rma/error.h"
#include "rma/formats.h"
#include "rma/half.h"
#include "rma/quant.h"

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
  for (const Case c : {Case{DType::kQ4_K, 0.085, 0.15f}, Case{DType::kQ6_K, 0.022, 0.04f}}) {
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
  for (DType dt : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ4_K, DType::kQ6_K}) {
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

}  // namespace
}  // namespace rma
