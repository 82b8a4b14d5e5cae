// Reference ops on small cases worked out by hand (docs/ops.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <numbers>
#include <string>
#include <vector>

#include "ops/reference/reference.h"
#include "rma/error.h"
#include "rma/half.h"
#include "rma/quant.h"

namespace rma {
namespace {

using Shape = std::vector<int64_t>;

// A dense tensor in host memory, handed to the reference as an rma_tensor.
class HostTensor {
 public:
  HostTensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
    // At least one byte, so even an empty tensor has a real address.
    storage_.resize(static_cast<size_t>(std::max<int64_t>(1, bytes_for(dtype_, count()))));
  }
  // Float or quantized contents (quantized with quantize_row).
  static HostTensor of(DType dtype, Shape shape, const std::vector<float>& values) {
    HostTensor t(dtype, std::move(shape));
    EXPECT_EQ(static_cast<int64_t>(values.size()), t.count());
    if (!values.empty()) quantize_row(dtype, values.data(), t.storage_.data(), t.count());
    return t;
  }
  static HostTensor ints(DType dtype, Shape shape, const std::vector<int64_t>& values) {
    HostTensor t(dtype, std::move(shape));
    EXPECT_EQ(static_cast<int64_t>(values.size()), t.count());
    reference::write_ints(t.abi(), values);
    return t;
  }

  rma_tensor abi() {
    rma_tensor t{};
    t.struct_size = sizeof(rma_tensor);
    t.abi_version = RMA_ABI_VERSION;
    t.dtype = static_cast<int32_t>(dtype_);
    t.ndim = static_cast<int32_t>(shape_.size());
    int64_t stride = 1;
    for (int i = t.ndim - 1; i >= 0; --i) {
      t.shape[i] = shape_[i];
      t.strides[i] = stride;
      stride *= shape_[i];
    }
    t.data = storage_.data();
    return t;
  }
  std::vector<float> floats() { return reference::read_floats(abi()); }
  std::vector<int64_t> values() { return reference::read_ints(abi()); }
  int64_t count() const {
    int64_t n = 1;
    for (int64_t d : shape_) n *= d;
    return n;
  }

 private:
  DType dtype_;
  Shape shape_;
  std::vector<uint8_t> storage_;
};

HostTensor f32(Shape shape, const std::vector<float>& values) {
  return HostTensor::of(DType::kF32, std::move(shape), values);
}
HostTensor i32(Shape shape, const std::vector<int64_t>& values) {
  return HostTensor::ints(DType::kI32, std::move(shape), values);
}

// Runs `op`; a null input stands for an absent optional tensor.
void run_op(rma_op op, std::initializer_list<HostTensor*> inputs,
            std::initializer_list<HostTensor*> outputs, const void* attrs = nullptr) {
  std::vector<rma_tensor> in, out;
  for (HostTensor* t : inputs) {
    if (t) {
      in.push_back(t->abi());
    } else {
      rma_tensor absent{};
      absent.ndim = -1;
      in.push_back(absent);
    }
  }
  for (HostTensor* t : outputs) out.push_back(t->abi());
  rma_op_call call{};
  call.struct_size = sizeof(call);
  call.abi_version = RMA_ABI_VERSION;
  call.op = op;
  call.num_inputs = static_cast<int32_t>(in.size());
  call.inputs = in.data();
  call.num_outputs = static_cast<int32_t>(out.size());
  call.outputs = out.data();
  call.attrs = attrs;
  reference::run(call);
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

rma_linear_attrs linear_attrs(int32_t act = RMA_ACT_NONE, bool trans_a = false, bool trans_b = true,
                              float alpha = 1.f, float param = 0.f) {
  return {sizeof(rma_linear_attrs), RMA_ABI_VERSION, trans_a, trans_b, act, param, alpha,
          RMA_PRECISION_ACCURATE};
}
rma_norm_attrs norm_attrs(float eps) { return {sizeof(rma_norm_attrs), RMA_ABI_VERSION, eps}; }
rma_rope_attrs rope_attrs(int32_t style, int32_t rotary_dim, float theta,
                          int32_t scaling = RMA_ROPE_SCALING_NONE, float factor = 1.f) {
  return {sizeof(rma_rope_attrs),
          RMA_ABI_VERSION,
          style,
          rotary_dim,
          theta,
          scaling,
          factor,
          1.f,
          4.f,
          8192};
}
rma_attention_attrs attention_attrs(float scale, bool causal, int32_t window = 0) {
  return {sizeof(rma_attention_attrs), RMA_ABI_VERSION, scale, causal, window};
}
rma_sample_attrs sample_attrs(float temperature, uint64_t seed = 0, int32_t top_k = 0,
                              float top_p = 1.f, float min_p = 0.f, float penalty = 1.f) {
  return {
      sizeof(rma_sample_attrs), RMA_ABI_VERSION, temperature, top_k, top_p, min_p, penalty, seed};
}

template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  ADD_FAILURE() << "expected an rma::Error";
  return {};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

const float kLn2 = std::log(2.f);
const float kLn3 = std::log(3.f);

// ------------------------------------------------------------------ linear

// x = [[1,2,3],[4,5,6]], w = [[1,0,-1],[.5,.5,.5]], bias = [10,20]:
// x.wT = [[-2,3],[-2,7.5]], plus bias = [[8,23],[8,27.5]].
TEST(ReferenceLinear, TwoByThreeByHand) {
  auto x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto w = f32({2, 3}, {1, 0, -1, 0.5f, 0.5f, 0.5f});
  auto bias = f32({2}, {10, 20});
  auto y = f32({2, 2}, {0, 0, 0, 0});
  const auto attrs = linear_attrs();
  run_op(RMA_OP_LINEAR, {&x, &w, &bias}, {&y}, &attrs);
  expect_near(y.floats(), {8, 23, 8, 27.5f});

  // The same product with w stored [K,N] and with x stored [K,T].
  auto w_kn = f32({3, 2}, {1, 0.5f, 0, 0.5f, -1, 0.5f});
  const auto no_trans_b = linear_attrs(RMA_ACT_NONE, false, false);
  run_op(RMA_OP_LINEAR, {&x, &w_kn, &bias}, {&y}, &no_trans_b);
  expect_near(y.floats(), {8, 23, 8, 27.5f});

  auto x_kt = f32({3, 2}, {1, 4, 2, 5, 3, 6});
  const auto trans_a = linear_attrs(RMA_ACT_NONE, true, true);
  run_op(RMA_OP_LINEAR, {&x_kt, &w, &bias}, {&y}, &trans_a);
  expect_near(y.floats(), {8, 23, 8, 27.5f});
}

TEST(ReferenceLinear, AlphaActivationLeadingDimsAndF16) {
  auto x = f32({2, 1, 3}, {1, 2, 3, 4, 5, 6});
  auto w = f32({2, 3}, {1, 0, -1, 0.5f, 0.5f, 0.5f});
  auto y = f32({2, 1, 2}, {0, 0, 0, 0});
  // alpha 2, no bias: 2 * [[-2,3],[-2,7.5]] then relu / leaky relu.
  const auto relu = linear_attrs(RMA_ACT_RELU, false, true, 2.f);
  run_op(RMA_OP_LINEAR, {&x, &w, nullptr}, {&y}, &relu);
  expect_near(y.floats(), {0, 6, 0, 15});
  const auto leaky = linear_attrs(RMA_ACT_LEAKY_RELU, false, true, 2.f, 0.1f);
  run_op(RMA_OP_LINEAR, {&x, &w, nullptr}, {&y}, &leaky);
  expect_near(y.floats(), {-0.4f, 6, -0.4f, 15});

  auto xh = HostTensor::of(DType::kF16, {2, 3}, {1, 2, 3, 4, 5, 6});
  auto wh = HostTensor::of(DType::kF16, {2, 3}, {1, 0, -1, 0.5f, 0.5f, 0.5f});
  auto bh = HostTensor::of(DType::kF16, {2}, {10, 20});
  auto yh = HostTensor::of(DType::kF16, {2, 2}, {0, 0, 0, 0});
  const auto plain = linear_attrs();
  run_op(RMA_OP_LINEAR, {&xh, &wh, &bh}, {&yh}, &plain);
  EXPECT_EQ(yh.floats(), (std::vector<float>{8, 23, 8, 27.5f}));
}

TEST(ReferenceLinear, Activations) {
  struct Case {
    int32_t act;
    double at_one;  // act(1)
  };
  const Case cases[] = {{RMA_ACT_GELU, 0.8413447460685429},
                        {RMA_ACT_GELU_TANH, 0.8411919906082768},
                        {RMA_ACT_SILU, 0.7310585786300049},
                        {RMA_ACT_SIGMOID, 0.7310585786300049},
                        {RMA_ACT_TANH, 0.7615941559557649}};
  auto x = f32({1, 1}, {1});
  auto w = f32({1, 1}, {1});
  auto y = f32({1, 1}, {0});
  for (const Case& c : cases) {
    const auto attrs = linear_attrs(c.act);
    run_op(RMA_OP_LINEAR, {&x, &w, nullptr}, {&y}, &attrs);
    EXPECT_NEAR(y.floats()[0], c.at_one, 1e-6) << "activation " << c.act;
  }
}

TEST(ReferenceLinear, QuantLinearDequantizesWeights) {
  // q8_0 rows with amax 127 have d = 1 exactly: the weights survive as is.
  std::vector<float> wv(2 * 32);
  for (int k = 0; k < 32; ++k) {
    wv[k] = static_cast<float>(k % 3 - 1);
    wv[32 + k] = static_cast<float>(k);
  }
  wv[0] = 127.f;
  wv[32] = -127.f;
  std::vector<float> xv(32, 1.f);
  xv[1] = 2.f;
  auto x = f32({1, 32}, xv);
  auto w = HostTensor::of(DType::kQ8_0, {2, 32}, wv);
  auto y = f32({1, 2}, {0, 0});
  const auto attrs = linear_attrs();
  run_op(RMA_OP_QUANT_LINEAR, {&x, &w, nullptr}, {&y}, &attrs);
  // Row 0: 127 + 2*0 + sum_{k>=2} (k%3 - 1) = 127 + 0 = 127 (k = 2..31 sums to 0).
  // Row 1: -127 + 2*1 + sum_{k=2..31} k = -127 + 2 + 495 = 370.
  expect_near(y.floats(), {127, 370});

  // Any quantized type gives linear over dequantize_row's weights.
  std::vector<float> wr(2 * 256);
  for (size_t i = 0; i < wr.size(); ++i) wr[i] = std::sin(0.37f * static_cast<float>(i));
  std::vector<float> xr(256);
  for (size_t i = 0; i < xr.size(); ++i) xr[i] = std::cos(0.11f * static_cast<float>(i));
  auto xq = f32({1, 256}, xr);
  for (DType dt : {DType::kQ4_0, DType::kQ4_1, DType::kQ4_K, DType::kQ6_K}) {
    auto wq = HostTensor::of(dt, {2, 256}, wr);
    auto wf = f32({2, 256}, wq.floats());
    auto yq = f32({1, 2}, {0, 0});
    auto yf = f32({1, 2}, {0, 0});
    run_op(RMA_OP_QUANT_LINEAR, {&xq, &wq, nullptr}, {&yq}, &attrs);
    run_op(RMA_OP_LINEAR, {&xq, &wf, nullptr}, {&yf}, &attrs);
    EXPECT_EQ(yq.floats(), yf.floats()) << name(dt);
  }
}

// ------------------------------------------------------------------- norms

TEST(ReferenceNorm, RmsNorm) {
  auto x = f32({2, 2}, {3, 4, 0, 0});
  auto w = f32({2}, {1, 2});
  auto y = f32({2, 2}, {9, 9, 9, 9});
  const auto attrs = norm_attrs(1e-6f);
  run_op(RMA_OP_RMS_NORM, {&x, &w}, {&y}, &attrs);
  // mean(x^2) = 12.5 for the first row; the zero row stays zero.
  const float inv = 1.f / std::sqrt(12.5f + 1e-6f);
  expect_near(y.floats(), {3 * inv, 8 * inv, 0, 0});
}

TEST(ReferenceNorm, AddRmsNormUsesTheRoundedResidual) {
  // In f16, 1 + 2^-12 rounds to 1: the norm must see the stored sum.
  auto x = HostTensor::of(DType::kF16, {1, 2}, {1, 2});
  auto residual = HostTensor::of(DType::kF16, {1, 2}, {0x1p-12f, 0});
  auto w = HostTensor::of(DType::kF16, {2}, {1, 1});
  auto y = HostTensor::of(DType::kF16, {1, 2}, {0, 0});
  auto res_out = HostTensor::of(DType::kF16, {1, 2}, {0, 0});
  const auto attrs = norm_attrs(0.f);
  run_op(RMA_OP_ADD_RMS_NORM, {&x, &residual, &w}, {&y, &res_out}, &attrs);
  EXPECT_EQ(res_out.floats(), (std::vector<float>{1, 2}));
  const float inv = 1.f / std::sqrt(2.5f);
  expect_near(y.floats(), {f16_to_f32(f32_to_f16(inv)), f16_to_f32(f32_to_f16(2 * inv))}, 0.f);
}

TEST(ReferenceNorm, LayerNorm) {
  auto x = f32({1, 4}, {1, 2, 3, 4});
  auto w = f32({4}, {1, 1, 1, 2});
  auto b = f32({4}, {0, 0, 0, 1});
  auto y = f32({1, 4}, {0, 0, 0, 0});
  const auto attrs = norm_attrs(0.f);
  // mean 2.5, biased variance 1.25.
  const float s = 1.f / std::sqrt(1.25f);
  run_op(RMA_OP_LAYER_NORM, {&x, &w, &b}, {&y}, &attrs);
  expect_near(y.floats(), {-1.5f * s, -0.5f * s, 0.5f * s, 2 * 1.5f * s + 1});
  run_op(RMA_OP_LAYER_NORM, {&x, &w, nullptr}, {&y}, &attrs);
  expect_near(y.floats(), {-1.5f * s, -0.5f * s, 0.5f * s, 2 * 1.5f * s});
}

TEST(ReferenceSoftmax, Rows) {
  auto x = f32({2, 2}, {0, kLn3, 5, 5});
  auto y = f32({2, 2}, {0, 0, 0, 0});
  const rma_softmax_attrs attrs{sizeof(rma_softmax_attrs), RMA_ABI_VERSION, -1, 0};
  run_op(RMA_OP_SOFTMAX, {&x}, {&y}, &attrs);
  expect_near(y.floats(), {0.25f, 0.75f, 0.5f, 0.5f});
}

// -------------------------------------------------------------------- rope

// theta = 1 makes every inv_freq 1; linear scaling by 2/pi turns it into
// pi/2, so position 1 rotates each pair by 90 degrees: (x0, x1) -> (-x1, x0).
TEST(ReferenceRope, NinetyDegreeRotations) {
  const float factor = static_cast<float>(2.0 / std::numbers::pi);
  auto positions = HostTensor::ints(DType::kI64, {3}, {0, 1, 2});
  auto q = f32({3, 1, 4}, {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4});
  auto k = f32({3, 1, 4}, {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4});
  auto q_out = f32({3, 1, 4}, std::vector<float>(12));
  auto k_out = f32({3, 1, 4}, std::vector<float>(12));

  // neox pairs (0,2), (1,3); 180 degrees at position 2 negates.
  const auto neox = rope_attrs(RMA_ROPE_NEOX, 0, 1.f, RMA_ROPE_SCALING_LINEAR, factor);
  run_op(RMA_OP_ROPE, {&q, &k, &positions}, {&q_out, &k_out}, &neox);
  expect_near(q_out.floats(), {1, 2, 3, 4, -3, -4, 1, 2, -1, -2, -3, -4});
  expect_near(k_out.floats(), q_out.floats());

  // gptj pairs (0,1), (2,3).
  const auto gptj = rope_attrs(RMA_ROPE_GPTJ, 0, 1.f, RMA_ROPE_SCALING_LINEAR, factor);
  run_op(RMA_OP_ROPE, {&q, &k, &positions}, {&q_out, &k_out}, &gptj);
  expect_near(q_out.floats(), {1, 2, 3, 4, -2, 1, -4, 3, -1, -2, -3, -4});

  // Partial rotary_dim 2: only (0,1) turns; 2 and 3 pass through.
  const auto partial = rope_attrs(RMA_ROPE_NEOX, 2, 1.f, RMA_ROPE_SCALING_LINEAR, factor);
  run_op(RMA_OP_ROPE, {&q, &k, &positions}, {&q_out, &k_out}, &partial);
  expect_near(q_out.floats(), {1, 2, 3, 4, -2, 1, 3, 4, -1, -2, 3, 4});
}

TEST(ReferenceRope, OutputsMayAliasInputs) {
  const float factor = static_cast<float>(2.0 / std::numbers::pi);
  auto positions = i32({1}, {1});
  auto q = f32({1, 1, 4}, {1, 2, 3, 4});
  auto k = f32({1, 1, 4}, {5, 6, 7, 8});
  const auto attrs = rope_attrs(RMA_ROPE_GPTJ, 2, 1.f, RMA_ROPE_SCALING_LINEAR, factor);
  run_op(RMA_OP_ROPE, {&q, &k, &positions}, {&q, &k}, &attrs);
  expect_near(q.floats(), {-2, 1, 3, 4});
  expect_near(k.floats(), {-6, 5, 7, 8});
}

TEST(ReferenceRope, HeadsAndPlainFrequencies) {
  // D = 4, theta = 10000: inv_freq = [1, 0.01]; k has fewer heads than q.
  auto positions = i32({1}, {3});
  auto q = f32({1, 2, 4}, {1, 0, 0, 1, 0, 1, 1, 0});
  auto k = f32({1, 1, 4}, {1, 1, 1, 1});
  auto q_out = f32({1, 2, 4}, std::vector<float>(8));
  auto k_out = f32({1, 1, 4}, std::vector<float>(4));
  const auto attrs = rope_attrs(RMA_ROPE_NEOX, 0, 10000.f);
  run_op(RMA_OP_ROPE, {&q, &k, &positions}, {&q_out, &k_out}, &attrs);
  const float c0 = std::cos(3.f), s0 = std::sin(3.f);
  const float c1 = std::cos(0.03f), s1 = std::sin(0.03f);
  // Pair (0,2) at angle 3, pair (1,3) at angle 0.03.
  expect_near(q_out.floats(), {c0, -s1, s0, c1, -s0, c1, c0, s1});
  expect_near(k_out.floats(), {c0 - s0, c1 - s1, c0 + s0, c1 + s1});
}

TEST(ReferenceRope, Llama3Scaling) {
  // theta chosen so inv_freq[1] = 2*pi/50 (wavelength 50). With
  // original_max_position 100, low 1, high 4: lo = 100, hi = 25. Pair 0
  // (wavelength 2*pi) is kept; pair 1 is in the blend with s = (100/50 - 1)/3
  // = 1/3: inv = (2/3) f / 8 + f / 3 = f * 5/12.
  const double f1 = 2 * std::numbers::pi / 50;
  const float theta = static_cast<float>(1.0 / (f1 * f1));  // theta^(-1/2) = f1
  rma_rope_attrs attrs = rope_attrs(RMA_ROPE_NEOX, 0, theta, RMA_ROPE_SCALING_LLAMA3, 8.f);
  attrs.low_freq_factor = 1.f;
  attrs.high_freq_factor = 4.f;
  attrs.original_max_position = 100;
  auto positions = i32({1}, {7});
  auto q = f32({1, 1, 4}, {1, 1, 0, 0});
  auto k = f32({1, 1, 4}, {1, 1, 0, 0});
  auto q_out = f32({1, 1, 4}, std::vector<float>(4));
  auto k_out = f32({1, 1, 4}, std::vector<float>(4));
  run_op(RMA_OP_ROPE, {&q, &k, &positions}, {&q_out, &k_out}, &attrs);
  const double a0 = 7.0, a1 = 7.0 * f1 * 5.0 / 12.0;
  expect_near(q_out.floats(),
              {float(std::cos(a0)), float(std::cos(a1)), float(std::sin(a0)), float(std::sin(a1))},
              1e-5f);

  // Past lo the frequency is divided by factor: wavelength 2*pi/0.01 > 100.
  attrs.theta = 10000.f;
  run_op(RMA_OP_ROPE, {&q, &k, &positions}, {&q_out, &k_out}, &attrs);
  expect_near(q_out.floats(), {float(std::cos(7.0)), float(std::cos(7.0 * 0.01 / 8)),
                               float(std::sin(7.0)), float(std::sin(7.0 * 0.01 / 8))});
}

// ----------------------------------------------------------- fill_kv_cache

TEST(ReferenceFillKvCache, WritesMappedSlotsOnly) {
  // Cache [2 blocks, block_size 2, 1 head, D 2] in f16, prefilled with 9.
  auto k_cache = HostTensor::of(DType::kF16, {2, 2, 1, 2}, std::vector<float>(8, 9.f));
  auto v_cache = HostTensor::of(DType::kF16, {2, 2, 1, 2}, std::vector<float>(8, 9.f));
  auto k = f32({3, 1, 2}, {1, 2, 3, 4, 5, 6});
  auto v = f32({3, 1, 2}, {-1, -2, -3, -4, -5, -6});
  auto slots = HostTensor::ints(DType::kI64, {3}, {3, -1, 0});
  run_op(RMA_OP_FILL_KV_CACHE, {&k, &v, &slots}, {&k_cache, &v_cache});
  // Slot 3 = block 1 row 1 gets token 0; slot 0 gets token 2; token 1 skipped.
  EXPECT_EQ(k_cache.floats(), (std::vector<float>{5, 6, 9, 9, 9, 9, 1, 2}));
  EXPECT_EQ(v_cache.floats(), (std::vector<float>{-5, -6, 9, 9, 9, 9, -1, -2}));

  auto bad = HostTensor::ints(DType::kI32, {3}, {1, 4, 2});
  const std::string msg = error_of([&] {
    run_op(RMA_OP_FILL_KV_CACHE, {&k, &v, &bad}, {&k_cache, &v_cache});
  });
  EXPECT_TRUE(contains(msg, "4")) << msg;
  // Nothing was written before the bad slot was found.
  EXPECT_EQ(k_cache.floats(), (std::vector<float>{5, 6, 9, 9, 9, 9, 1, 2}));
}

// --------------------------------------------------------------- attention

// Two sequences (cu = [0, 1, 3]), Hq = 2 sharing one kv head, D = 2, scale 1.
// Sequence 1, token 2 (local 1) with q = [1, 0] scores keys [0,0] and
// [ln3, 0] as 0 and ln3: weights 1/4, 3/4 over v = [4,0], [0,8] -> [1, 6].
// Head 1 has q = 0: equal weights -> [2, 4].
struct PrefillCase {
  HostTensor q = f32({3, 2, 2}, {5, 5, 7, 7, 1, 1, 1, 1, 1, 0, 0, 0});
  HostTensor k = f32({3, 1, 2}, {2, 3, 0, 0, kLn3, 0});
  HostTensor v = f32({3, 1, 2}, {-1, -2, 4, 0, 0, 8});
  HostTensor cu = i32({3}, {0, 1, 3});
  HostTensor o = f32({3, 2, 2}, std::vector<float>(12));
};

TEST(ReferencePrefillAttention, CausalGqa) {
  PrefillCase c;
  const auto attrs = attention_attrs(1.f, true);
  run_op(RMA_OP_PREFILL_ATTENTION, {&c.q, &c.k, &c.v, &c.cu, nullptr}, {&c.o}, &attrs);
  // A one-key row returns that key's v, whatever the score.
  expect_near(c.o.floats(), {-1, -2, -1, -2, 4, 0, 4, 0, 1, 6, 2, 4});
}

TEST(ReferencePrefillAttention, WindowNonCausalAndAlibi) {
  PrefillCase c;
  // Window 1: each query sees only itself.
  const auto window = attention_attrs(1.f, true, 1);
  run_op(RMA_OP_PREFILL_ATTENTION, {&c.q, &c.k, &c.v, &c.cu, nullptr}, {&c.o}, &window);
  expect_near(c.o.floats(), {-1, -2, -1, -2, 4, 0, 4, 0, 0, 8, 0, 8});

  // Non-causal: token 1 (q = [1,1]) also sees the later key: scores 0, ln3.
  const auto full = attention_attrs(1.f, false);
  run_op(RMA_OP_PREFILL_ATTENTION, {&c.q, &c.k, &c.v, &c.cu, nullptr}, {&c.o}, &full);
  expect_near(c.o.floats(), {-1, -2, -1, -2, 1, 6, 1, 6, 1, 6, 2, 4});

  // ALiBi slope ln3 on head 1 (q = 0): token 2 scores ln3 * (j - i) = -ln3, 0
  // -> weights 1/4, 3/4 -> [1, 6]. Head 0 has slope 0.
  auto slopes = f32({2}, {0, kLn3});
  const auto causal = attention_attrs(1.f, true);
  run_op(RMA_OP_PREFILL_ATTENTION, {&c.q, &c.k, &c.v, &c.cu, &slopes}, {&c.o}, &causal);
  expect_near(c.o.floats(), {-1, -2, -1, -2, 4, 0, 4, 0, 1, 6, 1, 6});
}

TEST(ReferencePrefillAttention, RejectsBadCuSeqlens) {
  PrefillCase c;
  auto bad = i32({3}, {0, 2, 1});
  const auto attrs = attention_attrs(1.f, true);
  const std::string msg = error_of([&] {
    run_op(RMA_OP_PREFILL_ATTENTION, {&c.q, &c.k, &c.v, &bad, nullptr}, {&c.o}, &attrs);
  });
  EXPECT_TRUE(contains(msg, "cu_seqlens")) << msg;
}

// Cache [3 blocks, block_size 2, 1 head, D 2]. Sequence 0 has 3 tokens in
// blocks 2, 0: token 0 -> row 4, token 1 -> row 5, token 2 -> row 0.
// q = [1, 0] scores 0, 0, ln2: weights 1/4, 1/4, 1/2 over v = [4,0], [0,4],
// [6,2] -> [4, 2]. Sequence 1 is empty -> zeros.
struct DecodeCase {
  HostTensor q = f32({2, 1, 2}, {1, 0, 3, 3});
  HostTensor k_cache = f32({3, 2, 1, 2}, {kLn2, 0, 99, 99, 99, 99, 99, 99, 0, 0, 0, 0});
  HostTensor v_cache = f32({3, 2, 1, 2}, {6, 2, 99, 99, 99, 99, 99, 99, 4, 0, 0, 4});
  HostTensor table = i32({2, 2}, {2, 0, 1, 1});
  HostTensor lens = i32({2}, {3, 0});
  HostTensor o = f32({2, 1, 2}, {7, 7, 7, 7});
};

TEST(ReferencePagedDecodeAttention, ByHand) {
  DecodeCase c;
  const auto attrs = attention_attrs(1.f, false);
  run_op(RMA_OP_PAGED_DECODE_ATTENTION, {&c.q, &c.k_cache, &c.v_cache, &c.table, &c.lens, nullptr},
         {&c.o}, &attrs);
  expect_near(c.o.floats(), {4, 2, 0, 0});

  // Window 1: only the last token.
  const auto window = attention_attrs(1.f, false, 1);
  run_op(RMA_OP_PAGED_DECODE_ATTENTION, {&c.q, &c.k_cache, &c.v_cache, &c.table, &c.lens, nullptr},
         {&c.o}, &window);
  expect_near(c.o.floats(), {6, 2, 0, 0});

  // An f16 cache under an f32 query gives the same (exact) numbers.
  auto k16 = HostTensor::of(DType::kF16, {3, 2, 1, 2}, c.k_cache.floats());
  auto v16 = HostTensor::of(DType::kF16, {3, 2, 1, 2}, c.v_cache.floats());
  run_op(RMA_OP_PAGED_DECODE_ATTENTION, {&c.q, &k16, &v16, &c.table, &c.lens, nullptr}, {&c.o},
         &window);
  expect_near(c.o.floats(), {6, 2, 0, 0});
}

TEST(ReferencePagedDecodeAttention, RejectsBadBlockIds) {
  DecodeCase c;
  auto table = i32({2, 2}, {2, 3, 1, 1});  // block 3 of 3
  const auto attrs = attention_attrs(1.f, false);
  const std::string msg = error_of([&] {
    run_op(RMA_OP_PAGED_DECODE_ATTENTION, {&c.q, &c.k_cache, &c.v_cache, &table, &c.lens, nullptr},
           {&c.o}, &attrs);
  });
  EXPECT_TRUE(contains(msg, "block_table")) << msg;
  auto lens = i32({2}, {5, 0});  // more than 2 blocks of 2
  EXPECT_FALSE(error_of([&] {
                 run_op(RMA_OP_PAGED_DECODE_ATTENTION,
                        {&c.q, &c.k_cache, &c.v_cache, &c.table, &lens, nullptr}, {&c.o}, &attrs);
               }).empty());
}

// The last query of a causal prefill equals a decode step over the same keys
// scattered into a paged cache (GQA 4:2, ALiBi, sliding window).
TEST(ReferenceAttention, PrefillLastTokenMatchesPagedDecode) {
  constexpr int64_t kT = 7, kHq = 4, kHkv = 2, kD = 8, kBlock = 3, kBlocks = 4;
  auto values = [](int64_t n, float f) {
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = std::sin(f * static_cast<float>(i + 1));
    return v;
  };
  const std::vector<float> qv = values(kT * kHq * kD, 0.7f);
  auto q = f32({kT, kHq, kD}, qv);
  auto k = f32({kT, kHkv, kD}, values(kT * kHkv * kD, 1.3f));
  auto v = f32({kT, kHkv, kD}, values(kT * kHkv * kD, 0.4f));
  auto cu = i32({2}, {0, kT});
  auto slopes = f32({kHq}, {0.5f, 0.25f, 0.125f, 0.0625f});
  auto o = f32({kT, kHq, kD}, std::vector<float>(kT * kHq * kD));

  // Tokens go to blocks 2, 0, 3 (slots 6.., 0.., 9..).
  auto table = i32({1, 3}, {2, 0, 3});
  std::vector<int64_t> slots;
  const int64_t blocks_of_seq[3] = {2, 0, 3};
  for (int64_t t = 0; t < kT; ++t) slots.push_back(blocks_of_seq[t / kBlock] * kBlock + t % kBlock);
  auto slot_mapping = i32({kT}, slots);
  auto k_cache = f32({kBlocks, kBlock, kHkv, kD}, std::vector<float>(kBlocks * kBlock * kHkv * kD));
  auto v_cache = f32({kBlocks, kBlock, kHkv, kD}, std::vector<float>(kBlocks * kBlock * kHkv * kD));
  run_op(RMA_OP_FILL_KV_CACHE, {&k, &v, &slot_mapping}, {&k_cache, &v_cache});

  auto q_last = f32({1, kHq, kD}, std::vector<float>(qv.end() - kHq * kD, qv.end()));
  auto lens = i32({1}, {kT});
  auto o_decode = f32({1, kHq, kD}, std::vector<float>(kHq * kD));
  for (int32_t window : {0, 3}) {
    const auto attrs = attention_attrs(0.35f, true, window);
    run_op(RMA_OP_PREFILL_ATTENTION, {&q, &k, &v, &cu, &slopes}, {&o}, &attrs);
    run_op(RMA_OP_PAGED_DECODE_ATTENTION, {&q_last, &k_cache, &v_cache, &table, &lens, &slopes},
           {&o_decode}, &attrs);
    const std::vector<float> all = o.floats();
    expect_near(o_decode.floats(), std::vector<float>(all.end() - kHq * kD, all.end()), 1e-6f);
  }
}

// ------------------------------------------------------------- activations

TEST(ReferenceGatedActivations, SiluAndGelu) {
  auto x = f32({2, 4}, {0, 1, 2, 3, -1, 2, 0.5f, 1});
  auto y = f32({2, 2}, {0, 0, 0, 0});
  run_op(RMA_OP_SILU_AND_MUL, {&x}, {&y});
  const auto silu = [](double v) { return v / (1 + std::exp(-v)); };
  expect_near(y.floats(), {0, float(silu(1) * 3), float(silu(-1) * 0.5), float(silu(2))});

  const rma_gelu_attrs erf_form{sizeof(rma_gelu_attrs), RMA_ABI_VERSION, 0};
  run_op(RMA_OP_GELU_AND_MUL, {&x}, {&y}, &erf_form);
  // gelu(1) = 0.8413447, gelu(-1) = -0.1586553, gelu(2) = 1.9544997.
  expect_near(y.floats(), {0, 0.8413447f * 3, -0.1586553f * 0.5f, 1.9544997f});
  const rma_gelu_attrs tanh_form{sizeof(rma_gelu_attrs), RMA_ABI_VERSION, 1};
  run_op(RMA_OP_GELU_AND_MUL, {&x}, {&y}, &tanh_form);
  EXPECT_NEAR(y.floats()[1], 0.8411920f * 3, 1e-5f);
}

// --------------------------------------------------------------- embedding

TEST(ReferenceEmbedding, RowsAndRangeErrors) {
  auto table = f32({3, 2}, {1, 2, 3, 4, 5, 6});
  auto ids = i32({3}, {2, 0, 2});
  auto y = f32({3, 2}, std::vector<float>(6));
  run_op(RMA_OP_EMBEDDING, {&ids, &table}, {&y});
  EXPECT_EQ(y.floats(), (std::vector<float>{5, 6, 1, 2, 5, 6}));

  // A quantized table is dequantized row by row.
  std::vector<float> rows(2 * 32);
  for (int i = 0; i < 64; ++i) rows[i] = static_cast<float>(i % 32 - 16) * (i < 32 ? 1.f : 0.5f);
  auto qtable = HostTensor::of(DType::kQ8_0, {2, 32}, rows);
  auto one = i32({1}, {1});
  auto yq = f32({1, 32}, std::vector<float>(32));
  run_op(RMA_OP_EMBEDDING, {&one, &qtable}, {&yq});
  const std::vector<float> all = qtable.floats();
  EXPECT_EQ(yq.floats(), std::vector<float>(all.begin() + 32, all.end()));

  auto bad = i32({3}, {0, 3, 1});
  const std::string msg = error_of([&] { run_op(RMA_OP_EMBEDDING, {&bad, &table}, {&y}); });
  EXPECT_TRUE(contains(msg, "id 3")) << msg;
  EXPECT_TRUE(contains(msg, "position 1")) << msg;
  auto negative = i32({3}, {0, 1, -1});
  EXPECT_TRUE(contains(error_of([&] {
                         run_op(RMA_OP_EMBEDDING, {&negative, &table}, {&y});
                       }),
                       "position 2"));
}

// -------------------------------------------------------------- moe gating

TEST(ReferenceMoeGating, TopKWithTies) {
  // p proportional to [2, 1, 2, 4] / 9; the tie between experts 0 and 2
  // goes to the lower id.
  auto logits = f32({1, 4}, {kLn2, 0, kLn2, 2 * kLn2});
  auto weights = f32({1, 3}, {0, 0, 0});
  auto ids = i32({1, 3}, {0, 0, 0});
  const rma_moe_gating_attrs plain{sizeof(rma_moe_gating_attrs), RMA_ABI_VERSION, 3, 0};
  run_op(RMA_OP_MOE_GATING_TOPK_SOFTMAX, {&logits}, {&weights, &ids}, &plain);
  EXPECT_EQ(ids.values(), (std::vector<int64_t>{3, 0, 2}));
  expect_near(weights.floats(), {4.f / 9, 2.f / 9, 2.f / 9});

  const rma_moe_gating_attrs renorm{sizeof(rma_moe_gating_attrs), RMA_ABI_VERSION, 2, 1};
  auto w2 = f32({1, 2}, {0, 0});
  auto ids2 = i32({1, 2}, {0, 0});
  run_op(RMA_OP_MOE_GATING_TOPK_SOFTMAX, {&logits}, {&w2, &ids2}, &renorm);
  EXPECT_EQ(ids2.values(), (std::vector<int64_t>{3, 0}));
  expect_near(w2.floats(), {2.f / 3, 1.f / 3});
}

// ------------------------------------------------------------------ sample

int64_t sample_one(HostTensor& logits, const rma_sample_attrs& attrs, HostTensor* prev = nullptr) {
  auto ids = i32({1}, {-7});
  run_op(RMA_OP_SAMPLE, {&logits, prev}, {&ids}, &attrs);
  return ids.values()[0];
}

TEST(ReferenceSample, GreedyAndRepetitionPenalty) {
  auto logits = f32({1, 4}, {1, 3, 3, 2});
  EXPECT_EQ(sample_one(logits, sample_attrs(0.f)), 1);  // first of the tied maxima

  // Penalty 2 on token 1 (seen twice, penalised once): 3 -> 1.5.
  auto prev = i32({1, 3}, {1, 1, -1});
  EXPECT_EQ(sample_one(logits, sample_attrs(0.f, 0, 0, 1.f, 0.f, 2.f), &prev), 2);

  // A negative logit is multiplied: -1 * 2 = -2 loses to -1.5.
  auto negative = f32({1, 2}, {-1.5f, -1.f});
  auto prev1 = i32({1, 1}, {1});
  EXPECT_EQ(sample_one(negative, sample_attrs(0.f, 0, 0, 1.f, 0.f, 2.f), &prev1), 0);

  auto out_of_vocab = i32({1, 1}, {4});
  EXPECT_FALSE(error_of([&] {
                 sample_one(logits, sample_attrs(0.f, 0, 0, 1.f, 0.f, 2.f), &out_of_vocab);
               }).empty());
}

// uniform(seed, b) from the docs' formula, worked out by hand:
//   seed 0, b 0: 0.88331079...   seed 0, b 1: 0.43152797...
//   seed 1, b 0: 0.56656152...   seed 3, b 0: 0.11345029...
//   seed 6, b 0: 0.73981696...
TEST(ReferenceSample, SeededDraws) {
  // probs 1/4 (token 0), 3/4 (token 1); candidates in order token 1, token 0:
  // token 1 when u < 0.75.
  auto two = f32({1, 2}, {0, kLn3});
  EXPECT_EQ(sample_one(two, sample_attrs(1.f, 0)), 0);  // u = 0.883
  EXPECT_EQ(sample_one(two, sample_attrs(1.f, 3)), 1);  // u = 0.113

  // Row b draws uniform(seed, b): row 1 with seed 0 has u = 0.432.
  auto batch = f32({2, 2}, {0, kLn3, 0, kLn3});
  auto ids = i32({2}, {-1, -1});
  const auto attrs = sample_attrs(1.f, 0);
  run_op(RMA_OP_SAMPLE, {&batch, nullptr}, {&ids}, &attrs);
  EXPECT_EQ(ids.values(), (std::vector<int64_t>{0, 1}));

  // probs 1/8, 2/8, 5/8 for tokens 0, 1, 2; cumulative in candidate order
  // (2, 1, 0): 0.625, 0.875, 1.
  auto three = f32({1, 3}, {0, kLn2, std::log(5.f)});
  EXPECT_EQ(sample_one(three, sample_attrs(1.f, 1)), 2);  // u = 0.567
  EXPECT_EQ(sample_one(three, sample_attrs(1.f, 6)), 1);  // u = 0.740
  EXPECT_EQ(sample_one(three, sample_attrs(1.f, 0)), 0);  // u = 0.883
  // top_k 2 renormalises to 5/7, 2/7: u = 0.740 > 0.714 -> token 1.
  EXPECT_EQ(sample_one(three, sample_attrs(1.f, 6, 2)), 1);
  EXPECT_EQ(sample_one(three, sample_attrs(1.f, 0, 2)), 1);
  // top_k 1 is greedy.
  EXPECT_EQ(sample_one(three, sample_attrs(1.f, 0, 1)), 2);
  // top_p 0.8: the prefix (2, 1) reaches 0.875 >= 0.8; u * 0.875 = 0.773 > 0.625.
  EXPECT_EQ(sample_one(three, sample_attrs(1.f, 0, 0, 0.8f)), 1);
  // top_p 0.6: token 2 alone reaches 0.625.
  EXPECT_EQ(sample_one(three, sample_attrs(1.f, 0, 0, 0.6f)), 2);
  // min_p 0.3: drop prob < 0.1875, i.e. token 0; u * 0.875 = 0.773 -> token 1.
  EXPECT_EQ(sample_one(three, sample_attrs(1.f, 0, 0, 1.f, 0.3f)), 1);
  // Temperature 2: probs ~ [1, sqrt2, sqrt5] / 4.65 = 0.215, 0.304, 0.481;
  // u = 0.740 falls in token 1's share (0.481 .. 0.785).
  EXPECT_EQ(sample_one(three, sample_attrs(2.f, 6)), 1);
}

// ----------------------------------------------------------------- add/mul

TEST(ReferenceBinary, Broadcasting) {
  auto a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto row = f32({3}, {10, 20, 30});
  auto y = f32({2, 3}, std::vector<float>(6));
  run_op(RMA_OP_ADD, {&a, &row}, {&y});
  EXPECT_EQ(y.floats(), (std::vector<float>{11, 22, 33, 14, 25, 36}));
  run_op(RMA_OP_MUL, {&row, &a}, {&y});
  EXPECT_EQ(y.floats(), (std::vector<float>{10, 40, 90, 40, 100, 180}));

  // [2,1] x [1,3] -> [2,3] (an outer product).
  auto col = f32({2, 1}, {1, 2});
  auto line = f32({1, 3}, {1, 10, 100});
  run_op(RMA_OP_MUL, {&col, &line}, {&y});
  EXPECT_EQ(y.floats(), (std::vector<float>{1, 10, 100, 2, 20, 200}));

  // A middle broadcast dim: [2,1,2] + [3,2] -> [2,3,2].
  auto a3 = f32({2, 1, 2}, {1, 2, 3, 4});
  auto b2 = f32({3, 2}, {0, 10, 20, 30, 40, 50});
  auto y3 = f32({2, 3, 2}, std::vector<float>(12));
  run_op(RMA_OP_ADD, {&a3, &b2}, {&y3});
  EXPECT_EQ(y3.floats(), (std::vector<float>{1, 12, 21, 32, 41, 52, 3, 14, 23, 34, 43, 54}));
}

// ------------------------------------------------------------ empty inputs

TEST(ReferenceEmpty, ZeroTokensDoNotCrash) {
  auto x = f32({0, 4}, {});
  auto w4 = f32({4}, {1, 1, 1, 1});
  auto y = f32({0, 4}, {});
  const auto norm = norm_attrs(1e-6f);
  run_op(RMA_OP_RMS_NORM, {&x, &w4}, {&y}, &norm);
  run_op(RMA_OP_LAYER_NORM, {&x, &w4, nullptr}, {&y}, &norm);
  run_op(RMA_OP_SOFTMAX, {&x}, {&y});

  auto w = f32({2, 4}, std::vector<float>(8, 1.f));
  auto y2 = f32({0, 2}, {});
  const auto lin = linear_attrs();
  run_op(RMA_OP_LINEAR, {&x, &w, nullptr}, {&y2}, &lin);

  auto q = f32({0, 2, 4}, {});
  auto k = f32({0, 1, 4}, {});
  auto cu = i32({1}, {0});
  auto o = f32({0, 2, 4}, {});
  const auto attn = attention_attrs(0.5f, true);
  run_op(RMA_OP_PREFILL_ATTENTION, {&q, &k, &k, &cu, nullptr}, {&o}, &attn);

  auto positions = i32({0}, {});
  auto q_out = f32({0, 2, 4}, {});
  auto k_out = f32({0, 1, 4}, {});
  const auto rope = rope_attrs(RMA_ROPE_NEOX, 0, 10000.f);
  run_op(RMA_OP_ROPE, {&q, &k, &positions}, {&q_out, &k_out}, &rope);

  auto ids = i32({0}, {});
  auto table = f32({3, 4}, std::vector<float>(12));
  auto emb = f32({0, 4}, {});
  run_op(RMA_OP_EMBEDDING, {&ids, &table}, {&emb});

  auto logits = f32({0, 5}, {});
  auto sampled = i32({0}, {});
  const auto greedy = sample_attrs(0.f);
  run_op(RMA_OP_SAMPLE, {&logits, nullptr}, {&sampled}, &greedy);

  auto slots = i32({0}, {});
  auto cache = f32({1, 2, 1, 4}, std::vector<float>(8, 3.f));
  auto cache2 = f32({1, 2, 1, 4}, std::vector<float>(8, 3.f));
  run_op(RMA_OP_FILL_KV_CACHE, {&k, &k, &slots}, {&cache, &cache2});
  EXPECT_EQ(cache.floats(), std::vector<float>(8, 3.f));
}

}  // namespace
}  // namespace rma
