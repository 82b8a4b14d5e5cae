// The cpu device's row ops, rope, KV cache, attention, activations,
// embedding, MoE gating, sampling and softmax: small cases checked by hand
// (or against a double-precision loop written here), every float dtype where
// it matters, empty inputs, and the data-dependent errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "rma/device.h"
#include "rma/error.h"
#include "rma/half.h"
#include "rma/ops.h"
#include "rma/quant.h"
#include "rma/tensor.h"

namespace rma {
namespace {

Device cpu() { return Runtime::get().device("cpu"); }

constexpr DType kF32 = DType::kF32, kF16 = DType::kF16, kBF16 = DType::kBF16, kI32 = DType::kI32,
                kI64 = DType::kI64;

float round_to(DType dt, float v) {
  if (dt == kF16) return f16_to_f32(f32_to_f16(v));
  if (dt == kBF16) return bf16_to_f32(f32_to_bf16(v));
  return v;
}

// Tolerance of one rounding to dtype (plus f32 arithmetic).
float tol(DType dt) { return dt == kF32 ? 2e-5f : dt == kF16 ? 2e-3f : 1.6e-2f; }

Tensor floats(const std::vector<float>& v, const Shape& shape, DType dt = kF32) {
  if (dt == kF32) return Tensor::from_host(v.data(), shape, dt, cpu());
  std::vector<uint16_t> bits(v.size());
  for (size_t i = 0; i < v.size(); ++i) bits[i] = dt == kF16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
  return Tensor::from_host(bits.data(), shape, dt, cpu());
}

Tensor ints(const std::vector<int32_t>& v, const Shape& shape) {
  return Tensor::from_host(v.data(), shape, kI32, cpu());
}

std::vector<float> to_floats(const Tensor& t) {
  const std::vector<uint8_t> bytes = t.to_host_bytes();
  std::vector<float> out(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    if (t.dtype() == kF32) {
      std::memcpy(&out[i], bytes.data() + 4 * i, 4);
    } else {
      uint16_t b;
      std::memcpy(&b, bytes.data() + 2 * i, 2);
      out[i] = t.dtype() == kF16 ? f16_to_f32(b) : bf16_to_f32(b);
    }
  }
  return out;
}

std::vector<float> random_values(size_t n, std::mt19937& rng, DType dt = kF32, float scale = 1.f) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = round_to(dt, u(rng));
  return v;
}

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, float tol,
                     const std::string& what = {}) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol * (1.f + std::fabs(want[i]))) << what << " at " << i;
}

// The message of the rma::Error `fn` throws with `code`.
template <class Fn>
std::string error_of(Fn fn, ErrorCode code = ErrorCode::kInvalidArgument) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected an rma::Error";
  return {};
}

// --------------------------------------------------------------- norms
TEST(CpuOps, RmsNormByHand) {
  for (DType dt : {kF32, kF16, kBF16}) {
    const std::vector<float> x = {1, 2, 3, 4, -2, 0, 0, 0};
    const std::vector<float> w = {1, 1, 1, 2};
    const Tensor y = ops::rms_norm(floats(x, {2, 4}, dt), floats(w, {4}, dt), 0.f);
    const float r0 = std::sqrt(30.f / 4), r1 = 1.f;  // mean squares 7.5 and 1
    expect_near_all(to_floats(y), {1 / r0, 2 / r0, 3 / r0, 8 / r0, -2 / r1, 0, 0, 0}, tol(dt),
                    std::string(name(dt)));
  }
}

TEST(CpuOps, RmsNormLongRowsAndEps) {
  std::mt19937 rng(1);
  const int64_t h = 1000;  // not a multiple of the vector width
  const std::vector<float> x = random_values(3 * h, rng), w = random_values(h, rng);
  const float eps = 1e-2f;
  const std::vector<float> y = to_floats(ops::rms_norm(floats(x, {3, h}), floats(w, {h}), eps));
  for (int64_t r = 0; r < 3; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < h; ++i) ss += double(x[r * h + i]) * x[r * h + i];
    const double inv = 1.0 / std::sqrt(ss / h + eps);
    for (int64_t i = 0; i < h; ++i) ASSERT_NEAR(y[r * h + i], x[r * h + i] * inv * w[i], 1e-5);
  }
}

TEST(CpuOps, AddRmsNormNormsTheRoundedSum) {
  for (DType dt : {kF32, kF16, kBF16}) {
    const std::vector<float> x = {1, 2, 3, 4}, r = {0.5f, -1, 0, 1}, w = {1, 2, 1, 1};
    auto [y, sum] =
        ops::add_rms_norm(floats(x, {1, 4}, dt), floats(r, {1, 4}, dt), floats(w, {4}, dt), 0.f);
    const std::vector<float> s = {1.5f, 1, 3, 5};
    expect_near_all(to_floats(sum), s, 0.f);
    const float rms = std::sqrt((2.25f + 1 + 9 + 25) / 4);
    expect_near_all(to_floats(y), {1.5f / rms, 2 / rms, 3 / rms, 5 / rms}, tol(dt),
                    std::string(name(dt)));
  }
}

TEST(CpuOps, LayerNormByHandWithAndWithoutBias) {
  for (DType dt : {kF32, kF16, kBF16}) {
    const std::vector<float> x = {1, 2, 3, 4}, w = {1, 1, 2, 1}, b = {0, 1, 0, -1};
    const float eps = 1e-5f, inv = 1.f / std::sqrt(1.25f + eps);  // mean 2.5, var 1.25
    const Tensor xt = floats(x, {1, 4}, dt), wt = floats(w, {4}, dt);
    expect_near_all(to_floats(ops::layer_norm(xt, wt, floats(b, {4}, dt), eps)),
                    {-1.5f * inv, -0.5f * inv + 1, 1.f * inv, 1.5f * inv - 1}, tol(dt));
    expect_near_all(to_floats(ops::layer_norm(xt, wt, Tensor{}, eps)),
                    {-1.5f * inv, -0.5f * inv, 1.f * inv, 1.5f * inv}, tol(dt));
  }
}

TEST(CpuOps, LayerNormKeepsPrecisionUnderALargeMean) {
  std::mt19937 rng(2);
  const int64_t h = 4096;
  std::vector<float> x = random_values(h, rng);
  for (float& v : x) v += 10000.f;
  const std::vector<float> w(h, 1.f);
  const std::vector<float> y =
      to_floats(ops::layer_norm(floats(x, {1, h}), floats(w, {h}), Tensor{}, 0.f));
  double mean = 0, var = 0;
  for (float v : x) mean += v;
  mean /= h;
  for (float v : x) var += (v - mean) * (v - mean);
  var /= h;
  for (int64_t i = 0; i < h; ++i) ASSERT_NEAR(y[i], (x[i] - mean) / std::sqrt(var), 1e-4);
}

// ---------------------------------------------------------------- rope
TEST(CpuOps, RopeNeoxAndGptjByHand) {
  // D = 4, theta = 10000: inv_freq = {1, 0.01}; position 1.
  const std::vector<float> q = {1, 2, 3, 4}, k = {1, 0, 0, 1};
  const float c0 = std::cos(1.f), s0 = std::sin(1.f), c1 = std::cos(0.01f), s1 = std::sin(0.01f);
  {
    auto [qo, ko] = ops::rope(floats(q, {1, 1, 4}), floats(k, {1, 1, 4}), ints({1}, {1}),
                              rope_attrs(10000.f, RMA_ROPE_NEOX));
    // neox pairs (0, 2) at angle 1 and (1, 3) at angle 0.01.
    expect_near_all(to_floats(qo),
                    {1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1}, 1e-6f);
    expect_near_all(to_floats(ko), {c0, -s1, s0, c1}, 1e-6f);
  }
  {
    auto [qo, ko] = ops::rope(floats(q, {1, 1, 4}), floats(k, {1, 1, 4}), ints({1}, {1}),
                              rope_attrs(10000.f, RMA_ROPE_GPTJ));
    // gptj pairs (0, 1) at angle 1 and (2, 3) at angle 0.01.
    expect_near_all(to_floats(qo),
                    {1 * c0 - 2 * s0, 2 * c0 + 1 * s0, 3 * c1 - 4 * s1, 4 * c1 + 3 * s1}, 1e-6f);
    expect_near_all(to_floats(ko), {c0, s0, -s1, c1}, 1e-6f);
  }
}

// A double-precision rope for checking longer cases.
std::vector<float> rope_ref(const std::vector<float>& x, const std::vector<int64_t>& pos,
                            int64_t heads, int64_t d, int64_t r, bool gptj, double theta) {
  std::vector<float> y = x;
  for (size_t t = 0; t < pos.size(); ++t)
    for (int64_t i = 0; i < r / 2; ++i) {
      const float inv = static_cast<float>(std::pow(theta, -2.0 * i / r));
      const double a = double(pos[t]) * inv;
      const int64_t i0 = gptj ? 2 * i : i, i1 = gptj ? 2 * i + 1 : i + r / 2;
      for (int64_t h = 0; h < heads; ++h) {
        const float* v = x.data() + (t * heads + h) * d;
        float* o = y.data() + (t * heads + h) * d;
        o[i0] = static_cast<float>(v[i0] * std::cos(a) - v[i1] * std::sin(a));
        o[i1] = static_cast<float>(v[i1] * std::cos(a) + v[i0] * std::sin(a));
      }
    }
  return y;
}

TEST(CpuOps, RopeInPlacePartialRotaryLargePositions) {
  std::mt19937 rng(3);
  const int64_t t = 5, hq = 3, hkv = 1, d = 40, r = 36;
  const std::vector<int64_t> pos = {0, 7, 4095, 70000, 131071};
  for (bool gptj : {false, true}) {
    for (DType dt : {kF32, kBF16}) {
      const std::vector<float> q = random_values(t * hq * d, rng, dt);
      const std::vector<float> k = random_values(t * hkv * d, rng, dt);
      Tensor qt = floats(q, {t, hq, d}, dt), kt = floats(k, {t, hkv, d}, dt);
      const Tensor pt = Tensor::from_host(pos.data(), {t}, kI64, cpu());
      const rma_rope_attrs attrs =
          rope_attrs(500000.f, gptj ? RMA_ROPE_GPTJ : RMA_ROPE_NEOX, static_cast<int>(r));
      // In place: the outputs are the inputs.
      ops::run(RMA_OP_ROPE, {qt, kt, pt}, &attrs, {qt, kt});
      std::vector<float> want_q = rope_ref(q, pos, hq, d, r, gptj, 500000.0);
      std::vector<float> want_k = rope_ref(k, pos, hkv, d, r, gptj, 500000.0);
      for (float& v : want_q) v = round_to(dt, v);
      for (float& v : want_k) v = round_to(dt, v);
      const float e = dt == kF32 ? 2e-5f : 1.6e-2f;
      expect_near_all(to_floats(qt), want_q, e, gptj ? "gptj q" : "neox q");
      expect_near_all(to_floats(kt), want_k, e, gptj ? "gptj k" : "neox k");
    }
  }
}

TEST(CpuOps, RopeLinearScalingDividesThePosition) {
  rma_rope_attrs scaled = rope_attrs(10000.f);
  scaled.scaling = RMA_ROPE_SCALING_LINEAR;
  scaled.factor = 4.f;
  const std::vector<float> q = {1, 2, 3, 4};
  auto [a, ak] = ops::rope(floats(q, {1, 1, 4}), floats(q, {1, 1, 4}), ints({8}, {1}), scaled);
  auto [b, bk] =
      ops::rope(floats(q, {1, 1, 4}), floats(q, {1, 1, 4}), ints({2}, {1}), rope_attrs(10000.f));
  expect_near_all(to_floats(a), to_floats(b), 1e-6f);
}

// -------------------------------------------------------- fill_kv_cache
TEST(CpuOps, FillKvCacheScattersConvertsAndSkipsNegativeSlots) {
  // Cache: 3 blocks of 2 slots, Hkv = 1, D = 2, f16; k/v f32.
  Tensor kc = Tensor::zeros({3, 2, 1, 2}, kF16, cpu()),
         vc = Tensor::zeros({3, 2, 1, 2}, kF16, cpu());
  const Tensor k = floats({1, 2, 3, 4, 5, 6}, {3, 1, 2}),
               v = floats({-1, -2, -3, -4, -5, -6}, {3, 1, 2});
  ops::fill_kv_cache(k, v, ints({5, -1, 0}, {3}), kc, vc);
  expect_near_all(to_floats(kc), {5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2}, 0.f);
  expect_near_all(to_floats(vc), {-5, -6, 0, 0, 0, 0, 0, 0, 0, 0, -1, -2}, 0.f);

  const std::string msg = error_of([&] { ops::fill_kv_cache(k, v, ints({1, 6, 2}, {3}), kc, vc); });
  EXPECT_NE(msg.find("slot_mapping[1] = 6"), std::string::npos) << msg;
  // Nothing was written by the failed call.
  expect_near_all(to_floats(kc), {5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2}, 0.f);
}

TEST(CpuOps, FillKvCacheRepeatedSlotKeepsTheLastToken) {
  const int64_t t = 4000, d = 16;  // enough to be split across threads
  std::vector<float> kv(t * d);
  std::vector<int32_t> slots(t);
  for (int64_t i = 0; i < t; ++i) {
    std::fill_n(kv.begin() + i * d, d, static_cast<float>(i));
    slots[i] = static_cast<int32_t>(i % 7);
  }
  Tensor kc = Tensor::zeros({1, 8, 1, d}, kF32, cpu()),
         vc = Tensor::zeros({1, 8, 1, d}, kF32, cpu());
  const Tensor k = floats(kv, {t, 1, d});
  ops::fill_kv_cache(k, k, ints(slots, {t}), kc, vc);
  const std::vector<float> got = to_floats(vc);
  for (int s = 0; s < 7; ++s) {
    int64_t last = 0;
    for (int64_t i = 0; i < t; ++i)
      if (slots[i] == s) last = i;
    for (int64_t e = 0; e < d; ++e) ASSERT_EQ(got[s * d + e], static_cast<float>(last));
  }
  EXPECT_EQ(got[7 * d], 0.f);
}

// ------------------------------------------------------------ attention
struct AttnCase {
  std::vector<int32_t> seqlens;
  int64_t hq, hkv, d;
  bool causal;
  int window;
  bool alibi;
};

// Double-precision attention over packed sequences, as docs/ops.md states.
std::vector<float> attention_ref(const std::vector<float>& q, const std::vector<float>& k,
                                 const std::vector<float>& v, const AttnCase& c, float scale,
                                 const std::vector<float>& slopes) {
  const int64_t group = c.hq / c.hkv;
  int64_t tokens = 0;
  for (int32_t l : c.seqlens) tokens += l;
  std::vector<float> out(tokens * c.hq * c.d, 0.f);
  int64_t start = 0;
  for (int32_t len : c.seqlens) {
    for (int64_t i = 0; i < len; ++i)
      for (int64_t h = 0; h < c.hq; ++h) {
        const int64_t g = h / group;
        std::vector<double> s;
        std::vector<int64_t> keys;
        for (int64_t j = 0; j < len; ++j) {
          if (c.causal && j > i) continue;
          if (c.window > 0 && i - j >= c.window) continue;
          double dot = 0;
          for (int64_t e = 0; e < c.d; ++e)
            dot += double(q[((start + i) * c.hq + h) * c.d + e]) *
                   k[((start + j) * c.hkv + g) * c.d + e];
          s.push_back(scale * dot + (c.alibi ? slopes[h] * double(j - i) : 0.0));
          keys.push_back(j);
        }
        if (keys.empty()) continue;
        const double mx = *std::max_element(s.begin(), s.end());
        double den = 0;
        for (double& x : s) den += x = std::exp(x - mx);
        for (int64_t e = 0; e < c.d; ++e) {
          double acc = 0;
          for (size_t n = 0; n < keys.size(); ++n)
            acc += s[n] * v[((start + keys[n]) * c.hkv + g) * c.d + e];
          out[((start + i) * c.hq + h) * c.d + e] = static_cast<float>(acc / den);
        }
      }
    start += len;
  }
  return out;
}

TEST(CpuOps, PrefillAttentionByHand) {
  // One sequence of two tokens, D = 1: the first token sees only key 0; the
  // second weighs values 1 and 3 by softmax(0, 1).
  const Tensor q = floats({1, 1}, {2, 1, 1}), k = floats({0, 1}, {2, 1, 1}),
               v = floats({1, 3}, {2, 1, 1});
  const Tensor o = ops::prefill_attention(q, k, v, ints({0, 2}, {2}), attention_attrs(1.f, true));
  const float e = std::exp(1.f);
  expect_near_all(to_floats(o), {1.f, (1 + 3 * e) / (1 + e)}, 1e-6f);
}

TEST(CpuOps, PrefillAttentionGqaMasksAlibiAgainstDoubleLoop) {
  std::mt19937 rng(4);
  const std::vector<AttnCase> cases = {
      {{5, 70, 1}, 4, 2, 8, true, 0, false},    // GQA, sequences crossing key tiles
      {{130}, 6, 2, 20, true, 17, false},       // sliding window
      {{33, 9}, 2, 2, 16, false, 0, true},      // bidirectional with alibi
      {{100}, 8, 1, 12, true, 40, true},        // MQA, window and alibi
      {{3, 0, 66}, 3, 3, 5, false, 10, false},  // an empty sequence, window without causal
  };
  for (DType dt : {kF32, kF16}) {
    for (const AttnCase& c : cases) {
      int64_t tokens = 0;
      std::vector<int32_t> cu = {0};
      for (int32_t l : c.seqlens) cu.push_back(static_cast<int32_t>(tokens += l));
      const std::vector<float> q = random_values(tokens * c.hq * c.d, rng, dt);
      const std::vector<float> k = random_values(tokens * c.hkv * c.d, rng, dt);
      const std::vector<float> v = random_values(tokens * c.hkv * c.d, rng, dt);
      std::vector<float> slopes(c.hq);
      for (int64_t h = 0; h < c.hq; ++h) slopes[h] = std::pow(2.f, -float(h + 1));
      const float scale = 1.f / std::sqrt(float(c.d));
      const Tensor o = ops::prefill_attention(
          floats(q, {tokens, c.hq, c.d}, dt), floats(k, {tokens, c.hkv, c.d}, dt),
          floats(v, {tokens, c.hkv, c.d}, dt), ints(cu, {int64_t(cu.size())}),
          attention_attrs(scale, c.causal, c.window), c.alibi ? floats(slopes, {c.hq}) : Tensor{});
      expect_near_all(to_floats(o), attention_ref(q, k, v, c, scale, slopes),
                      dt == kF32 ? 1e-5f : 2e-3f,
                      std::string(name(dt)) + " case with T = " + std::to_string(tokens));
    }
  }
}

TEST(CpuOps, PrefillAttentionRejectsBadCuSeqlens) {
  const Tensor q = floats({1, 1, 1}, {3, 1, 1});
  const std::string msg = error_of([&] {
    ops::prefill_attention(q, q, q, ints({0, 2, 1, 3}, {4}), attention_attrs(1.f));
  });
  EXPECT_NE(msg.find("cu_seqlens"), std::string::npos) << msg;
}

// Paged decode of the last token of each sequence equals the prefill
// output at that token: the caches are filled through fill_kv_cache with a
// shuffled block table.
TEST(CpuOps, PagedDecodeMatchesPrefillOfTheLastToken) {
  std::mt19937 rng(5);
  struct DecodeCase {
    std::vector<int32_t> lens;
    int64_t hq, hkv, d, block_size;
    int window;
    bool alibi;
    DType dt, cache_dt;
  };
  const std::vector<DecodeCase> cases = {
      {{7, 1, 40}, 8, 2, 16, 4, 0, false, kF32, kF32},   // GQA, several blocks
      {{600}, 4, 1, 32, 16, 0, false, kF32, kF32},       // one pair: context split
      {{33, 70}, 4, 4, 24, 8, 20, true, kF16, kF16},     // window and alibi
      {{1000, 5}, 6, 3, 20, 16, 0, false, kBF16, kF16},  // cache dtype differs from q
  };
  for (const DecodeCase& c : cases) {
    const int64_t batch = static_cast<int64_t>(c.lens.size());
    int64_t tokens = 0, max_blocks = 0;
    std::vector<int32_t> cu = {0};
    for (int32_t l : c.lens) {
      cu.push_back(static_cast<int32_t>(tokens += l));
      max_blocks = std::max<int64_t>(max_blocks, (l + c.block_size - 1) / c.block_size);
    }
    const std::vector<float> q = random_values(tokens * c.hq * c.d, rng, c.dt);
    const std::vector<float> k = random_values(tokens * c.hkv * c.d, rng, c.dt);
    const std::vector<float> v = random_values(tokens * c.hkv * c.d, rng, c.dt);
    std::vector<float> slopes(c.hq);
    for (int64_t h = 0; h < c.hq; ++h) slopes[h] = 0.1f * float(h + 1);
    const Tensor alibi = c.alibi ? floats(slopes, {c.hq}) : Tensor{};
    const rma_attention_attrs attrs = attention_attrs(0.3f, true, c.window);

    const Tensor kt = floats(k, {tokens, c.hkv, c.d}, c.dt),
                 vt = floats(v, {tokens, c.hkv, c.d}, c.dt);
    const std::vector<float> ref = to_floats(ops::prefill_attention(
        floats(q, {tokens, c.hq, c.d}, c.dt), kt, vt, ints(cu, {batch + 1}), attrs, alibi));

    // Shuffled physical blocks; unused table entries point nowhere (-1).
    const int64_t num_blocks = batch * max_blocks + 3;
    std::vector<int32_t> perm(num_blocks);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<int32_t> table(batch * max_blocks, -1), slots(tokens);
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t e = 0; e < (c.lens[b] + c.block_size - 1) / c.block_size; ++e)
        table[b * max_blocks + e] = perm[b * max_blocks + e];
      for (int64_t j = 0; j < c.lens[b]; ++j)
        slots[cu[b] + j] = static_cast<int32_t>(
            table[b * max_blocks + j / c.block_size] * c.block_size + j % c.block_size);
    }
    Tensor kc = Tensor::zeros({num_blocks, c.block_size, c.hkv, c.d}, c.cache_dt, cpu());
    Tensor vc = Tensor::zeros({num_blocks, c.block_size, c.hkv, c.d}, c.cache_dt, cpu());
    ops::fill_kv_cache(kt, vt, ints(slots, {tokens}), kc, vc);

    std::vector<float> qd(batch * c.hq * c.d), want(batch * c.hq * c.d);
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t last = cu[b + 1] - 1;
      std::copy_n(q.begin() + last * c.hq * c.d, c.hq * c.d, qd.begin() + b * c.hq * c.d);
      std::copy_n(ref.begin() + last * c.hq * c.d, c.hq * c.d, want.begin() + b * c.hq * c.d);
    }
    const Tensor o = ops::paged_decode_attention(floats(qd, {batch, c.hq, c.d}, c.dt), kc, vc,
                                                 ints(table, {batch, max_blocks}),
                                                 ints(c.lens, {batch}), attrs, alibi);
    // The f16 cache rounds k and v once more when q is bf16.
    expect_near_all(to_floats(o), want, c.dt == kF32 ? 1e-5f : 2e-2f,
                    "decode case with " + std::to_string(batch) + " sequences");
  }
}

TEST(CpuOps, PagedDecodeEmptyContextGivesZerosAndBadTablesFail) {
  Tensor kc = Tensor::zeros({2, 4, 1, 2}, kF32, cpu()),
         vc = Tensor::zeros({2, 4, 1, 2}, kF32, cpu());
  const Tensor q = floats({1, 2, 3, 4}, {2, 1, 2});
  const Tensor o = ops::paged_decode_attention(q, kc, vc, ints({0, 1, -1, -1}, {2, 2}),
                                               ints({0, 0}, {2}), attention_attrs(1.f));
  expect_near_all(to_floats(o), {0, 0, 0, 0}, 0.f);
  std::string msg = error_of([&] {
    ops::paged_decode_attention(q, kc, vc, ints({0, 1, 0, 7}, {2, 2}), ints({8, 5}, {2}),
                                attention_attrs(1.f));
  });
  EXPECT_NE(msg.find("block_table[1, 1] = 7"), std::string::npos) << msg;
  msg = error_of([&] {
    ops::paged_decode_attention(q, kc, vc, ints({0, 1, 0, 1}, {2, 2}), ints({9, 1}, {2}),
                                attention_attrs(1.f));
  });
  EXPECT_NE(msg.find("context_lens[0] = 9"), std::string::npos) << msg;
}

// ----------------------------------------------------------- activations
TEST(CpuOps, SiluAndGeluAndMulByHand) {
  const std::vector<float> x = {1, -1, 0.5f, -30, 2, 3, 4, 5};  // gate | up, I = 4
  auto silu = [](double g) { return g / (1 + std::exp(-g)); };
  auto gelu = [](double g) { return 0.5 * g * (1 + std::erf(g / std::numbers::sqrt2)); };
  auto gelu_tanh = [](double g) {
    return 0.5 * g * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (g + 0.044715 * g * g * g)));
  };
  std::vector<float> ws(4), we(4), wt(4);
  for (int i = 0; i < 4; ++i) {
    ws[i] = static_cast<float>(silu(x[i]) * x[4 + i]);
    we[i] = static_cast<float>(gelu(x[i]) * x[4 + i]);
    wt[i] = static_cast<float>(gelu_tanh(x[i]) * x[4 + i]);
  }
  for (DType dt : {kF32, kF16, kBF16}) {
    const Tensor xt = floats(x, {1, 8}, dt);
    expect_near_all(to_floats(ops::silu_and_mul(xt)), ws, tol(dt), "silu");
    expect_near_all(to_floats(ops::gelu_and_mul(xt)), we, tol(dt), "gelu");
    expect_near_all(to_floats(ops::gelu_and_mul(xt, true)), wt, tol(dt), "gelu tanh");
  }
}

TEST(CpuOps, ActivationsOverLongRowsAndTails) {
  std::mt19937 rng(6);
  const int64_t rows = 3, i = 77;
  const std::vector<float> x = random_values(rows * 2 * i, rng, kF32, 8.f);
  const std::vector<float> s = to_floats(ops::silu_and_mul(floats(x, {rows, 2 * i})));
  const std::vector<float> g = to_floats(ops::gelu_and_mul(floats(x, {rows, 2 * i})));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t n = 0; n < i; ++n) {
      const double a = x[r * 2 * i + n], u = x[r * 2 * i + i + n];
      ASSERT_NEAR(s[r * i + n], a / (1 + std::exp(-a)) * u, 1e-5 * (1 + std::fabs(a * u)));
      ASSERT_NEAR(g[r * i + n], 0.5 * a * (1 + std::erf(a / std::numbers::sqrt2)) * u,
                  1e-5 * (1 + std::fabs(a * u)));
    }
}

// ------------------------------------------------------------ embedding
TEST(CpuOps, EmbeddingFloatAndQuantizedTables) {
  std::mt19937 rng(7);
  const int64_t vocab = 5, h = 256;
  const std::vector<float> table = random_values(vocab * h, rng);
  const std::vector<int32_t> ids = {4, 0, 4, 2};
  // Float table: rows copied.
  for (DType dt : {kF32, kF16, kBF16}) {
    const std::vector<float> y =
        to_floats(ops::embedding(ints(ids, {4}), floats(table, {vocab, h}, dt)));
    for (size_t t = 0; t < ids.size(); ++t)
      for (int64_t e = 0; e < h; ++e) ASSERT_EQ(y[t * h + e], round_to(dt, table[ids[t] * h + e]));
  }
  // Quantized tables: rows decoded exactly as rma::dequantize_row.
  for (DType qt : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ4_K, DType::kQ6_K}) {
    std::vector<uint8_t> packed(bytes_for(qt, vocab * h));
    quantize_row(qt, table.data(), packed.data(), vocab * h);
    std::vector<float> decoded(vocab * h);
    dequantize_row(qt, packed.data(), decoded.data(), vocab * h);
    const Tensor tt = Tensor::from_host(packed.data(), {vocab, h}, qt, cpu());
    const std::vector<float> y = to_floats(ops::embedding(ints(ids, {4}), tt));
    for (size_t t = 0; t < ids.size(); ++t)
      for (int64_t e = 0; e < h; ++e)
        ASSERT_EQ(y[t * h + e], decoded[ids[t] * h + e]) << name(qt) << " id " << ids[t];
    const std::vector<float> yh = to_floats(ops::embedding(ints(ids, {4}), tt, kBF16));
    for (size_t t = 0; t < ids.size(); ++t)
      ASSERT_EQ(yh[t * h], round_to(kBF16, decoded[ids[t] * h])) << name(qt);
  }
}

TEST(CpuOps, EmbeddingIdOutOfRangeNamesIdAndPosition) {
  const Tensor table = floats(std::vector<float>(6, 1.f), {3, 2});
  const std::vector<int64_t> ids = {0, 2, 3};
  const Tensor it = Tensor::from_host(ids.data(), {3}, kI64, cpu());
  const std::string msg = error_of([&] { ops::embedding(it, table); });
  EXPECT_NE(msg.find("id 3 at position 2"), std::string::npos) << msg;
}

// --------------------------------------------------------------- gating
TEST(CpuOps, MoeGatingTopkTiesGoToTheLowerExpert) {
  const std::vector<float> logits = {1, 3, 2, 3, 0, 0, 0, 5};
  for (bool renorm : {false, true}) {
    auto [w, ids] = ops::moe_gating_topk_softmax(floats(logits, {2, 4}), 2, renorm);
    EXPECT_EQ(ids.to_vector<int32_t>(), (std::vector<int32_t>{1, 3, 3, 0}));
    const double z0 = std::exp(1.0) + 2 * std::exp(3.0) + std::exp(2.0);
    const double z1 = 3 + std::exp(5.0);
    std::vector<float> want = {float(std::exp(3.0) / z0), float(std::exp(3.0) / z0),
                               float(std::exp(5.0) / z1), float(1 / z1)};
    if (renorm)
      want = {0.5f, 0.5f, float(std::exp(5.0) / (std::exp(5.0) + 1)),
              float(1 / (std::exp(5.0) + 1))};
    expect_near_all(w.to_vector<float>(), want, 1e-6f);
  }
}

// --------------------------------------------------------------- sample
// uniform(seed, b) of docs/ops.md.
double uniform_ref(uint64_t seed, int64_t b) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 40) * 0x1p-24;
}

TEST(CpuOps, SampleGreedyTakesTheFirstMaximum) {
  const Tensor l = floats({0, 5, 5, 1, NAN, -1, -2, -3}, {2, 4});
  EXPECT_EQ(ops::sample(l, sample_attrs()).to_vector<int32_t>(), (std::vector<int32_t>{1, 1}));
  // Repetition penalty 10: token 1 of row 0 (positive: divided) leaves 2 the
  // first max; token 3 of row 1 (negative: multiplied) changes nothing.
  const Tensor prev = ints({1, -1, 3, 3}, {2, 2});
  EXPECT_EQ(ops::sample(l, sample_attrs(0.f, 0, 1.f, 0.f, 10.f), prev).to_vector<int32_t>(),
            (std::vector<int32_t>{2, 1}));
}

TEST(CpuOps, SampleSeededFollowsTheDocumentedDraw) {
  // Logits 0, 1, 2 at temperature 1: candidates 2, 1, 0 with softmax probs;
  // the pick is the first whose cumulative prob exceeds u * 1.
  const std::vector<float> logits = {0, 1, 2};
  double e[3] = {1.0, std::exp(-1.0), std::exp(-2.0)};
  const double sum = e[0] + e[1] + e[2];
  float p[3];
  for (int i = 0; i < 3; ++i) p[i] = static_cast<float>(e[i] / sum);
  for (uint64_t seed : {0ull, 1ull, 42ull, 1234567ull, 0xFFFFFFFFFFFFull}) {
    const double u = uniform_ref(seed, 0);
    const double target = u * (double(p[0]) + double(p[1]) + double(p[2]));
    const int32_t want = target < p[0] ? 2 : target < double(p[0]) + p[1] ? 1 : 0;
    const Tensor ids =
        ops::sample(floats(logits, {1, 3}), sample_attrs(1.f, 0, 1.f, 0.f, 1.f, seed));
    EXPECT_EQ(ids.to_vector<int32_t>()[0], want) << "seed " << seed << " u " << u;
    // top_k = 1 always takes the maximum.
    EXPECT_EQ(ops::sample(floats(logits, {1, 3}), sample_attrs(1.f, 1, 1.f, 0.f, 1.f, seed))
                  .to_vector<int32_t>()[0],
              2);
  }
  // top_p = 0.5: prob[0] = 0.665 alone reaches it, so 2 whatever the seed;
  // min_p = 0.5 keeps 2 and drops 1 (0.245 < 0.33) and 0.
  for (uint64_t seed = 0; seed < 20; ++seed) {
    EXPECT_EQ(ops::sample(floats(logits, {1, 3}), sample_attrs(1.f, 0, 0.5f, 0.f, 1.f, seed))
                  .to_vector<int32_t>()[0],
              2);
    EXPECT_EQ(ops::sample(floats(logits, {1, 3}), sample_attrs(1.f, 0, 1.f, 0.5f, 1.f, seed))
                  .to_vector<int32_t>()[0],
              2);
  }
}

// A straight transcription of docs/ops.md "sample" for one row.
int32_t sample_row_ref(std::vector<float> l, const rma_sample_attrs& a, int64_t b) {
  for (float& v : l)
    if (std::isnan(v)) v = -INFINITY;
  if (a.temperature <= 0)
    return static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
  for (float& v : l) v /= a.temperature;
  std::vector<int32_t> cand(l.size());
  std::iota(cand.begin(), cand.end(), 0);
  std::stable_sort(cand.begin(), cand.end(), [&](int32_t x, int32_t y) { return l[x] > l[y]; });
  if (a.top_k > 0 && a.top_k < static_cast<int>(l.size())) cand.resize(a.top_k);
  const float top = l[cand[0]];
  std::vector<double> e(cand.size());
  double sum = 0;
  for (size_t n = 0; n < cand.size(); ++n)
    sum += e[n] = l[cand[n]] == top ? 1.0 : std::exp(double(l[cand[n]] - top));
  std::vector<float> prob(cand.size());
  for (size_t n = 0; n < cand.size(); ++n) prob[n] = static_cast<float>(e[n] / sum);
  size_t kept = prob.size();
  if (a.top_p < 1) {
    double cum = 0;
    for (size_t n = 0; n < prob.size(); ++n)
      if ((cum += prob[n]) >= a.top_p) {
        kept = n + 1;
        break;
      }
  }
  std::vector<size_t> keep = {0};
  for (size_t n = 1; n < kept; ++n)
    if (!(a.min_p > 0 && prob[n] < a.min_p * prob[0])) keep.push_back(n);
  double ks = 0;
  for (size_t n : keep) ks += prob[n];
  const double target = uniform_ref(a.seed, b) * ks;
  double cum = 0;
  for (size_t n : keep)
    if ((cum += prob[n]) > target) return cand[n];
  return cand[keep.back()];
}

TEST(CpuOps, SampleLargeVocabularyMatchesTheTranscription) {
  std::mt19937 rng(8);
  const int64_t batch = 3, vocab = 50000;
  std::vector<float> logits = random_values(batch * vocab, rng, kF32, 6.f);
  for (int i = 0; i < 300; ++i) logits[rng() % logits.size()] = 4.f;  // exact ties
  const rma_sample_attrs settings[] = {
      sample_attrs(0.8f, 0, 1.f, 0.f, 1.f, 11), sample_attrs(1.f, 40, 1.f, 0.f, 1.f, 12),
      sample_attrs(0.7f, 0, 0.9f, 0.f, 1.f, 13), sample_attrs(1.3f, 100, 0.95f, 0.05f, 1.f, 14),
      sample_attrs(1.f, 0, 0.99f, 0.001f, 1.f, 15)};
  for (const rma_sample_attrs& a : settings) {
    const std::vector<int32_t> got =
        ops::sample(floats(logits, {batch, vocab}), a).to_vector<int32_t>();
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<float> row(logits.begin() + b * vocab, logits.begin() + (b + 1) * vocab);
      EXPECT_EQ(got[b], sample_row_ref(row, a, b)) << "row " << b << " top_k " << a.top_k;
    }
  }
}

// -------------------------------------------------------------- softmax
TEST(CpuOps, SoftmaxByHandAndLongRows) {
  for (DType dt : {kF32, kF16, kBF16}) {
    const double z = 1 + std::exp(1.0) + std::exp(2.0);
    expect_near_all(to_floats(ops::softmax(floats({0, 1, 2}, {1, 3}, dt))),
                    {float(1 / z), float(std::exp(1.0) / z), float(std::exp(2.0) / z)}, tol(dt));
  }
  std::mt19937 rng(9);
  const int64_t n = 100003;
  const std::vector<float> x = random_values(n, rng, kF32, 20.f);
  const std::vector<float> y = to_floats(ops::softmax(floats(x, {1, n})));
  const double mx = *std::max_element(x.begin(), x.end());
  double sum = 0;
  for (float v : x) sum += std::exp(v - mx);
  for (int64_t i = 0; i < n; i += 997)
    ASSERT_NEAR(y[i], std::exp(x[i] - mx) / sum, 1e-5 * y[i] + 1e-12);
}

// ---------------------------------------------------------------- empty
TEST(CpuOps, EmptyInputsRunAndReturnEmptyOutputs) {
  const Tensor x0 = Tensor::empty({0, 8}, kF32, cpu()), w = floats(std::vector<float>(8, 1.f), {8});
  EXPECT_EQ(ops::rms_norm(x0, w, 1e-5f).numel(), 0);
  EXPECT_EQ(ops::add_rms_norm(x0, x0, w, 1e-5f).first.numel(), 0);
  EXPECT_EQ(ops::layer_norm(x0, w, Tensor{}, 1e-5f).numel(), 0);
  EXPECT_EQ(ops::silu_and_mul(x0).numel(), 0);
  EXPECT_EQ(ops::gelu_and_mul(x0).numel(), 0);
  EXPECT_EQ(ops::softmax(x0).numel(), 0);
  const Tensor q0 = Tensor::empty({0, 2, 4}, kF16, cpu()),
               k0 = Tensor::empty({0, 1, 4}, kF16, cpu());
  const Tensor p0 = Tensor::empty({0}, kI32, cpu());
  EXPECT_EQ(ops::rope(q0, k0, p0, rope_attrs()).first.numel(), 0);
  // Tokens but no query heads.
  const Tensor qh0 = Tensor::empty({2, 0, 4}, kF32, cpu());
  EXPECT_EQ(ops::rope(qh0, floats(std::vector<float>(8, 1.f), {2, 1, 4}), ints({0, 1}, {2}),
                      rope_attrs())
                .second.numel(),
            8);
  EXPECT_EQ(ops::prefill_attention(q0, k0, k0, ints({0}, {1}), attention_attrs(0.5f)).numel(), 0);
  Tensor kc = Tensor::zeros({1, 4, 1, 4}, kF16, cpu()),
         vc = Tensor::zeros({1, 4, 1, 4}, kF16, cpu());
  ops::fill_kv_cache(k0, k0, p0, kc, vc);
  EXPECT_EQ(ops::paged_decode_attention(q0, kc, vc, Tensor::empty({0, 1}, kI32, cpu()), p0,
                                        attention_attrs(0.5f))
                .numel(),
            0);
  EXPECT_EQ(ops::embedding(p0, w.reshape({2, 4})).numel(), 0);
  EXPECT_EQ(ops::moe_gating_topk_softmax(Tensor::empty({0, 4}, kF32, cpu()), 2, true).first.numel(),
            0);
  EXPECT_EQ(ops::sample(Tensor::empty({0, 4}, kF32, cpu()), sample_attrs()).numel(), 0);
}

}  // namespace
}  // namespace rma
