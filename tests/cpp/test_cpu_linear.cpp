// The cpu device's linear and quant_linear against a double-precision loop
// written here: odd shapes (not multiples of the micro-tile, the GEMV range,
// several depth blocks), every dtype, activation and trans flag, bias or not.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <hwy/detect_targets.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <numbers>
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

Device cpu() {
  return Runtime::get().device("cpu");
}

float round_to(DType dt, float v) {
  if (dt == DType::kF16) return f16_to_f32(f32_to_f16(v));
  if (dt == DType::kBF16) return bf16_to_f32(f32_to_bf16(v));
  return v;
}

// Values as the tensor holds them (rounded to dtype) next to the tensor.
struct HostTensor {
  std::vector<float> v;
  Tensor t;
};

Tensor float_tensor(const std::vector<float>& v, const Shape& shape, DType dt) {
  if (dt == DType::kF32) return Tensor::from_host(v.data(), shape, dt, cpu());
  std::vector<uint16_t> bits(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    bits[i] = dt == DType::kF16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
  return Tensor::from_host(bits.data(), shape, dt, cpu());
}

HostTensor random_tensor(const Shape& shape, DType dt, std::mt19937& rng, float scale = 1.f) {
  std::uniform_real_distribution<float> u(-scale, scale);
  HostTensor h;
  h.v.resize(static_cast<size_t>(numel(shape)));
  for (float& x : h.v) x = round_to(dt, u(rng));
  h.t = float_tensor(h.v, shape, dt);
  return h;
}

std::vector<float> to_floats(const Tensor& t) {
  const std::vector<uint8_t> bytes = t.to_host_bytes();
  std::vector<float> out(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    if (t.dtype() == DType::kF32) {
      std::memcpy(&out[i], bytes.data() + 4 * i, 4);
    } else {
      uint16_t b;
      std::memcpy(&b, bytes.data() + 2 * i, 2);
      out[i] = t.dtype() == DType::kF16 ? f16_to_f32(b) : bf16_to_f32(b);
    }
  }
  return out;
}

double act_ref(Activation act, double v, double p) {
  switch (act) {
    case Activation::kRelu:
      return v > 0 ? v : 0.0;
    case Activation::kLeakyRelu:
      return v > 0 ? v : p * v;
    case Activation::kGelu:
      return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    case Activation::kGeluTanh: {
      const double c = std::sqrt(2.0 / std::numbers::pi);
      return 0.5 * v * (1.0 + std::tanh(c * (v + 0.044715 * v * v * v)));
    }
    case Activation::kSilu:
      return v / (1.0 + std::exp(-v));
    case Activation::kSigmoid:
      return 1.0 / (1.0 + std::exp(-v));
    case Activation::kTanh:
      return std::tanh(v);
    default:
      return v;
  }
}

const char* act_name(Activation a) {
  static const char* names[] = {"none",      "relu", "leaky_relu", "gelu",
                                "gelu_tanh", "silu", "sigmoid",    "tanh"};
  return names[static_cast<int>(a)];
}

// Relative rounding of one output element in dtype.
double out_eps(DType dt) {
  return dt == DType::kF32 ? 0.0 : dt == DType::kF16 ? 1.0 / 1024 : 1.0 / 128;
}

struct LinearCase {
  int64_t t, n, k;
  DType dt = DType::kF32;
  Activation act = Activation::kNone;
  bool trans_a = false, trans_b = true, bias = true;
  float alpha = 1.f;
  Shape lead = {};  // x's leading dims (product t) instead of [t]
};

std::string describe(const LinearCase& c) {
  return "T=" + std::to_string(c.t) + " N=" + std::to_string(c.n) + " K=" + std::to_string(c.k) +
         " " + std::string(name(c.dt)) + " act=" + act_name(c.act) +
         " trans_a=" + std::to_string(c.trans_a) + " trans_b=" + std::to_string(c.trans_b) +
         " bias=" + std::to_string(c.bias) + " alpha=" + std::to_string(c.alpha);
}

void check_linear(const LinearCase& c, uint32_t seed = 1) {
  SCOPED_TRACE(describe(c));
  std::mt19937 rng(seed);
  Shape xs;
  if (c.trans_a) {
    xs = {c.k, c.t};
  } else {
    xs = c.lead.empty() ? Shape{c.t} : c.lead;
    xs.push_back(c.k);
  }
  const HostTensor x = random_tensor(xs, c.dt, rng);
  const HostTensor w = random_tensor(c.trans_b ? Shape{c.n, c.k} : Shape{c.k, c.n}, c.dt, rng);
  HostTensor b;
  if (c.bias) b = random_tensor({c.n}, c.dt, rng);
  const float param = 0.1f;
  const Tensor y = ops::linear(x.t, w.t, c.bias ? b.t : Tensor{},
                               linear_attrs(c.act, c.trans_a, c.trans_b, param, c.alpha));
  Shape ys = c.trans_a ? Shape{c.t} : (c.lead.empty() ? Shape{c.t} : c.lead);
  ys.push_back(c.n);
  ASSERT_EQ(y.shape(), ys);
  ASSERT_EQ(y.dtype(), c.dt);
  const std::vector<float> got = to_floats(y);

  int bad = 0;
  for (int64_t i = 0; i < c.t && bad < 5; ++i)
    for (int64_t j = 0; j < c.n && bad < 5; ++j) {
      double acc = 0, mag = 0;
      for (int64_t kk = 0; kk < c.k; ++kk) {
        const double a = c.trans_a ? x.v[kk * c.t + i] : x.v[i * c.k + kk];
        const double bb = c.trans_b ? w.v[j * c.k + kk] : w.v[kk * c.n + j];
        acc += a * bb;
        mag += std::fabs(a * bb);
      }
      const double bias = c.bias ? b.v[j] : 0.0;
      const double ref = act_ref(c.act, c.alpha * acc + bias, param);
      // f32 accumulation error grows with the magnitude of the products;
      // the output is then rounded once to its dtype.
      const double tol = 2e-6 * (std::fabs(c.alpha) * mag + std::fabs(bias)) + 1e-6 +
                         out_eps(c.dt) * std::fabs(ref);
      const double v = got[i * c.n + j];
      if (!(std::fabs(v - ref) <= tol)) {
        ADD_FAILURE() << "y[" << i << ", " << j << "] = " << v << ", expected " << ref << " (tol "
                      << tol << ")";
        ++bad;
      }
    }
}

const DType kFloatTypes[] = {DType::kF32, DType::kF16, DType::kBF16};

TEST(CpuLinear, OddShapesEveryDtypeAndTransFlags) {
  // T spans the GEMV range (<= 4) and the GEMM past it; N and K are not
  // multiples of the micro-tile; K = 300 takes two depth blocks.
  const int64_t shapes[][3] = {{1, 1, 1},     {1, 17, 33},    {3, 33, 17},    {4, 100, 3},
                               {5, 3, 100},   {17, 33, 1},    {17, 100, 300}, {33, 17, 100},
                               {100, 33, 17}, {100, 100, 33}, {2, 100, 300},  {1, 3, 300}};
  for (DType dt : kFloatTypes)
    for (const auto& s : shapes)
      for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb) {
          LinearCase c{s[0], s[1], s[2], dt};
          c.trans_a = ta;
          c.trans_b = tb;
          c.bias = (s[0] + ta + tb) % 2 == 0;
          check_linear(c);
        }
}

TEST(CpuLinear, EveryActivationWithAlphaAndBias) {
  for (DType dt : kFloatTypes)
    for (int a = 0; a <= static_cast<int>(Activation::kTanh); ++a)
      for (int64_t t : {3, 33}) {  // GEMV and GEMM epilogues
        LinearCase c{t, 37, 65, dt, static_cast<Activation>(a)};
        c.alpha = 1.5f;
        check_linear(c, 7 + a);
      }
}

TEST(CpuLinear, ActivationTailsStayAccurate) {
  // Large |pre-activation| values: gelu's negative tail, saturating sigmoid.
  for (Activation a : {Activation::kGelu, Activation::kGeluTanh, Activation::kSilu,
                       Activation::kSigmoid, Activation::kTanh}) {
    LinearCase c{9, 40, 64, DType::kF32, a};
    c.alpha = 12.f;
    check_linear(c, 3);
  }
}

TEST(CpuLinear, LeadingDimsOfX) {
  LinearCase c{6, 19, 23};
  c.lead = {2, 3};
  check_linear(c);
  LinearCase d{24, 19, 23, DType::kBF16};
  d.lead = {2, 3, 4};
  check_linear(d);
}

TEST(CpuLinear, LargeShapesCrossEveryBlockBoundary) {
  // More columns than one B block (3072), three depth blocks, rows split
  // over the threads with a ragged last tile.
  check_linear({131, 3100, 600, DType::kF32, Activation::kNone});
  LinearCase c{45, 3100, 520, DType::kBF16, Activation::kSilu};
  check_linear(c);
  LinearCase d{70, 200, 530, DType::kF16, Activation::kGelu};
  d.trans_a = true;
  d.trans_b = false;
  check_linear(d);
}

TEST(CpuLinear, EmptyDepthGivesActivationOfBias) {
  check_linear({3, 5, 0, DType::kF32, Activation::kRelu});
  check_linear({9, 5, 0, DType::kBF16, Activation::kNone});
}

// ------------------------------------------------------------ quant_linear
struct QuantCase {
  int64_t t, n, k;
  DType wt;
  DType xt = DType::kF32;
  Activation act = Activation::kNone;
  bool bias = true;
  Shape lead = {};
  // x on the q8 grid: integers times a power of two per block of 32, one of
  // them +-127, so quantizing x loses nothing and every path must match
  // the reference to f32 rounding (a tight check of the integer kernels).
  bool exact_x = false;
  Precision precision = Precision::kAccurate;
  // One large value in every block of 32 of x (activation outliers).
  bool outliers = false;
};

// Accurate: f32 arithmetic on the exactly dequantized weights, so the bound
// is linear's f32 accumulation term alone (the cpu's 24-bit activation
// blocks are off by at most 2^-24 of a block's largest value).
// Fast: the cpu may round x to int8 blocks of 32 (scale amax / 127) for its
// integer GEMV: each element of x is then off by at most half a step, so
// |y - ref| <= sum_k |w_k| * step(k) / 2 bounds that error exactly. Past the
// GEMV range the weights are dequantized into an f32 GEMM and that term is
// not allowed.
constexpr int64_t kQuantGemvMaxRows = 32;  // quant_linear_config::kGemvMaxRows
void check_quant_linear(const QuantCase& c, uint32_t seed = 1) {
  const bool fast = c.precision == Precision::kFast;
  SCOPED_TRACE("quant_linear T=" + std::to_string(c.t) + " N=" + std::to_string(c.n) +
               " K=" + std::to_string(c.k) + " w " + std::string(name(c.wt)) + " x " +
               std::string(name(c.xt)) + " act=" + act_name(c.act) +
               " bias=" + std::to_string(c.bias) + (fast ? " fast" : " accurate") +
               (c.outliers ? " outliers" : ""));
  std::mt19937 rng(seed);
  Shape xs = c.lead.empty() ? Shape{c.t} : c.lead;
  xs.push_back(c.k);
  HostTensor x = random_tensor(xs, c.xt, rng);
  if (c.exact_x) {
    std::uniform_int_distribution<int> q(-127, 127);
    for (size_t i = 0; i < x.v.size(); ++i) {
      const int64_t b = static_cast<int64_t>(i) / 32;
      const float scale = std::ldexp(1.f, static_cast<int>(b % 5) - 8);
      const bool peak = static_cast<int64_t>(i % 32) == b % 32;
      x.v[i] = scale * static_cast<float>(peak ? (b % 2 ? 127 : -127) : q(rng));
    }
    x.t = float_tensor(x.v, xs, c.xt);
  }
  if (c.outliers) {
    for (size_t i = 0; i < x.v.size(); i += 32)
      x.v[i + (i / 32) % 32] = round_to(c.xt, (i / 32 % 2 ? 300.f : -250.f));
    x.t = float_tensor(x.v, xs, c.xt);
  }
  // Weights: random floats, quantized, then dequantized by the core's
  // reference routine: the values the device must use.
  std::vector<float> wf(static_cast<size_t>(c.n * c.k));
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (float& v : wf) v = u(rng) / std::sqrt(static_cast<float>(std::max<int64_t>(c.k, 1)));
  const int64_t row_bytes = bytes_for(c.wt, c.k);
  std::vector<uint8_t> wq(static_cast<size_t>(c.n * row_bytes));
  std::vector<float> wd(wf.size());
  for (int64_t i = 0; i < c.n; ++i) {
    quantize_row(c.wt, wf.data() + i * c.k, wq.data() + i * row_bytes, c.k);
    dequantize_row(c.wt, wq.data() + i * row_bytes, wd.data() + i * c.k, c.k);
  }
  const Tensor w = Tensor::from_host(wq.data(), {c.n, c.k}, c.wt, cpu());
  HostTensor b;
  if (c.bias) b = random_tensor({c.n}, c.xt, rng);
  const float param = 0.1f;
  const Tensor y = ops::quant_linear(x.t, w, c.bias ? b.t : Tensor{},
                                     linear_attrs(c.act, false, true, param, 1.f, c.precision));
  Shape ys = c.lead.empty() ? Shape{c.t} : c.lead;
  ys.push_back(c.n);
  ASSERT_EQ(y.shape(), ys);
  ASSERT_EQ(y.dtype(), c.xt);
  const std::vector<float> got = to_floats(y);
  const bool gemv = c.t <= kQuantGemvMaxRows;

  // Half a q8 step of each block of 32 of x.
  std::vector<double> half_step(static_cast<size_t>(c.t * ((c.k + 31) / 32)), 0.0);
  for (int64_t i = 0; i < c.t; ++i)
    for (int64_t kk = 0; kk < c.k; ++kk) {
      double& h = half_step[i * ((c.k + 31) / 32) + kk / 32];
      h = std::max(h, std::fabs(double(x.v[i * c.k + kk])) / 127.0 / 2.0);
    }

  int bad = 0;
  for (int64_t i = 0; i < c.t && bad < 5; ++i)
    for (int64_t j = 0; j < c.n && bad < 5; ++j) {
      double acc = 0, mag = 0, qerr = 0;
      for (int64_t kk = 0; kk < c.k; ++kk) {
        const double a = x.v[i * c.k + kk], ww = wd[j * c.k + kk];
        acc += a * ww;
        mag += std::fabs(a * ww);
        qerr += std::fabs(ww) * half_step[i * ((c.k + 31) / 32) + kk / 32];
      }
      const double bias = c.bias ? b.v[j] : 0.0;
      const double pre = acc + bias;
      const double ref = act_ref(c.act, pre, param);
      // Activations here have slopes <= 1.2.
      const double tol = (fast && gemv && !c.exact_x ? 1.2 * 1.01 * qerr : 0.0) +
                         4e-6 * (mag + std::fabs(bias)) + 1e-6 + out_eps(c.xt) * std::fabs(ref);
      const double v = got[i * c.n + j];
      if (!(std::fabs(v - ref) <= tol)) {
        ADD_FAILURE() << "y[" << i << ", " << j << "] = " << v << ", expected " << ref << " (tol "
                      << tol << ")";
        ++bad;
      }
    }
}

const DType kQuantTypes[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1,
                             DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};
constexpr Precision kPrecisions[] = {Precision::kAccurate, Precision::kFast};

TEST(CpuQuantLinear, EveryWeightTypeOverGemvAndGemmRows) {
  for (Precision pr : kPrecisions)
    for (DType wt : kQuantTypes) {
      const int64_t be = block_elems(wt);
      // K: one block, an odd number of 32-blocks (a lone block at the end
      // of a row; a partial quad), and several 256-blocks; T across the
      // GEMV (1 takes four weight rows per pass) and the GEMM; N across
      // groups of four rows with a remainder.
      const std::vector<int64_t> ks =
          be == 32 ? std::vector<int64_t>{32, 96, 576} : std::vector<int64_t>{256, 768};
      for (int64_t k : ks)
        for (int64_t t : {1, 2, 3, 4, 5, 8, 9, 33, 70})
          for (int64_t n : {1, 17, 100}) {
            QuantCase c{t, n, k, wt};
            c.bias = (t + n) % 2 == 1;
            c.precision = pr;
            check_quant_linear(c);
          }
    }
}

TEST(CpuQuantLinear, IntegerKernelsAreExactOnTheQ8Grid) {
  for (Precision pr : kPrecisions)
    for (DType wt : kQuantTypes) {
      const std::vector<int64_t> ks = block_elems(wt) == 32 ? std::vector<int64_t>{32, 96, 576}
                                                            : std::vector<int64_t>{256, 768};
      for (int64_t k : ks)
        for (int64_t t : {1, 2, 3, 4, 5, 13, 40}) {
          QuantCase c{t, 23, k, wt};
          c.exact_x = true;
          c.precision = pr;
          check_quant_linear(c, 3);
        }
    }
}

TEST(CpuQuantLinear, AccurateStaysTightWithActivationOutliers) {
  // A value 300x the others in every block: fast rounds the rest of the
  // block to a coarse step; accurate keeps them within f32 rounding.
  for (DType wt : kQuantTypes)
    for (int64_t t : {1, 3}) {
      QuantCase c{t, 41, block_elems(wt) == 32 ? 192 : 512, wt};
      c.outliers = true;
      check_quant_linear(c, 5);
    }
}

TEST(CpuQuantLinear, HalfPrecisionActivationsAndEpilogues) {
  for (Precision pr : kPrecisions) {
    for (DType wt : kQuantTypes)
      for (DType xt : {DType::kF16, DType::kBF16})
        for (int64_t t : {1, 3, 12}) {
          QuantCase c{t, 37, block_elems(wt) == 32 ? 160 : 512, wt, xt, Activation::kSilu};
          c.precision = pr;
          check_quant_linear(c);
        }
    for (int a = 0; a <= static_cast<int>(Activation::kTanh); ++a) {
      QuantCase c{2, 29, 64, DType::kQ4_1, DType::kF32, static_cast<Activation>(a)};
      c.precision = pr;
      check_quant_linear(c, 11 + a);
    }
  }
}

TEST(CpuQuantLinear, LeadingDimsAndLargeRows) {
  for (Precision pr : kPrecisions) {
    QuantCase c{6, 40, 96, DType::kQ8_0};
    c.lead = {2, 3};
    c.precision = pr;
    check_quant_linear(c);
    // Many rows: several GEMV chunks per thread, and a GEMM across blocks.
    for (QuantCase big :
         {QuantCase{1, 3000, 576, DType::kQ4_0}, QuantCase{1, 2001, 576, DType::kQ4_1},
          QuantCase{1, 1203, 1536, DType::kQ5_K}, QuantCase{4, 1100, 512, DType::kQ6_K},
          QuantCase{40, 3100, 512, DType::kQ4_K, DType::kBF16, Activation::kGelu}}) {
      big.precision = pr;
      check_quant_linear(big);
    }
  }
}

TEST(CpuQuantLinear, AttrsFromBeforePrecisionMeanAccurate) {
  // A caller built against the header before `precision` passes the shorter
  // struct: accepted, and computed as accurate. A value other than 0 / 1 is
  // an error naming the attribute.
  std::mt19937 rng(9);
  const HostTensor x = random_tensor({2, 96}, DType::kF32, rng);
  std::vector<float> wf(static_cast<size_t>(5 * 96));
  for (float& v : wf) v = std::uniform_real_distribution<float>(-0.1f, 0.1f)(rng);
  std::vector<uint8_t> wq(static_cast<size_t>(bytes_for(DType::kQ4_1, wf.size())));
  quantize_row(DType::kQ4_1, wf.data(), wq.data(), static_cast<int64_t>(wf.size()));
  const Tensor w = Tensor::from_host(wq.data(), {5, 96}, DType::kQ4_1, cpu());
  rma_linear_attrs old = linear_attrs(Activation::kNone, false, true, 0.01f, 1.f, Precision::kFast);
  old.struct_size = offsetof(rma_linear_attrs, precision);
  const std::vector<float> got =
      to_floats(ops::run(RMA_OP_QUANT_LINEAR, {x.t, w, Tensor{}}, &old)[0]);
  const std::vector<float> want = to_floats(ops::quant_linear(x.t, w));
  EXPECT_EQ(got, want);
  rma_linear_attrs bad = linear_attrs();
  bad.precision = 2;
  try {
    ops::quant_linear(x.t, w, Tensor{}, bad);
    ADD_FAILURE() << "precision 2 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("precision"), std::string::npos) << e.what();
  }
}

// x = the identity (T = K rows, past the GEMV range): y[t, n] = w[n, t]
// exactly as dequantize_row gives it (sums of one product and zeros).
void check_gemm_dequantizes_bit_exactly() {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  for (DType wt : kQuantTypes) {
    SCOPED_TRACE(std::string(name(wt)));
    const int64_t k = block_elems(wt) == 32 ? 96 : 256, n = 9;
    ASSERT_GT(k, kQuantGemvMaxRows);
    std::vector<float> wf(static_cast<size_t>(n * k)), wd(wf.size());
    for (float& v : wf) v = u(rng);
    const int64_t row_bytes = bytes_for(wt, k);
    std::vector<uint8_t> wq(static_cast<size_t>(n * row_bytes));
    for (int64_t i = 0; i < n; ++i) {
      quantize_row(wt, wf.data() + i * k, wq.data() + i * row_bytes, k);
      dequantize_row(wt, wq.data() + i * row_bytes, wd.data() + i * k, k);
    }
    std::vector<float> eye(static_cast<size_t>(k * k), 0.f);
    for (int64_t i = 0; i < k; ++i) eye[i * k + i] = 1.f;
    const Tensor x = Tensor::from_host(eye.data(), {k, k}, DType::kF32, cpu());
    const Tensor w = Tensor::from_host(wq.data(), {n, k}, wt, cpu());
    const std::vector<float> y = to_floats(ops::quant_linear(x, w));
    int bad = 0;
    for (int64_t t = 0; t < k && bad < 5; ++t)
      for (int64_t j = 0; j < n && bad < 5; ++j)
        if (y[t * n + j] != wd[j * k + t]) {
          ADD_FAILURE() << "w[" << j << ", " << t << "] dequantized to " << y[t * n + j]
                        << ", reference " << wd[j * k + t];
          ++bad;
        }
  }
}

TEST(CpuQuantLinear, GemmPathDequantizesBitExactly) { check_gemm_dequantizes_bit_exactly(); }

// ------------------------------------------------------------ SIMD targets
// The cpu plugin picks its kernels at run time with Highway; this machine
// runs its best target. Highway's own test hook (in the shared libhwy the
// plugin loaded) makes it pick the others, so their code runs here too.
class ForcedTarget {
 public:
  explicit ForcedTarget(int64_t targets) {
    cpu();  // loads the plugin, and with it libhwy (privately: look it up by name)
    lib_ = dlopen("libhwy.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (!lib_) return;
    set_ =
        reinterpret_cast<void (*)(int64_t)>(dlsym(lib_, "_ZN3hwy26SetSupportedTargetsForTestEl"));
    supported_ = reinterpret_cast<int64_t (*)()>(dlsym(lib_, "_ZN3hwy16SupportedTargetsEv"));
    if (!set_ || !supported_) return;
    if ((supported_() & targets) == 0) return;  // the cpu cannot run it
    set_(targets);
    active_ = (supported_() & ~targets) == 0;
  }
  ~ForcedTarget() {
    if (set_) set_(0);
    if (supported_) supported_();
    if (lib_) dlclose(lib_);
  }
  bool active() const { return active_; }

 private:
  void* lib_ = nullptr;
  void (*set_)(int64_t) = nullptr;
  int64_t (*supported_)() = nullptr;
  bool active_ = false;
};

TEST(CpuLinearTargets, EveryCompiledSimdTargetMatches) {
  const struct {
    const char* name;
    int64_t bits;
  } targets[] = {{"avx2", HWY_AVX2}, {"avx512", HWY_AVX3}, {"portable", HWY_EMU128 | HWY_SCALAR}};
  int ran = 0;
  for (const auto& tg : targets) {
    ForcedTarget forced(tg.bits);
    if (!forced.active()) {
      std::printf("[   NOTE   ] SIMD target %s not runnable here; skipped\n", tg.name);
      continue;
    }
    ++ran;
    SCOPED_TRACE(std::string("SIMD target ") + tg.name);
    for (DType dt : kFloatTypes) {
      check_linear({3, 37, 65, dt, Activation::kGelu});     // GEMV
      check_linear({45, 100, 300, dt, Activation::kSilu});  // GEMM, two depth blocks
      LinearCase c{20, 33, 70, dt};
      c.trans_a = true;
      c.trans_b = false;
      check_linear(c);
    }
    for (Precision pr : kPrecisions)
      for (DType wt : kQuantTypes) {
        const int64_t k = block_elems(wt) == 32 ? 96 : 512;
        for (QuantCase c : {QuantCase{1, 41, k, wt}, QuantCase{2, 41, k, wt},
                            QuantCase{12, 41, k, wt, DType::kBF16}, QuantCase{5, 19, k, wt}}) {
          c.exact_x = c.n == 19;
          c.precision = pr;
          check_quant_linear(c);
        }
      }
    check_gemm_dequantizes_bit_exactly();
  }
  if (ran == 0) GTEST_SKIP() << "Highway's target hook is not reachable (libhwy not shared?)";
}

TEST(CpuQuantLinear, OutlierInABlockKeepsTheOthersAccurate) {
  // One large value per block of 32 makes the q8 step of x coarse for the
  // rest of the block; the bound in check_quant_linear accounts for it.
  QuantCase c{1, 64, 256, DType::kQ8_0};
  c.precision = Precision::kFast;
  check_quant_linear(c, 99);
}

}  // namespace
}  // namespace rma
