// The conformance suite: every op, case by case, on a device and on the
// reference implementation with the same inputs, compared with the op's
// stated tolerance (docs/ops.md is the contract, src/ops/reference/ its code).
//
// Layout: a Builder makes random host tensors (fixed seed) and collects
// Cases; one builder function per op (several ops share one where their
// inputs agree) lists that op's dtypes, shapes and attribute variants;
// run_case() runs one Case anywhere. The first case each builder adds is its
// canonical f32 case, the one device_supports_ops() asks about.
#include "rma/conformance.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <iterator>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "ops/reference/reference.h"
#include "rma/dtype.h"
#include "rma/error.h"
#include "rma/ops.h"
#include "rma/quant.h"
#include "rma/tensor.h"

namespace rma {
namespace {

constexpr DType kFloatTypes[] = {DType::kF32, DType::kF16, DType::kBF16};
constexpr DType kQuantTypes[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1,
                                 DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

// ------------------------------------------------------------- tolerances

// A device value d passes against reference r when
// |d - r| <= atol + rtol * |r|.
struct Tol {
  double atol;
  double rtol;
};
struct OpTol {
  Tol f32, f16, bf16;  // by the dtype that sets the op's output precision
};

// f32 bounds leave room for other summation orders and SIMD approximations
// of exp/erf/tanh/sin; f16 and bf16 bounds are one or two units in the last
// place of the output plus rounded intermediates. quant_linear's entry is
// its accurate precision (f32 from the dequantized weights: linear's
// bounds); fast, where backends may round activations to 8 bits, has its
// own looser one below (docs/ops.md). Integer outputs (ids) are always
// compared exactly.
constexpr OpTol kTolerance[RMA_OP_COUNT] = {
    /* linear */ {{1e-4, 1e-3}, {5e-3, 1e-2}, {3e-2, 5e-2}},
    /* quant_linear (accurate) */ {{1e-4, 1e-3}, {5e-3, 1e-2}, {3e-2, 5e-2}},
    /* rms_norm */ {{1e-5, 1e-4}, {2e-3, 5e-3}, {1e-2, 2e-2}},
    /* add_rms_norm */ {{1e-5, 1e-4}, {2e-3, 5e-3}, {1e-2, 2e-2}},
    /* layer_norm */ {{1e-5, 1e-4}, {2e-3, 5e-3}, {1e-2, 2e-2}},
    // Angles pos * inv_freq held in f32 lose ~1e-4 at positions near 2048.
    /* rope */ {{5e-4, 1e-3}, {2e-3, 5e-3}, {1e-2, 2e-2}},
    // A copy, allowing one rounding step when the cache dtype differs.
    /* fill_kv_cache */ {{0, 1e-6}, {0, 1e-3}, {0, 8e-3}},
    /* prefill_attention */ {{1e-4, 1e-3}, {5e-3, 1e-2}, {3e-2, 5e-2}},
    /* paged_decode_attention */ {{1e-4, 1e-3}, {5e-3, 1e-2}, {3e-2, 5e-2}},
    /* silu_and_mul */ {{1e-5, 1e-4}, {2e-3, 5e-3}, {1e-2, 2e-2}},
    /* gelu_and_mul */ {{1e-5, 1e-4}, {2e-3, 5e-3}, {1e-2, 2e-2}},
    /* embedding */ {{1e-6, 1e-5}, {1e-3, 2e-3}, {1e-2, 1e-2}},
    // The weights are f32 whatever the logits' dtype.
    /* moe_gating_topk_softmax */ {{1e-5, 1e-4}, {1e-3, 5e-3}, {1e-3, 5e-3}},
    /* sample (ids only: exact) */ {{0, 0}, {0, 0}, {0, 0}},
    /* softmax */ {{1e-6, 1e-4}, {1e-3, 5e-3}, {1e-2, 2e-2}},
    /* add */ {{1e-6, 1e-5}, {1e-3, 2e-3}, {1e-2, 1e-2}},
    /* mul */ {{1e-6, 1e-5}, {1e-3, 2e-3}, {1e-2, 1e-2}},
    // Tier 2. unary: SIMD approximations of exp, log, sin, erf, tanh.
    /* unary */ {{1e-5, 1e-4}, {2e-3, 5e-3}, {1e-2, 2e-2}},
    /* binary */ {{1e-6, 1e-5}, {1e-3, 2e-3}, {1e-2, 1e-2}},
    /* matmul */ {{1e-4, 1e-3}, {5e-3, 1e-2}, {3e-2, 5e-2}},
    /* reduce */ {{1e-5, 1e-4}, {2e-3, 5e-3}, {1e-2, 2e-2}},
    // One rounding to the target dtype (the row is by y's dtype).
    /* cast */ {{0, 1e-6}, {0, 1e-3}, {0, 8e-3}},
    // Copies: exact.
    /* where */ {{0, 0}, {0, 0}, {0, 0}},
    /* gather */ {{0, 0}, {0, 0}, {0, 0}},
    /* concat */ {{0, 0}, {0, 0}, {0, 0}},
    /* slice */ {{0, 0}, {0, 0}, {0, 0}},
    /* transpose */ {{0, 0}, {0, 0}, {0, 0}},
    /* expand */ {{0, 0}, {0, 0}, {0, 0}},
    // Sums over C/group * kH * kW taps, like linear's over K.
    /* conv2d */ {{1e-4, 1e-3}, {5e-3, 1e-2}, {3e-2, 5e-2}},
    // A max is exact; an average is one sum and one division.
    /* pool2d */ {{1e-5, 1e-4}, {2e-3, 5e-3}, {1e-2, 2e-2}},
};

// quant_linear with RMA_PRECISION_FAST: activations rounded to q8 blocks of
// 32 (half a step of amax / 127 per element) give ~1% per output.
constexpr OpTol kQuantLinearFastTolerance = {{2e-2, 2e-2}, {3e-2, 3e-2}, {5e-2, 5e-2}};

Tol pick(const OpTol& t, DType precision) {
  return precision == DType::kF16 ? t.f16 : precision == DType::kBF16 ? t.bf16 : t.f32;
}
Tol tolerance(rma_op op, DType precision) { return pick(kTolerance[op], precision); }

// Summations of `reduction` terms widen a tolerance as sqrt(length / 256).
Tol widened(Tol t, int64_t reduction) {
  const double widen = std::max(1.0, std::sqrt(double(reduction) / 256.0));
  return {t.atol * widen, t.rtol * widen};
}

// Integers are exact: any difference (>= 1) normalises to >= 2.
constexpr Tol kExact{0.5, 0};

// ------------------------------------------------------------ host tensors

// A dense row-major ABI descriptor with `data` as its buffer (NULL in
// capability queries).
rma_tensor descriptor(const Shape& shape, DType dtype, void* data) {
  rma_tensor t{};
  t.struct_size = sizeof(rma_tensor);
  t.abi_version = RMA_ABI_VERSION;
  t.dtype = static_cast<int32_t>(dtype);
  t.ndim = static_cast<int32_t>(shape.size());
  const Shape strides = contiguous_strides(shape);
  for (size_t i = 0; i < shape.size(); ++i) {
    t.shape[i] = shape[i];
    t.strides[i] = strides[i];
  }
  t.data = data;
  return t;
}

struct HostTensor {
  Shape shape;
  DType dtype = DType::kF32;
  std::vector<uint8_t> bytes;  // dense row-major; at least 1 byte so data() is never null
  bool present = true;

  rma_tensor abi(void* data) const {
    return present ? descriptor(shape, dtype, data) : absent_tensor();
  }
  rma_tensor abi_host() { return abi(present ? bytes.data() : nullptr); }
};

HostTensor host_tensor(const Shape& shape, DType dtype) {
  HostTensor t{shape, dtype, {}, true};
  t.bytes.resize(std::max<int64_t>(1, bytes_for(dtype, numel(shape))));
  return t;
}

HostTensor absent() { return HostTensor{{}, DType::kF32, {}, false}; }

// "7,13". (Appended piece by piece: `"," + std::to_string(..)` trips GCC
// 12's -Wrestrict false positive once inlined.)
std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  return s;
}

// "[7,13]": compact, for case labels.
std::string compact(const Shape& s) { return "[" + join(s) + "]"; }

// ------------------------------------------------------------------ cases

struct Case {
  std::string dtype;   // label: "f32", "q4_0 x f16", "f32 -> f16 cache"
  std::string shapes;  // label: argument shapes and the attribute variant
  std::vector<HostTensor> inputs;
  std::vector<HostTensor> outputs;    // given outputs (in place, or a dtype choice); may be empty
  std::shared_ptr<const void> attrs;  // the op's attribute struct, or null
  Tol tol;
};

template <class A>
std::shared_ptr<const void> attrs_of(const A& a) {
  return std::make_shared<A>(a);
}

// Makes an op's inputs from one seeded generator and collects its cases.
// With `first_only` (capability queries) only the first case gets data;
// later ones keep their shapes and are dropped, so asking is cheap.
class Builder {
 public:
  Builder(rma_op op, uint64_t seed, bool first_only)
      : op_(op), first_only_(first_only), rng_(seed + 0x9E3779B97F4A7C15ull * (uint64_t(op) + 1)) {}

  rma_op op() const { return op_; }
  std::vector<Case>& cases() { return cases_; }

  int64_t randint(int64_t lo, int64_t hi) {  // inclusive
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  float randf(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng_); }
  template <class T>
  void shuffle(std::vector<T>& v) {
    std::shuffle(v.begin(), v.end(), rng_);
  }

  // Values uniform in [lo, hi), rounded (or block-quantized) to dtype.
  HostTensor uniform(const Shape& shape, DType dtype, float lo = -1.f, float hi = 1.f) {
    if (skipping()) return host_tensor(shape, dtype);
    std::vector<float> v(static_cast<size_t>(numel(shape)));
    for (float& x : v) x = randf(lo, hi);
    return floats(shape, dtype, v);
  }

  HostTensor floats(const Shape& shape, DType dtype, const std::vector<float>& v) {
    HostTensor t = host_tensor(shape, dtype);
    if (!v.empty() && !skipping()) quantize_row(dtype, v.data(), t.bytes.data(), numel(shape));
    return t;
  }

  HostTensor ints(const Shape& shape, DType dtype, const std::vector<int64_t>& v) {
    HostTensor t = host_tensor(shape, dtype);
    if (!v.empty()) reference::write_ints(t.abi_host(), v);
    return t;
  }

  // Values of any non-quantized dtype: floats uniform in [lo, hi), integers
  // uniform in [lo, hi] (bool: 0 or 1 whatever the range).
  HostTensor random(const Shape& shape, DType dtype, float lo = -1.f, float hi = 1.f) {
    if (is_float(dtype)) return uniform(shape, dtype, lo, hi);
    if (skipping()) return host_tensor(shape, dtype);
    std::vector<int64_t> v(static_cast<size_t>(numel(shape)));
    const bool boolean = dtype == DType::kBool;
    for (int64_t& x : v) x = boolean ? randint(0, 1) : randint(int64_t(lo), int64_t(hi));
    return ints(shape, dtype, v);
  }

  // Values lo + k * step in [lo, hi], exact in every dtype used: ties and
  // zeros for comparisons, arg-reductions and rounding.
  HostTensor grid(const Shape& shape, DType dtype, float lo, float hi, float step) {
    if (skipping()) return host_tensor(shape, dtype);
    const int64_t steps = static_cast<int64_t>(std::floor((hi - lo) / step));
    std::vector<float> v(static_cast<size_t>(numel(shape)));
    for (float& x : v) x = lo + step * float(randint(0, steps));
    if (is_float(dtype)) return floats(shape, dtype, v);
    return ints(shape, dtype, std::vector<int64_t>(v.begin(), v.end()));
  }

  // Adds a case: `names` label the inputs in the shapes column, `note` the
  // attribute variant. `reduction` is the longest summation, which widens
  // the tolerance as sqrt(length / 256).
  Case& add(std::string dtype_label, DType precision, std::vector<HostTensor> inputs,
            const std::vector<const char*>& names, std::shared_ptr<const void> attrs,
            const std::string& note = {}, int64_t reduction = 0) {
    Case c;
    c.dtype = std::move(dtype_label);
    for (size_t i = 0; i < inputs.size() && i < names.size(); ++i)
      if (inputs[i].present)
        c.shapes +=
            (c.shapes.empty() ? "" : " ") + std::string(names[i]) + compact(inputs[i].shape);
    if (!note.empty()) c.shapes += "; " + note;
    c.inputs = std::move(inputs);
    c.attrs = std::move(attrs);
    c.tol = widened(tolerance(op_, precision), reduction);
    if (skipping()) {
      scratch_ = std::move(c);
      return scratch_;
    }
    cases_.push_back(std::move(c));
    return cases_.back();
  }

 private:
  bool skipping() const { return first_only_ && !cases_.empty(); }

  rma_op op_;
  bool first_only_;
  std::mt19937_64 rng_;
  std::vector<Case> cases_;
  Case scratch_;  // what add() returns for a dropped case
};

std::string dname(DType dt) { return std::string(name(dt)); }

// ---------------------------------------------------------------- per op

constexpr Activation kActivations[] = {
    Activation::kRelu, Activation::kLeakyRelu, Activation::kGelu, Activation::kGeluTanh,
    Activation::kSilu, Activation::kSigmoid,   Activation::kTanh};
constexpr const char* kActivationNames[] = {"none",      "relu", "leaky_relu", "gelu",
                                            "gelu_tanh", "silu", "sigmoid",    "tanh"};

struct LinearShape {
  int64_t t, k, n;
};

// linear and quant_linear. w is scaled by 1/sqrt(K) so outputs stay O(1)
// whatever K is, and tolerances need no per-shape tuning.
void linear_like_cases(Builder& g) {
  const bool quant = g.op() == RMA_OP_QUANT_LINEAR;
  const std::vector<const char*> names = {"x", "w", "bias"};

  // One case. x_lead: leading dims of x instead of [T].
  auto one = [&](DType x_dt, DType w_dt, LinearShape s, rma_linear_attrs a, bool bias,
                 const std::string& note, Shape x_lead = {}) {
    Shape x_shape = a.trans_a ? Shape{s.k, s.t} : Shape{s.t, s.k};
    if (!x_lead.empty()) {
      x_shape = x_lead;
      x_shape.push_back(s.k);
    }
    const Shape w_shape = a.trans_b ? Shape{s.n, s.k} : Shape{s.k, s.n};
    const float w_range = 1.f / std::sqrt(float(std::max<int64_t>(s.k, 1)));
    std::vector<HostTensor> in = {g.uniform(x_shape, x_dt),
                                  g.uniform(w_shape, w_dt, -w_range, w_range),
                                  bias ? g.uniform({s.n}, x_dt, -0.5f, 0.5f) : absent()};
    const std::string label = quant ? dname(w_dt) + " x " + dname(x_dt) : dname(x_dt);
    const bool fast = quant && a.precision == RMA_PRECISION_FAST;
    Case& c = g.add(label, x_dt, std::move(in), names, attrs_of(a),
                    fast ? (note.empty() ? "fast" : note + ", fast") : note, s.k);
    if (fast) c.tol = widened(pick(kQuantLinearFastTolerance, x_dt), s.k);
  };

  if (!quant) {
    // Odd sizes, size 1, empty T, a mid size, one large.
    const LinearShape shapes[] = {
        {7, 13, 5}, {1, 1, 1}, {0, 16, 8}, {33, 100, 65}, {256, 512, 384}};
    const LinearShape v = {5, 33, 17};  // for the attribute variants
    for (DType dt : kFloatTypes) {
      for (const LinearShape& s : shapes) one(dt, dt, s, linear_attrs(), true, "");
      for (Activation act : kActivations)
        one(dt, dt, v, linear_attrs(act), true, kActivationNames[static_cast<int>(act)]);
      one(dt, dt, v, linear_attrs(Activation::kNone, true, true), true, "trans_a");
      one(dt, dt, v, linear_attrs(Activation::kNone, false, false), true, "trans_b=0");
      one(dt, dt, v, linear_attrs(Activation::kGelu, true, false), true, "trans_a trans_b=0 gelu");
      one(dt, dt, v, linear_attrs(Activation::kNone, false, true, 0.f, 0.5f), true, "alpha=0.5");
      one(dt, dt, v, linear_attrs(), false, "no bias");
      one(dt, dt, v, linear_attrs(), true, "x with leading dims", {2, 3});
    }
    return;
  }
  // quant_linear: every weight type with f32 activations over the shape set,
  // then f16 and bf16 activations on one shape each; in both precisions
  // (accurate, the default, first). T = 1 and a decode-sized K (several
  // blocks per row) are the shapes backends special-case.
  for (Precision pr : {Precision::kAccurate, Precision::kFast}) {
    const auto attrs = [pr](Activation act = Activation::kNone) {
      return with_precision(linear_attrs(act), pr);
    };
    for (DType wt : kQuantTypes) {
      const int64_t b = block_elems(wt);
      const LinearShape shapes[] = {
          {7, 2 * b, 13}, {1, b, 1}, {0, b, 8}, {1, 6 * b, 70}, {256, 512, 384}};
      for (const LinearShape& s : shapes) one(DType::kF32, wt, s, attrs(), true, "");
      one(DType::kF32, wt, {5, b, 9}, attrs(), false, "no bias");
      one(DType::kF32, wt, {5, b, 9}, attrs(Activation::kSilu), true, "silu");
      one(DType::kF32, wt, {5, b, 9}, attrs(), true, "x with leading dims", {2, 3});
    }
    for (DType x_dt : {DType::kF16, DType::kBF16})
      for (DType wt : kQuantTypes) one(x_dt, wt, {7, 2 * block_elems(wt), 13}, attrs(), true, "");
  }
  // f16 / bf16 weights (weight-only compression): any K, f32 activations at
  // decode (T = 1), small-batch (T = 4) and prefill-like (T = 33) sizes, then
  // 16-bit activations of the other type.
  for (DType wt : {DType::kF16, DType::kBF16}) {
    const LinearShape shapes[] = {
        {1, 100, 65}, {4, 576, 130}, {33, 200, 77}, {1, 1, 1}, {0, 16, 8}};
    for (const LinearShape& s : shapes) one(DType::kF32, wt, s, linear_attrs(), true, "");
    one(DType::kF32, wt, {4, 64, 9}, linear_attrs(), false, "no bias");
    one(DType::kF32, wt, {4, 64, 9}, linear_attrs(Activation::kGelu), true, "gelu");
    one(DType::kF32, wt, {5, 64, 9}, linear_attrs(), true, "x with leading dims", {2, 3});
    one(wt == DType::kF16 ? DType::kBF16 : DType::kF16, wt, {7, 96, 13}, linear_attrs(), true, "");
  }
}

// rms_norm, add_rms_norm, layer_norm: x[..., H], w[H] near 1.
void norm_cases(Builder& g) {
  const rma_op op = g.op();
  const Shape shapes[] = {{5, 17}, {1, 1}, {3, 4, 96}, {0, 64}, {128, 4096}};
  for (DType dt : kFloatTypes) {
    auto one = [&](const Shape& x, float eps, bool bias, const std::string& note) {
      const Shape w = {x.back()};
      std::vector<HostTensor> in;
      std::vector<const char*> names;
      if (op == RMA_OP_ADD_RMS_NORM) {
        in = {g.uniform(x, dt, -2.f, 2.f), g.uniform(x, dt, -2.f, 2.f),
              g.uniform(w, dt, 0.5f, 1.5f)};
        names = {"x", "residual", "w"};
      } else if (op == RMA_OP_LAYER_NORM) {
        // An offset mean checks that the mean is subtracted before squaring.
        in = {g.uniform(x, dt, -1.f, 3.f), g.uniform(w, dt, 0.5f, 1.5f),
              bias ? g.uniform(w, dt, -0.5f, 0.5f) : absent()};
        names = {"x", "w", "b"};
      } else {
        in = {g.uniform(x, dt, -2.f, 2.f), g.uniform(w, dt, 0.5f, 1.5f)};
        names = {"x", "w"};
      }
      const std::string eps_note = "eps=" + std::string(eps == 1e-6f ? "1e-6" : "1e-5");
      g.add(dname(dt), dt, std::move(in), names, attrs_of(norm_attrs(eps)),
            note.empty() ? eps_note : note + " " + eps_note, x.back());
    };
    for (const Shape& x : shapes) one(x, 1e-6f, true, "");
    one({7, 33}, 1e-5f, true, "");
    if (op == RMA_OP_LAYER_NORM) one({7, 33}, 1e-5f, false, "no bias");
  }
}

void rope_cases(Builder& g) {
  struct RopeShape {
    int64_t t, hq, hkv, d;
  };
  const std::vector<const char*> names = {"q", "k", "positions"};
  auto one = [&](DType dt, RopeShape s, rma_rope_attrs a, const std::string& note,
                 DType pos_dt = DType::kI32) {
    std::vector<int64_t> pos(static_cast<size_t>(s.t));
    for (auto& p : pos) p = g.randint(0, 2047);
    if (!pos.empty()) pos[0] = 0;  // position 0 rotates by nothing
    g.add(dname(dt), dt,
          {g.uniform({s.t, s.hq, s.d}, dt), g.uniform({s.t, s.hkv, s.d}, dt),
           g.ints({s.t}, pos_dt, pos)},
          names, attrs_of(a), note);
  };
  const RopeShape shapes[] = {{7, 4, 2, 64}, {1, 1, 1, 2}, {0, 2, 1, 16}, {300, 32, 8, 128}};
  const RopeShape v = {5, 3, 1, 32};
  for (DType dt : kFloatTypes) {
    for (const RopeShape& s : shapes) one(dt, s, rope_attrs(), "neox");
    one(dt, v, rope_attrs(10000.f, RMA_ROPE_GPTJ), "gptj");
    one(dt, v, rope_attrs(10000.f, RMA_ROPE_NEOX, 16), "neox rotary_dim=16");
    one(dt, v, rope_attrs(10000.f, RMA_ROPE_GPTJ, 16), "gptj rotary_dim=16");
    one(dt, {5, 2, 2, 9}, rope_attrs(10000.f, RMA_ROPE_NEOX, 8), "neox rotary_dim=8 odd D");
    rma_rope_attrs lin = rope_attrs(10000.f, RMA_ROPE_NEOX);
    lin.scaling = RMA_ROPE_SCALING_LINEAR;
    lin.factor = 4.f;
    one(dt, v, lin, "linear scaling x4");
    // Llama 3.1: theta 500000, factor 8, low 1, high 4, original 8192; with
    // D = 128 the frequencies span all three bands.
    rma_rope_attrs l3 = rope_attrs(500000.f, RMA_ROPE_NEOX);
    l3.scaling = RMA_ROPE_SCALING_LLAMA3;
    l3.factor = 8.f;
    one(dt, {9, 4, 2, 128}, l3, "llama3 scaling");
    one(dt, v, rope_attrs(), "neox i64 positions", DType::kI64);
  }
}

void fill_kv_cache_cases(Builder& g) {
  struct KvShape {
    int64_t t, hkv, d, num_blocks, block_size;
  };
  const std::vector<const char*> names = {"k", "v", "slot_mapping"};
  auto one = [&](DType k_dt, DType cache_dt, KvShape s, const std::string& note,
                 DType slot_dt = DType::kI32) {
    // Distinct slots in random blocks; about one in five is -1 (padding).
    std::vector<int64_t> slots(static_cast<size_t>(s.num_blocks * s.block_size));
    std::iota(slots.begin(), slots.end(), int64_t{0});
    g.shuffle(slots);
    slots.resize(static_cast<size_t>(s.t));
    for (auto& x : slots)
      if (s.t > 1 && g.randint(0, 4) == 0) x = -1;
    const Shape cache = {s.num_blocks, s.block_size, s.hkv, s.d};
    const std::string label =
        k_dt == cache_dt ? dname(k_dt) : dname(k_dt) + " -> " + dname(cache_dt) + " cache";
    Case& c = g.add(label, cache_dt,
                    {g.uniform({s.t, s.hkv, s.d}, k_dt), g.uniform({s.t, s.hkv, s.d}, k_dt),
                     g.ints({s.t}, slot_dt, slots)},
                    names, nullptr, "cache" + compact(cache) + (note.empty() ? "" : " " + note));
    // The caches come pre-filled: entries not written must keep their values.
    c.outputs = {g.uniform(cache, cache_dt), g.uniform(cache, cache_dt)};
  };
  const KvShape shapes[] = {
      {7, 2, 16, 4, 8}, {1, 1, 1, 1, 1}, {0, 2, 8, 2, 4}, {300, 8, 128, 24, 16}};
  for (DType dt : kFloatTypes) {
    for (const KvShape& s : shapes) one(dt, dt, s, "");
    one(dt, dt, {9, 2, 16, 4, 4}, "i64 slots", DType::kI64);
  }
  one(DType::kF32, DType::kF16, {9, 2, 16, 4, 4}, "");
  one(DType::kF32, DType::kBF16, {9, 2, 16, 4, 4}, "");
  one(DType::kF16, DType::kF32, {9, 2, 16, 4, 4}, "");
}

// ALiBi slopes as the ALiBi paper gives them for a power-of-two head count.
std::vector<float> alibi_slopes(int64_t heads) {
  std::vector<float> s(static_cast<size_t>(heads));
  for (int64_t h = 0; h < heads; ++h) s[h] = std::pow(2.f, -8.f * float(h + 1) / float(heads));
  return s;
}

void prefill_attention_cases(Builder& g) {
  struct AttnCase {
    std::vector<int64_t> seqlens;
    int64_t hq, hkv, d;
    bool causal;
    int window;
    bool alibi;
    std::string note;
  };
  const std::vector<const char*> names = {"q", "k", "v", "cu_seqlens", "alibi"};
  const AttnCase cases[] = {
      {{7}, 4, 4, 32, true, 0, false, "causal"},
      {{1}, 1, 1, 8, true, 0, false, "causal"},
      {{0}, 2, 1, 16, true, 0, false, "causal, empty"},
      {{300}, 8, 2, 64, true, 0, false, "causal GQA"},
      {{7}, 4, 4, 32, false, 0, false, "non-causal"},
      {{13}, 4, 4, 32, true, 4, false, "causal window=4"},
      {{13}, 4, 4, 32, false, 4, false, "non-causal window=4"},
      {{9}, 4, 4, 32, true, 0, true, "causal alibi"},
      {{9}, 8, 2, 32, true, 0, false, "causal GQA 8/2"},
      {{9}, 8, 1, 40, false, 0, false, "non-causal MQA D=40"},
      {{5, 0, 12, 3}, 4, 2, 24, true, 0, false, "varlen causal"},
      {{5, 0, 12, 3}, 4, 2, 24, false, 3, true, "varlen non-causal window=3 alibi"},
  };
  for (DType dt : kFloatTypes)
    for (const AttnCase& a : cases) {
      std::vector<int64_t> cu = {0};
      for (int64_t len : a.seqlens) cu.push_back(cu.back() + len);
      const int64_t t = cu.back();
      const rma_attention_attrs attrs =
          attention_attrs(1.f / std::sqrt(float(a.d)), a.causal, a.window);
      g.add(dname(dt), dt,
            {g.uniform({t, a.hq, a.d}, dt), g.uniform({t, a.hkv, a.d}, dt),
             g.uniform({t, a.hkv, a.d}, dt), g.ints({int64_t(cu.size())}, DType::kI32, cu),
             a.alibi ? g.floats({a.hq}, DType::kF32, alibi_slopes(a.hq)) : absent()},
            names, attrs_of(attrs),
            a.note + (a.seqlens.size() > 1 ? " lens " + join(a.seqlens) : ""));
    }
}

void paged_decode_attention_cases(Builder& g) {
  struct PagedCase {
    std::vector<int64_t> lens;
    int64_t hq, hkv, d, block_size;
    int window;
    bool alibi;
    std::string note;
  };
  const std::vector<const char*> names = {"q",           "k_cache",      "v_cache",
                                          "block_table", "context_lens", "alibi"};
  const PagedCase cases[] = {
      {{5, 1, 17, 0}, 4, 4, 32, 16, 0, false, ""},
      {{1}, 1, 1, 8, 1, 0, false, ""},
      {{}, 2, 1, 16, 16, 0, false, "no sequences"},
      {{300, 1000, 7, 64}, 8, 2, 128, 16, 0, false, "long"},
      {{33, 20, 0}, 8, 2, 64, 16, 0, false, "GQA"},
      {{40, 9}, 4, 4, 32, 16, 8, false, "window=8"},
      {{25, 3}, 4, 4, 32, 8, 0, true, "alibi"},
  };
  auto one = [&](DType dt, DType cache_dt, const PagedCase& p) {
    const int64_t batch = static_cast<int64_t>(p.lens.size());
    // Blocks are handed out from a shuffled pool, so a sequence's blocks are
    // neither contiguous nor in order; unused table entries are 0.
    int64_t max_blocks = 1, needed = 0;
    for (int64_t len : p.lens) {
      const int64_t nb = (len + p.block_size - 1) / p.block_size;
      max_blocks = std::max(max_blocks, nb);
      needed += nb;
    }
    const int64_t num_blocks = needed + 3;
    std::vector<int64_t> pool(static_cast<size_t>(num_blocks));
    std::iota(pool.begin(), pool.end(), int64_t{0});
    g.shuffle(pool);
    std::vector<int64_t> table(static_cast<size_t>(batch * max_blocks), 0);
    size_t next = 0;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t j = 0; j < (p.lens[b] + p.block_size - 1) / p.block_size; ++j)
        table[b * max_blocks + j] = pool[next++];
    const Shape cache = {num_blocks, p.block_size, p.hkv, p.d};
    const rma_attention_attrs attrs = attention_attrs(1.f / std::sqrt(float(p.d)), false, p.window);
    const std::string label =
        dt == cache_dt ? dname(dt) : dname(dt) + " q, " + dname(cache_dt) + " cache";
    g.add(
        label, dt,
        {g.uniform({batch, p.hq, p.d}, dt), g.uniform(cache, cache_dt), g.uniform(cache, cache_dt),
         g.ints({batch, max_blocks}, DType::kI32, table), g.ints({batch}, DType::kI32, p.lens),
         p.alibi ? g.floats({p.hq}, DType::kF32, alibi_slopes(p.hq)) : absent()},
        names, attrs_of(attrs),
        "lens " + join(p.lens) + " block_size " + std::to_string(p.block_size) +
            (p.note.empty() ? "" : " " + p.note));
  };
  for (DType dt : kFloatTypes)
    for (const PagedCase& p : cases) one(dt, dt, p);
  one(DType::kF32, DType::kF16, cases[0]);
  one(DType::kF16, DType::kF32, cases[4]);
}

// silu_and_mul, gelu_and_mul: x[..., 2I].
void act_and_mul_cases(Builder& g) {
  const bool gelu = g.op() == RMA_OP_GELU_AND_MUL;
  const Shape shapes[] = {{7, 26}, {1, 2}, {2, 3, 64}, {0, 16}, {64, 8192}};
  for (DType dt : kFloatTypes) {
    for (const Shape& s : shapes)
      g.add(dname(dt), dt, {g.uniform(s, dt, -4.f, 4.f)}, {"x"},
            gelu ? attrs_of(gelu_attrs(false)) : nullptr, gelu ? "erf" : "");
    if (gelu)
      for (const Shape& s : {Shape{7, 26}, Shape{2, 3, 64}})
        g.add(dname(dt), dt, {g.uniform(s, dt, -4.f, 4.f)}, {"x"}, attrs_of(gelu_attrs(true)),
              "tanh");
  }
}

void embedding_cases(Builder& g) {
  struct EmbShape {
    int64_t t, v, h;
  };
  const std::vector<const char*> names = {"ids", "table"};
  // Ids cover both ends of the table and repeat.
  auto one = [&](DType table_dt, EmbShape s, DType id_dt, DType out_dt, const std::string& note) {
    std::vector<int64_t> ids(static_cast<size_t>(s.t));
    for (auto& i : ids) i = g.randint(0, s.v - 1);
    if (s.t >= 3) {
      ids[0] = 0;
      ids[1] = s.v - 1;
      ids[2] = ids[0];
    }
    // The output dtype is the caller's (by default the table's for a float
    // table, f32 for a quantized one): any other is asked for by passing an
    // output of it.
    const DType default_dt = is_quantized(table_dt) ? DType::kF32 : table_dt;
    const bool labelled = is_quantized(table_dt) || out_dt != table_dt;
    const std::string label = labelled ? dname(table_dt) + " -> " + dname(out_dt) : dname(table_dt);
    Case& c = g.add(label, out_dt, {g.ints({s.t}, id_dt, ids), g.uniform({s.v, s.h}, table_dt)},
                    names, nullptr, note);
    if (out_dt != default_dt) c.outputs = {host_tensor({s.t, s.h}, out_dt)};
  };
  const EmbShape shapes[] = {{7, 100, 33}, {1, 1, 1}, {0, 10, 8}, {300, 1000, 256}};
  for (DType dt : kFloatTypes) {
    for (const EmbShape& s : shapes) one(dt, s, DType::kI32, dt, "");
    one(dt, {7, 100, 33}, DType::kI64, dt, "i64 ids");
  }
  for (DType qt : kQuantTypes) one(qt, {7, 50, 2 * block_elems(qt)}, DType::kI32, DType::kF32, "");
  one(DType::kQ4_0, {7, 50, 64}, DType::kI32, DType::kF16, "");
  one(DType::kQ4_K, {7, 50, 256}, DType::kI32, DType::kBF16, "");
  one(DType::kQ5_K, {7, 50, 256}, DType::kI32, DType::kF16, "");
  // Float tables converted to another float dtype.
  one(DType::kF16, {7, 100, 33}, DType::kI32, DType::kF32, "");
  one(DType::kBF16, {7, 100, 33}, DType::kI32, DType::kF32, "");
  one(DType::kF16, {300, 1000, 256}, DType::kI64, DType::kF32, "i64 ids");
  one(DType::kF32, {7, 100, 33}, DType::kI32, DType::kF16, "");
  one(DType::kF32, {7, 100, 33}, DType::kI32, DType::kBF16, "");
  one(DType::kBF16, {7, 100, 33}, DType::kI32, DType::kF16, "");
}

void moe_gating_cases(Builder& g) {
  struct MoeCase {
    int64_t t, e;
    int k;
    bool renormalize;
    bool ties;
  };
  // Logits are distinct multiples of 1/8 (exact in every float dtype), so
  // the top-k order cannot hinge on rounding; `ties` repeats each value once
  // to check that the lower expert id comes first.
  auto logits = [&](const MoeCase& m, DType dt) {
    std::vector<float> v(static_cast<size_t>(m.t * m.e));
    std::vector<int64_t> perm(static_cast<size_t>(m.e));
    for (int64_t t = 0; t < m.t; ++t) {
      std::iota(perm.begin(), perm.end(), int64_t{0});
      g.shuffle(perm);
      for (int64_t e = 0; e < m.e; ++e) {
        const int64_t level = m.ties ? perm[e] / 2 : perm[e];
        v[t * m.e + e] = 0.125f * float(level - m.e / 2);
      }
    }
    return g.floats({m.t, m.e}, dt, v);
  };
  const MoeCase cases[] = {{7, 8, 2, true, false},    {1, 1, 1, true, false},
                           {0, 8, 2, true, false},    {5, 60, 4, false, false},
                           {5, 60, 4, true, true},    {3, 16, 16, true, false},
                           {300, 128, 8, true, false}};
  for (DType dt : kFloatTypes)
    for (const MoeCase& m : cases)
      g.add(dname(dt), dt, {logits(m, dt)}, {"logits"},
            attrs_of(moe_gating_attrs(m.k, m.renormalize)),
            "k=" + std::to_string(m.k) + (m.renormalize ? " renormalize" : "") +
                (m.ties ? " ties" : ""));
}

void sample_cases(Builder& g) {
  struct SampleCase {
    int64_t b, v;
    rma_sample_attrs attrs;
    int64_t prev_len;  // prev_tokens [B, L] when > 0
    std::string note;
  };
  const SampleCase cases[] = {
      {4, 1000, sample_attrs(), 0, "greedy"},
      {1, 1, sample_attrs(), 0, "greedy"},
      {0, 50, sample_attrs(), 0, "greedy, empty"},
      {4, 1000, sample_attrs(0.8f, 40, 1.f, 0.f, 1.f, 7), 0, "top_k=40 seed 7"},
      {4, 1000, sample_attrs(1.f, 0, 0.9f, 0.f, 1.f, 11), 0, "top_p=0.9 seed 11"},
      {4, 1000, sample_attrs(1.f, 0, 1.f, 0.05f, 1.f, 13), 0, "min_p=0.05 seed 13"},
      {6, 1000, sample_attrs(0.7f, 50, 0.95f, 0.02f, 1.f, 17), 0, "top_k top_p min_p seed 17"},
      {4, 200, sample_attrs(1.5f, 0, 1.f, 0.f, 1.f, 19), 0, "temperature=1.5 seed 19"},
      {4, 100, sample_attrs(0.f, 0, 1.f, 0.f, 1.3f), 12, "greedy repetition_penalty=1.3"},
      {4, 100, sample_attrs(0.9f, 20, 1.f, 0.f, 1.3f, 23), 12, "repetition_penalty=1.3 seed 23"},
      {8, 32000, sample_attrs(1.f, 50, 0.9f, 0.f, 1.f, 29), 0, "top_k=50 top_p=0.9 seed 29"},
  };
  for (DType dt : kFloatTypes)
    for (const SampleCase& s : cases) {
      // Previous tokens come from a few ids (so they repeat) and end in two
      // -1 (padding).
      std::vector<int64_t> prev(static_cast<size_t>(s.b * s.prev_len));
      for (int64_t i = 0; i < s.b * s.prev_len; ++i)
        prev[i] =
            i % s.prev_len >= s.prev_len - 2 ? -1 : g.randint(0, std::min<int64_t>(s.v, 20) - 1);
      g.add(dname(dt), dt,
            {g.uniform({s.b, s.v}, dt, -5.f, 5.f),
             s.prev_len > 0 ? g.ints({s.b, s.prev_len}, DType::kI32, prev) : absent()},
            {"logits", "prev_tokens"}, attrs_of(s.attrs), s.note);
    }
}

void softmax_cases(Builder& g) {
  const Shape shapes[] = {{7, 13}, {1, 1}, {2, 3, 100}, {0, 8}, {64, 32000}};
  for (DType dt : kFloatTypes) {
    for (const Shape& s : shapes)
      g.add(dname(dt), dt, {g.uniform(s, dt, -8.f, 8.f)}, {"x"}, attrs_of(softmax_attrs()), "");
    rma_softmax_attrs last = softmax_attrs();
    last.axis = 1;  // the last axis named explicitly
    g.add(dname(dt), dt, {g.uniform({5, 9}, dt, -8.f, 8.f)}, {"x"}, attrs_of(last), "axis=1");
  }
  // log_softmax (attribute `log`).
  for (DType dt : kFloatTypes)
    for (const Shape& s : shapes)
      g.add(dname(dt), dt, {g.uniform(s, dt, -8.f, 8.f)}, {"x"}, attrs_of(softmax_attrs(true)),
            "log");
}

// add, mul: numpy broadcasting.
void binary_cases(Builder& g) {
  // One shape (odd, size 1, empty, 3-D, large), then broadcasting.
  const std::pair<Shape, Shape> shapes[] = {
      {{7, 13}, {7, 13}},
      {{1}, {1}},
      {{0, 5}, {0, 5}},
      {{3, 5, 17}, {3, 5, 17}},
      {{256, 1000}, {256, 1000}},
      {{4, 1, 5}, {3, 1}},
      {{5, 7}, {}},
      {{1, 6}, {6, 1}},
      {{0, 5}, {5}},
      {{2, 1, 3, 1}, {4, 1, 5}},
      {{512, 4096}, {4096}},
  };
  for (DType dt : kFloatTypes)
    for (const auto& [a, b] : shapes)
      g.add(dname(dt), dt, {g.uniform(a, dt, -2.f, 2.f), g.uniform(b, dt, -2.f, 2.f)}, {"a", "b"},
            nullptr, a == b ? "" : "broadcast");
}

// ------------------------------------------------------------------ Tier 2

constexpr DType kIntTypes[] = {DType::kI32, DType::kI64};
// Every dtype the data-movement ops take.
constexpr DType kPlainTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kI8,
                                 DType::kI32, DType::kI64, DType::kBool};

// The precision row of a case by its output dtype (ints are compared exactly).
DType precision_of(DType dt) { return is_float(dt) ? dt : DType::kF32; }

void unary_cases(Builder& g) {
  struct Kind {
    rma_unary_kind kind;
    float lo, hi;  // input range
    float step;    // > 0: values on a grid (rounding kinds hit halves)
    float p0 = 0, p1 = 0;
  };
  const Kind kinds[] = {
      {RMA_UNARY_NEG, -4, 4, 0},          {RMA_UNARY_ABS, -4, 4, 0},
      {RMA_UNARY_EXP, -6, 6, 0},          {RMA_UNARY_LOG, 0.01f, 10, 0},
      {RMA_UNARY_SQRT, 0, 10, 0},         {RMA_UNARY_RSQRT, 0.05f, 10, 0},
      {RMA_UNARY_RECIPROCAL, 0.1f, 4, 0}, {RMA_UNARY_SIN, -10, 10, 0},
      {RMA_UNARY_COS, -10, 10, 0},        {RMA_UNARY_ERF, -3, 3, 0},
      {RMA_UNARY_TANH, -5, 5, 0},         {RMA_UNARY_SIGMOID, -8, 8, 0},
      {RMA_UNARY_RELU, -2, 2, 0},         {RMA_UNARY_LEAKY_RELU, -2, 2, 0, 0.1f},
      {RMA_UNARY_GELU, -4, 4, 0},         {RMA_UNARY_GELU_TANH, -4, 4, 0},
      {RMA_UNARY_SILU, -8, 8, 0},         {RMA_UNARY_FLOOR, -4, 4, 0.25f},
      {RMA_UNARY_CEIL, -4, 4, 0.25f},     {RMA_UNARY_ROUND, -4, 4, 0.25f},
      {RMA_UNARY_SIGN, -2, 2, 0.5f},      {RMA_UNARY_CLIP, -3, 3, 0, -1.f, 1.5f},
  };
  auto one = [&](const Kind& k, DType dt, const Shape& s) {
    const std::string name(unary_kind_name(k.kind));
    HostTensor x = k.step > 0 ? g.grid(s, dt, k.lo, k.hi, k.step) : g.random(s, dt, k.lo, k.hi);
    g.add(dname(dt), precision_of(dt), {x}, {"x"}, attrs_of(unary_attrs(k.kind, k.p0, k.p1)), name);
  };
  // Every float kind in every float dtype, then a shape sweep (0-D, empty,
  // odd, large enough to be split across threads) on a few.
  for (DType dt : kFloatTypes)
    for (const Kind& k : kinds) one(k, dt, dt == DType::kF32 ? Shape{7, 13} : Shape{2, 3, 11});
  for (const Kind& k : {kinds[2], kinds[14], kinds[0]})
    for (const Shape& s : {Shape{}, Shape{0, 5}, Shape{1}, Shape{100003}, Shape{256, 1000}})
      one(k, DType::kF32, s);
  one(kinds[16], DType::kBF16, {256, 1000});
  // Integer kinds; NOT on bool.
  for (DType dt : kIntTypes)
    for (const Kind& k : {kinds[0], kinds[1], kinds[20], kinds[12], kinds[21]})
      one({k.kind, -50, 50, 0, k.kind == RMA_UNARY_CLIP ? -7.5f : 0.f, 20.f}, dt,
          dt == DType::kI32 ? Shape{7, 13} : Shape{1000});
  one({RMA_UNARY_CLIP, -50, 50, 0, -INFINITY, 3.f}, DType::kI64, {33});
  one({RMA_UNARY_NOT, 0, 1, 0}, DType::kBool, {7, 13});
  one({RMA_UNARY_NOT, 0, 1, 0}, DType::kBool, {100003});
}

void binary_tier2_cases(Builder& g) {
  const std::vector<const char*> names = {"a", "b"};
  const std::pair<Shape, Shape> same = {{7, 13}, {7, 13}};
  const std::pair<Shape, Shape> bcast = {{4, 1, 5}, {3, 1}};
  const std::pair<Shape, Shape> scalar = {{5, 7}, {}};
  // a, b from one range each; b avoids zero for division.
  auto one = [&](rma_binary_kind kind, DType dt, const std::pair<Shape, Shape>& s,
                 const std::string& note = {}) {
    const bool ints = !is_float(dt) && dt != DType::kBool;
    const bool comparison = kind >= RMA_BINARY_EQUAL && kind <= RMA_BINARY_GREATER_EQUAL;
    HostTensor a, b;
    if (comparison) {  // few distinct values, so that ties are common
      a = g.grid(s.first, dt, -2, 2, 0.5f);
      b = g.grid(s.second, dt, -2, 2, 0.5f);
    } else if (kind == RMA_BINARY_DIV || kind == RMA_BINARY_MOD) {
      a = g.random(s.first, dt, ints ? -40.f : -4.f, ints ? 40.f : 4.f);
      // |b| in [0.5, 2] (floats) or [1, 7] (ints), either sign.
      const int64_t n = numel(s.second);
      std::vector<float> v(static_cast<size_t>(n));
      for (float& x : v)
        x = (g.randint(0, 1) ? 1.f : -1.f) * (ints ? float(g.randint(1, 7)) : g.randf(0.5f, 2.f));
      b = ints ? g.ints(s.second, dt, std::vector<int64_t>(v.begin(), v.end()))
               : g.floats(s.second, dt, v);
    } else if (kind == RMA_BINARY_POW) {
      a = g.random(s.first, dt, 0.1f, 3.f);
      b = g.random(s.second, dt, -2.f, 2.f);
    } else {
      a = g.random(s.first, dt, ints ? -1000.f : -2.f, ints ? 1000.f : 2.f);
      b = g.random(s.second, dt, ints ? -1000.f : -2.f, ints ? 1000.f : 2.f);
    }
    const std::string name(binary_kind_name(kind));
    g.add(dname(dt), precision_of(dt), {a, b}, names, attrs_of(binary_attrs(kind)),
          note.empty() ? name : name + " " + note);
  };
  for (int k = 0; k < RMA_BINARY_COUNT; ++k) {
    const auto kind = static_cast<rma_binary_kind>(k);
    if (kind >= RMA_BINARY_AND) {
      one(kind, DType::kBool, same);
      one(kind, DType::kBool, bcast, "broadcast");
      continue;
    }
    for (DType dt : kFloatTypes) one(kind, dt, same);
    one(kind, DType::kF32, bcast, "broadcast");
    one(kind, DType::kF32, scalar, "scalar b");
    one(kind, DType::kF16, {{3, 1}, {3, 40}}, "broadcast");
    if (kind == RMA_BINARY_POW) continue;
    one(kind, DType::kI32, same);
    one(kind, DType::kI64, same);
    one(kind, DType::kI32, bcast, "broadcast");
    one(kind, DType::kI64, scalar, "scalar b");
  }
  // Shapes: 0-D, empty, large (split across threads) and the broadcasts
  // transformer graphs make: a row (bias), a column, a scalar.
  const std::pair<Shape, Shape> shapes[] = {{{}, {}},
                                            {{0, 5}, {5}},
                                            {{1, 6}, {6, 1}},
                                            {{256, 1000}, {256, 1000}},
                                            {{512, 4096}, {4096}},
                                            {{64, 1}, {64, 4096}},
                                            {{256, 1000}, {}},
                                            {{2, 1, 3, 1}, {4, 1, 5}},
                                            {{8, 12, 64, 64}, {8, 1, 1, 64}}};
  for (rma_binary_kind kind : {RMA_BINARY_ADD, RMA_BINARY_SUB, RMA_BINARY_DIV})
    for (const auto& s : shapes) one(kind, DType::kF32, s, "shapes");
  one(RMA_BINARY_MUL, DType::kBF16, shapes[4], "shapes");
  one(RMA_BINARY_LESS, DType::kF32, shapes[3], "shapes");
  one(RMA_BINARY_ADD, DType::kI64, shapes[4], "shapes");
  one(RMA_BINARY_AND, DType::kBool, shapes[3], "shapes");
}

void matmul_cases(Builder& g) {
  const std::pair<Shape, Shape> shapes[] = {{{7, 13}, {13, 5}},
                                            {{1, 1}, {1, 1}},
                                            {{0, 16}, {16, 8}},
                                            {{3, 0}, {0, 4}},
                                            {{16}, {16, 8}},
                                            {{7, 16}, {16}},
                                            {{16}, {16}},
                                            {{2, 3, 7, 13}, {13, 5}},
                                            {{7, 13}, {2, 13, 5}},
                                            {{2, 1, 5, 8}, {3, 8, 4}},
                                            {{4, 64, 64}, {4, 64, 64}},
                                            {{33, 100}, {100, 65}},
                                            {{128, 256}, {256, 384}},
                                            {{2, 12, 20, 64}, {2, 12, 64, 20}}};
  for (DType dt : kFloatTypes)
    for (const auto& [a, b] : shapes) {
      const int64_t k = a.back();
      const float r = 1.f / std::sqrt(float(std::max<int64_t>(k, 1)));
      g.add(dname(dt), dt, {g.uniform(a, dt), g.uniform(b, dt, -r, r)}, {"a", "b"}, nullptr, "", k);
    }
}

void reduce_cases(Builder& g) {
  struct Axes {
    Shape x;
    uint32_t axes;
  };
  // Trailing, leading, middle, non-adjacent and all axes; empty extents.
  const Axes general[] = {{{7, 13}, 0b10},        {{7, 13}, 0b01},        {{7, 13}, 0b11},
                          {{2, 3, 5, 4}, 0b1010}, {{2, 3, 5, 4}, 0b0110}, {{2, 3, 5, 4}, 0b1000},
                          {{2, 3, 5, 4}, 0b0001}, {{2, 3, 5, 4}, 0b1111}, {{4, 0}, 0b10},
                          {{0, 5}, 0b10},         {{64, 4096}, 0b10},     {{300, 7, 64}, 0b010},
                          {{1000, 3}, 0b01}};
  const Axes single[] = {{{7, 13}, 0b10},        {{7, 13}, 0b01},    {{2, 3, 5, 4}, 0b0100},
                         {{2, 3, 5, 4}, 0b1000}, {{64, 4096}, 0b10}, {{0, 5}, 0b10}};
  auto one = [&](rma_reduce_kind kind, DType dt, const Axes& s, bool keepdims) {
    const bool arg = kind == RMA_REDUCE_ARGMAX || kind == RMA_REDUCE_ARGMIN;
    const bool ints = !is_float(dt);
    int64_t count = 1;
    for (size_t d = 0; d < s.x.size(); ++d)
      if (s.axes >> d & 1) count *= s.x[d];
    // Sums of positive values keep relative errors meaningful; products
    // stay near 1; extremes see ties (grid) and both signs.
    HostTensor x;
    if (kind == RMA_REDUCE_PROD)
      x = ints ? g.random(s.x, dt, -3, 3) : g.random(s.x, dt, 0.9f, 1.1f);
    else if (kind == RMA_REDUCE_MAX || kind == RMA_REDUCE_MIN || arg)
      x = g.grid(s.x, dt, -2, 2, ints ? 1.f : 0.125f);
    else
      x = ints ? g.random(s.x, dt, -50, 50) : g.random(s.x, dt, 0.25f, 1.f);
    char mask[16];
    std::snprintf(mask, sizeof(mask), "0x%x", s.axes);
    g.add(dname(dt), precision_of(dt), {x}, {"x"}, attrs_of(reduce_attrs(kind, s.axes, keepdims)),
          std::string(reduce_kind_name(kind)) + " axes " + mask + (keepdims ? " keepdims" : ""),
          count);
  };
  for (int k = 0; k < RMA_REDUCE_COUNT; ++k) {
    const auto kind = static_cast<rma_reduce_kind>(k);
    const bool arg = kind == RMA_REDUCE_ARGMAX || kind == RMA_REDUCE_ARGMIN;
    const bool extreme = arg || kind == RMA_REDUCE_MAX || kind == RMA_REDUCE_MIN;
    for (const Axes& s : arg ? std::vector<Axes>(std::begin(single), std::end(single))
                             : std::vector<Axes>(std::begin(general), std::end(general))) {
      bool empty_axis = false;
      for (size_t d = 0; d < s.x.size(); ++d) empty_axis |= (s.axes >> d & 1) && s.x[d] == 0;
      if (extreme && empty_axis) continue;  // no value: the schema rejects it
      if (kind == RMA_REDUCE_PROD && numel(s.x) > 5000) continue;
      one(kind, DType::kF32, s, false);
    }
    const Axes& first = arg ? single[0] : general[0];
    const Axes& other = arg ? single[2] : general[3];
    one(kind, DType::kF32, first, true);
    one(kind, DType::kF32, other, true);
    for (DType dt : {DType::kF16, DType::kBF16, DType::kI32, DType::kI64}) {
      if (kind == RMA_REDUCE_MEAN && !is_float(dt)) continue;
      one(kind, dt, first, false);
      one(kind, dt, other, dt == DType::kI64);
    }
  }
}

void cast_cases(Builder& g) {
  constexpr DType kCastTypes[] = {DType::kF32, DType::kF16, DType::kBF16,
                                  DType::kI32, DType::kI64, DType::kBool};
  auto one = [&](DType from, DType to, const Shape& s, HostTensor x, const std::string& note) {
    g.add(dname(from) + " -> " + dname(to), precision_of(to), {std::move(x)}, {"x"},
          attrs_of(cast_attrs(to)), note);
  };
  for (DType from : kCastTypes)
    for (DType to : kCastTypes) {
      const Shape s = {7, 13};
      // Floats with fractions of both signs (truncation) and zeros (bool).
      HostTensor x =
          is_float(from) ? g.grid(s, from, -100, 100, 0.25f) : g.random(s, from, -1000, 1000);
      one(from, to, s, std::move(x), "");
    }
  one(DType::kF32, DType::kF16, {256, 1000}, g.uniform({256, 1000}, DType::kF32, -100, 100), "");
  one(DType::kBF16, DType::kF32, {100003}, g.uniform({100003}, DType::kBF16, -100, 100), "");
  one(DType::kF32, DType::kI64, {0, 5}, g.uniform({0, 5}, DType::kF32), "");
  one(DType::kI64, DType::kF32, {}, g.random({}, DType::kI64, -9, 9), "");
  // i64 -> i32 wraps: values past 2^31.
  std::vector<int64_t> big(100);
  for (int64_t& v : big) v = g.randint(-(int64_t{1} << 40), int64_t{1} << 40);
  one(DType::kI64, DType::kI32, {100}, g.ints({100}, DType::kI64, big), "wraps");
}

void where_cases(Builder& g) {
  struct WhereShape {
    Shape cond, a, b;
  };
  const WhereShape shapes[] = {{{7, 13}, {7, 13}, {7, 13}},
                               {{7, 1}, {13}, {}},
                               {{2, 1, 5}, {3, 1}, {2, 3, 5}},
                               {{0, 4}, {4}, {0, 4}},
                               {{}, {3}, {3}},
                               {{256, 1000}, {256, 1000}, {256, 1000}},
                               {{1, 1, 64, 64}, {8, 12, 64, 64}, {}}};
  for (DType dt : kPlainTypes)
    for (const WhereShape& s : shapes) {
      if (numel(s.a) > 4096 && dt != DType::kF32 && dt != DType::kF16) continue;
      g.add(dname(dt), precision_of(dt),
            {g.random(s.cond, DType::kBool), g.random(s.a, dt, -100, 100),
             g.random(s.b, dt, -100, 100)},
            {"cond", "a", "b"}, nullptr, "");
    }
}

void gather_cases(Builder& g) {
  struct GatherCase {
    Shape data, indices;
    int axis;
  };
  const GatherCase cases[] = {
      {{10, 7}, {5}, 0}, {{10, 7}, {3, 2}, 1},   {{2, 9, 3}, {4}, 1},     {{5}, {}, 0},
      {{4, 6}, {0}, 0},  {{2, 3, 4}, {2, 2}, 2}, {{32000, 64}, {300}, 0}, {{8, 1000}, {7}, 1}};
  auto one = [&](DType dt, DType index_dt, const GatherCase& c) {
    const int64_t n = c.data[c.axis];
    std::vector<int64_t> idx(static_cast<size_t>(numel(c.indices)));
    for (int64_t& i : idx) i = g.randint(-n, n - 1);  // negatives count from the end
    g.add(dname(dt), precision_of(dt),
          {g.random(c.data, dt, -100, 100), g.ints(c.indices, index_dt, idx)}, {"data", "indices"},
          attrs_of(axis_attrs(c.axis)),
          "axis=" + std::to_string(c.axis) + " " + dname(index_dt) + " indices");
  };
  for (const GatherCase& c : cases) one(DType::kF32, DType::kI64, c);
  for (DType dt : kPlainTypes) one(dt, DType::kI32, cases[1]);
  one(DType::kF16, DType::kI32, cases[6]);
}

void concat_cases(Builder& g) {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> n;
    for (int i = 0; i < kMaxVariadicInputs; ++i) n.push_back("x" + std::to_string(i));
    return n;
  }();
  std::vector<const char*> names;
  for (const std::string& n : kNames) names.push_back(n.c_str());
  auto one = [&](DType dt, const std::vector<Shape>& shapes, int axis) {
    std::vector<HostTensor> in;
    for (const Shape& s : shapes) in.push_back(g.random(s, dt, -100, 100));
    g.add(dname(dt), precision_of(dt), std::move(in), names, attrs_of(axis_attrs(axis)),
          "axis=" + std::to_string(axis));
  };
  for (DType dt : kPlainTypes) one(dt, {{2, 3}, {2, 5}}, 1);
  one(DType::kF32, {{3, 4}, {1, 4}, {2, 4}}, 0);
  one(DType::kF32, {{2, 0, 3}, {2, 4, 3}, {2, 1, 3}}, 1);
  one(DType::kF32, {{0, 3}, {0, 3}}, 0);
  one(DType::kI64, {{5}}, 0);
  one(DType::kF16, {{2, 3, 1}, {2, 3, 2}}, 2);
  one(DType::kF32, std::vector<Shape>(kMaxVariadicInputs, Shape{1, 3}), 0);
  one(DType::kF32, {{64, 1024}, {64, 1024}}, 1);
  one(DType::kBF16, {{8, 12, 100, 64}, {8, 12, 1, 64}}, 2);  // a KV cache append
}

void slice_cases(Builder& g) {
  struct SliceCase {
    Shape x;
    std::vector<int64_t> start, step, size;
  };
  const SliceCase cases[] = {
      {{10, 7}, {2, 0}, {1, 1}, {5, 7}},
      {{10, 7}, {1, 0}, {2, 3}, {5, 3}},
      {{10, 7}, {9, 6}, {-1, -2}, {10, 4}},
      {{10, 7}, {0, 3}, {1, 1}, {0, 2}},
      {{2, 3, 8, 4}, {0, 1, 2, 0}, {1, 1, 2, 1}, {2, 2, 3, 4}},
      {{2, 3, 8, 4}, {1, 2, 7, 3}, {-1, -1, -3, -1}, {2, 3, 3, 4}},
      {{}, {}, {}, {}},
      {{5}, {4}, {-1}, {5}},
      {{256, 1000}, {0, 100}, {1, 1}, {256, 500}},
      {{64, 2048}, {0, 1}, {1, 2}, {64, 1024}},
  };
  auto one = [&](DType dt, const SliceCase& c) {
    g.add(dname(dt), precision_of(dt), {g.random(c.x, dt, -100, 100)}, {"x"},
          attrs_of(slice_attrs(c.start, c.step, c.size)),
          "start " + join(c.start) + " step " + join(c.step) + " size " + join(c.size));
  };
  for (const SliceCase& c : cases) one(DType::kF32, c);
  for (DType dt : kPlainTypes) one(dt, cases[2]);
}

void transpose_cases(Builder& g) {
  struct TransposeCase {
    Shape x;
    std::vector<int> perm;
  };
  const TransposeCase cases[] = {{{7, 13}, {1, 0}},
                                 {{2, 3, 4}, {2, 0, 1}},
                                 {{2, 3, 4, 5}, {0, 2, 1, 3}},
                                 {{2, 3, 4, 5}, {0, 1, 3, 2}},
                                 {{4, 1, 5}, {1, 0, 2}},
                                 {{3, 4}, {0, 1}},
                                 {{0, 3}, {1, 0}},
                                 {{}, {}},
                                 {{512, 1024}, {1, 0}},
                                 {{8, 64, 12, 64}, {0, 2, 1, 3}},
                                 {{2, 12, 64, 100}, {0, 1, 3, 2}},
                                 {{3, 5, 7, 2, 3}, {4, 2, 0, 3, 1}}};
  auto one = [&](DType dt, const TransposeCase& c) {
    std::vector<int64_t> perm(c.perm.begin(), c.perm.end());
    g.add(dname(dt), precision_of(dt), {g.random(c.x, dt, -100, 100)}, {"x"},
          attrs_of(transpose_attrs(c.perm)), "perm " + join(perm));
  };
  for (const TransposeCase& c : cases) one(DType::kF32, c);
  for (DType dt : kPlainTypes) one(dt, cases[3]);
  one(DType::kBF16, cases[8]);
}

void expand_cases(Builder& g) {
  const std::pair<Shape, Shape> cases[] = {{{3, 1}, {2, 3, 4}},
                                           {{1}, {5}},
                                           {{}, {2, 3}},
                                           {{4}, {3, 4}},
                                           {{2, 1, 3}, {2, 5, 3}},
                                           {{0, 1}, {0, 4}},
                                           {{1, 4}, {0, 4}},
                                           {{3, 4}, {3, 4}},
                                           {{1, 4096}, {512, 4096}},
                                           {{512, 1}, {512, 4096}},
                                           {{8, 1, 64, 1}, {8, 12, 64, 64}}};
  auto one = [&](DType dt, const std::pair<Shape, Shape>& c) {
    g.add(dname(dt), precision_of(dt), {g.random(c.first, dt, -100, 100)}, {"x"},
          attrs_of(shape_attrs(c.second)), "to " + compact(c.second));
  };
  for (const auto& c : cases) one(DType::kF32, c);
  for (DType dt : kPlainTypes) one(dt, cases[4]);
}

// conv2d: one case per attribute the kernels branch on (stride, dilation,
// asymmetric pads, groups incl. depthwise, 1x1, bias, each activation), a
// 1-D conv (H = 1), an empty batch and one CNN-sized layer. w is scaled by
// 1/sqrt(C/group * kH * kW) so outputs stay O(1).
void conv2d_cases(Builder& g) {
  struct ConvCase {
    Shape x;  // [N, C, H, W]
    int64_t filters, kh, kw;
    rma_conv2d_attrs a;
    bool bias = true;
  };
  using Act = Activation;
  const ConvCase cases[] = {
      {{2, 3, 9, 11}, 4, 3, 3, conv2d_attrs({1, 1}, {1, 1}, {1, 1, 1, 1})},
      {{1, 4, 10, 9}, 6, 3, 3, conv2d_attrs({2, 2}, {1, 1}, {0, 1, 2, 1})},
      {{1, 3, 12, 12}, 5, 3, 3, conv2d_attrs({1, 1}, {2, 2}, {2, 2, 2, 2})},
      {{1, 5, 11, 13}, 4, 2, 3, conv2d_attrs({2, 1}, {1, 2}, {1, 0, 0, 2})},
      {{2, 4, 8, 8}, 6, 3, 3, conv2d_attrs({1, 1}, {1, 1}, {1, 1, 1, 1}, 2)},
      {{1, 8, 10, 10}, 8, 3, 3, conv2d_attrs({1, 1}, {1, 1}, {1, 1, 1, 1}, 8)},
      {{1, 8, 9, 9}, 16, 3, 3, conv2d_attrs({2, 2}, {1, 1}, {1, 1, 1, 1}, 8)},
      {{1, 6, 9, 10}, 6, 3, 3, conv2d_attrs({1, 1}, {2, 2}, {2, 1, 0, 3}, 6), false},
      {{2, 16, 7, 7}, 8, 1, 1, conv2d_attrs()},
      {{1, 16, 7, 7}, 8, 1, 1, conv2d_attrs({2, 2})},
      {{1, 6, 5, 5}, 4, 1, 1, conv2d_attrs({1, 1}, {1, 1}, {1, 0, 0, 1})},
      {{2, 3, 9, 11}, 4, 3, 3, conv2d_attrs({1, 1}, {1, 1}, {1, 1, 1, 1}), false},
      {{1, 4, 1, 20}, 3, 1, 5, conv2d_attrs({1, 2}, {1, 1}, {0, 2, 0, 2})},
      {{1, 2, 3, 3}, 3, 5, 5, conv2d_attrs({1, 1}, {1, 1}, {2, 2, 2, 2})},
      {{0, 3, 5, 5}, 2, 3, 3, conv2d_attrs()},
      {{1, 32, 32, 32}, 64, 3, 3, conv2d_attrs({1, 1}, {1, 1}, {1, 1, 1, 1}, 1, Act::kRelu)},
      {{1, 64, 16, 16}, 64, 3, 3, conv2d_attrs({1, 1}, {1, 1}, {1, 1, 1, 1}, 64, Act::kRelu)},
  };
  auto one = [&](DType dt, const ConvCase& c, const std::string& note) {
    const int64_t group_channels = c.x[1] / c.a.group, reduction = group_channels * c.kh * c.kw;
    const Shape w_shape = {c.filters, group_channels, c.kh, c.kw};
    const float w_range = 1.f / std::sqrt(float(std::max<int64_t>(reduction, 1)));
    std::vector<HostTensor> in = {g.uniform(c.x, dt), g.uniform(w_shape, dt, -w_range, w_range),
                                  c.bias ? g.uniform({c.filters}, dt, -0.5f, 0.5f) : absent()};
    const rma_conv2d_attrs& a = c.a;
    std::string label = "stride " + join({a.stride[0], a.stride[1]}) + " pad " +
                        join({a.pad[0], a.pad[1], a.pad[2], a.pad[3]});
    if (a.dilation[0] > 1 || a.dilation[1] > 1)
      label += " dilation " + join({a.dilation[0], a.dilation[1]});
    if (a.group > 1) label += " group " + std::to_string(a.group);
    if (!c.bias) label += " no bias";
    if (a.activation != RMA_ACT_NONE) label += std::string(" ") + kActivationNames[a.activation];
    if (!note.empty()) label += " " + note;
    g.add(dname(dt), dt, std::move(in), {"x", "w", "bias"}, attrs_of(a), label, reduction);
  };
  for (const ConvCase& c : cases) one(DType::kF32, c, "");
  for (DType dt : {DType::kF16, DType::kBF16})
    for (int i : {0, 1, 5, 7}) one(dt, cases[i], "");
  for (Activation act : kActivations) {
    ConvCase c = cases[1];
    c.a.activation = static_cast<int32_t>(act);
    c.a.activation_param = 0.1f;
    one(DType::kF32, c, "");
    if (act == Activation::kSilu) one(DType::kF16, c, "");
  }
}

// pool2d: max and average over strides, dilations, asymmetric pads,
// ceil_mode, count_include_pad, 1-D, global windows, an empty batch and one
// CNN-sized plane stack.
void pool2d_cases(Builder& g) {
  struct PoolCase {
    Shape x;
    rma_pool2d_attrs a;
  };
  constexpr rma_pool_kind kMax = RMA_POOL_MAX, kAvg = RMA_POOL_AVG;
  const PoolCase cases[] = {
      {{2, 3, 8, 8}, pool2d_attrs(kMax, {2, 2}, {2, 2})},
      {{2, 3, 8, 8}, pool2d_attrs(kAvg, {2, 2}, {2, 2})},
      {{1, 4, 11, 11}, pool2d_attrs(kMax, {3, 3}, {2, 2}, {1, 1, 1, 1})},
      {{1, 4, 11, 11}, pool2d_attrs(kAvg, {3, 3}, {1, 1}, {1, 1, 1, 1})},
      {{1, 4, 11, 11}, pool2d_attrs(kAvg, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, false, true)},
      {{1, 2, 10, 10}, pool2d_attrs(kMax, {3, 3}, {2, 2}, {0, 0, 0, 0}, {1, 1}, true)},
      {{1, 3, 10, 7}, pool2d_attrs(kAvg, {3, 3}, {2, 2}, {0, 1, 1, 0}, {1, 1}, true, true)},
      {{1, 3, 10, 7}, pool2d_attrs(kAvg, {3, 3}, {2, 2}, {0, 1, 1, 0}, {1, 1}, true, false)},
      {{1, 2, 9, 9}, pool2d_attrs(kMax, {2, 2}, {1, 1}, {0, 0, 0, 0}, {2, 2})},
      {{1, 2, 9, 9}, pool2d_attrs(kAvg, {2, 3}, {1, 2}, {1, 1, 0, 1}, {2, 1}, false, true)},
      {{1, 3, 1, 20}, pool2d_attrs(kMax, {1, 3}, {1, 2}, {0, 1, 0, 1})},
      {{2, 8, 7, 7}, pool2d_attrs(kAvg, {7, 7})},
      {{2, 8, 5, 6}, pool2d_attrs(kMax, {5, 6})},
      {{0, 3, 6, 6}, pool2d_attrs(kMax, {2, 2}, {2, 2})},
      {{4, 64, 56, 56}, pool2d_attrs(kMax, {3, 3}, {2, 2}, {1, 1, 1, 1})},
      {{2, 256, 7, 7}, pool2d_attrs(kAvg, {7, 7})},
  };
  auto one = [&](DType dt, const PoolCase& c) {
    const rma_pool2d_attrs& a = c.a;
    std::string label = std::string(a.kind == RMA_POOL_MAX ? "max" : "avg") + " kernel " +
                        join({a.kernel[0], a.kernel[1]}) + " stride " +
                        join({a.stride[0], a.stride[1]}) + " pad " +
                        join({a.pad[0], a.pad[1], a.pad[2], a.pad[3]});
    if (a.dilation[0] > 1 || a.dilation[1] > 1)
      label += " dilation " + join({a.dilation[0], a.dilation[1]});
    if (a.ceil_mode) label += " ceil_mode";
    if (a.count_include_pad) label += " count_include_pad";
    g.add(dname(dt), dt, {g.uniform(c.x, dt, -4.f, 4.f)}, {"x"}, attrs_of(a), label,
          int64_t{a.kernel[0]} * a.kernel[1]);
  };
  for (const PoolCase& c : cases) one(DType::kF32, c);
  for (DType dt : {DType::kF16, DType::kBF16})
    for (int i : {0, 1, 4, 6, 11}) one(dt, cases[i]);
}

using BuildFn = void (*)(Builder&);
// In op id order (rma_op).
constexpr BuildFn kBuilders[] = {
    linear_like_cases,
    linear_like_cases,
    norm_cases,
    norm_cases,
    norm_cases,
    rope_cases,
    fill_kv_cache_cases,
    prefill_attention_cases,
    paged_decode_attention_cases,
    act_and_mul_cases,
    act_and_mul_cases,
    embedding_cases,
    moe_gating_cases,
    sample_cases,
    softmax_cases,
    binary_cases,
    binary_cases,
    unary_cases,
    binary_tier2_cases,
    matmul_cases,
    reduce_cases,
    cast_cases,
    where_cases,
    gather_cases,
    concat_cases,
    slice_cases,
    transpose_cases,
    expand_cases,
    conv2d_cases,
    pool2d_cases,
};
static_assert(std::size(kBuilders) == RMA_OP_COUNT, "one case builder per op");

std::vector<Case> build_cases(rma_op op, uint64_t seed, bool first_only) {
  Builder g(op, seed, first_only);
  kBuilders[op](g);
  return std::move(g.cases());
}

// ---------------------------------------------------------------- running

// The call as a capability query: descriptors only (data NULL).
struct Query {
  std::vector<rma_tensor> inputs, outputs;
  rma_op_call call{};
};

// Builds the query for a case; `descs` receives the outputs' descriptions.
// Throws Error when the case breaks the op's schema (a bug in this file).
void make_query(rma_op op, const Case& c, Query& q, std::vector<TensorDesc>& descs) {
  for (const HostTensor& t : c.inputs) q.inputs.push_back(t.abi(nullptr));
  std::vector<rma_tensor> given;
  for (const HostTensor& t : c.outputs) given.push_back(t.abi(nullptr));
  descs = infer_outputs(op, q.inputs, c.attrs.get(), given);
  for (const TensorDesc& d : descs) q.outputs.push_back(descriptor(d.shape, d.dtype, nullptr));
  q.call.struct_size = sizeof(rma_op_call);
  q.call.abi_version = RMA_ABI_VERSION;
  q.call.op = op;
  q.call.num_inputs = static_cast<int32_t>(q.inputs.size());
  q.call.inputs = q.inputs.data();
  q.call.num_outputs = static_cast<int32_t>(q.outputs.size());
  q.call.outputs = q.outputs.data();
  q.call.attrs = c.attrs.get();
}

// The worst element over a case's outputs.
struct Worst {
  double norm = 0;  // |d - r| / (atol + rtol |r|)
  double abs = 0;
  std::string where;  // set when the worst element fails
  int64_t failing = 0;
};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

void compare(const std::string& output, const HostTensor& want, std::vector<uint8_t>& got, Tol tol,
             Worst& worst) {
  got.resize(std::max<size_t>(got.size(), 1));
  const rma_tensor want_t = want.abi(const_cast<uint8_t*>(want.bytes.data()));
  const rma_tensor got_t = want.abi(got.data());
  std::vector<double> w, d;
  if (is_float(want.dtype)) {
    for (float v : reference::read_floats(want_t)) w.push_back(v);
    for (float v : reference::read_floats(got_t)) d.push_back(v);
  } else {
    tol = kExact;
    for (int64_t v : reference::read_ints(want_t)) w.push_back(double(v));
    for (int64_t v : reference::read_ints(got_t)) d.push_back(double(v));
  }
  for (size_t i = 0; i < w.size(); ++i) {
    const bool same = d[i] == w[i] || (std::isnan(d[i]) && std::isnan(w[i]));
    const double diff = same ? 0 : std::fabs(d[i] - w[i]);
    const double bound = tol.atol + tol.rtol * std::fabs(w[i]);
    double norm = same ? 0 : bound > 0 ? diff / bound : std::numeric_limits<double>::infinity();
    if (std::isnan(norm)) norm = std::numeric_limits<double>::infinity();  // one side NaN or inf
    if (norm > 1) ++worst.failing;
    if (!same && std::isfinite(diff)) worst.abs = std::max(worst.abs, diff);
    if (norm > worst.norm || (std::isinf(norm) && worst.where.empty())) {
      worst.norm = norm;
      if (norm > 1)
        worst.where = "output '" + output + "' element " + std::to_string(i) + " of " +
                      std::to_string(w.size()) + ": got " + num(d[i]) + ", expected " + num(w[i]);
    }
  }
}

ConformanceResult run_case(const Device& device, rma_op op, Case& c) {
  ConformanceResult r;
  r.op = std::string(op_name(op));
  r.dtype = c.dtype;
  r.shapes = c.shapes;
  auto finish = [&](const std::string& status, const std::string& detail) {
    r.status = status;
    r.detail = detail;
    return r;
  };

  Query q;
  std::vector<TensorDesc> descs;
  try {
    make_query(op, c, q, descs);
  } catch (const std::exception& e) {
    return finish("error", std::string("the suite built an invalid case: ") + e.what());
  }
  std::string reason;
  if (!device.supports(q.call, &reason))
    return finish("unsupported", reason.empty() ? "declined by op_supported" : reason);

  // Expected outputs from the reference, on host copies of the same inputs.
  std::vector<HostTensor> expected;
  try {
    std::vector<rma_tensor> in, out;
    for (HostTensor& t : c.inputs) in.push_back(t.abi_host());
    for (size_t i = 0; i < descs.size(); ++i) {
      expected.push_back(i < c.outputs.size() ? c.outputs[i]
                                              : host_tensor(descs[i].shape, descs[i].dtype));
      out.push_back(expected.back().abi_host());
    }
    rma_op_call call = q.call;
    call.inputs = in.data();
    call.outputs = out.data();
    reference::run(call);
  } catch (const std::exception& e) {
    return finish("error", std::string("the reference failed on this case: ") + e.what());
  }

  // The device: upload, run, download.
  Worst worst;
  try {
    std::vector<Tensor> inputs, given;
    for (const HostTensor& t : c.inputs)
      inputs.push_back(t.present ? Tensor::from_host(t.bytes.data(), t.shape, t.dtype, device)
                                 : Tensor{});
    for (const HostTensor& t : c.outputs)
      given.push_back(Tensor::from_host(t.bytes.data(), t.shape, t.dtype, device));
    const std::vector<Tensor> outs = ops::run(op, inputs, c.attrs.get(), given);
    const auto& out_names = op_output_names(op);
    for (size_t i = 0; i < outs.size() && i < expected.size(); ++i) {
      std::vector<uint8_t> got = outs[i].to_host_bytes();
      compare(out_names[i], expected[i], got, c.tol, worst);
    }
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kUnsupported)
      return finish("error",
                    std::string("op_run declined a call op_supported accepted: ") + e.what());
    return finish("error", e.what());
  } catch (const std::exception& e) {
    return finish("error", e.what());
  }
  r.max_error = worst.norm;
  r.max_abs_error = worst.abs;
  if (worst.norm <= 1) return finish("pass", "");
  return finish("FAIL", std::to_string(worst.failing) + " element(s) outside atol " +
                            num(c.tol.atol) + " + rtol " + num(c.tol.rtol) + "; worst at " +
                            worst.where);
}

std::vector<rma_op> selected_ops(const std::string& name) {
  if (name.empty()) return all_ops();
  if (const auto op = parse_op(name)) return {*op};
  std::string known;
  for (rma_op op : all_ops()) known += (known.empty() ? "" : ", ") + std::string(op_name(op));
  throw Error(ErrorCode::kInvalidArgument, "unknown op '" + name + "'; ops: " + known);
}

}  // namespace

bool device_supports_ops(const Device& device, const std::vector<rma_op>& ops) {
  std::vector<rma_op> tier1;
  if (ops.empty())  // the LLM ops every backend should have; Tier 2 may fall back
    for (rma_op op : all_ops())
      if (op < RMA_OP_UNARY) tier1.push_back(op);
  for (rma_op op : ops.empty() ? tier1 : ops) {
    if (op < 0 || op >= RMA_OP_COUNT) return false;
    std::vector<Case> cases = build_cases(op, ConformanceOptions{}.seed, true);
    if (cases.empty()) return false;
    Query q;
    std::vector<TensorDesc> descs;
    try {
      make_query(op, cases.front(), q, descs);
    } catch (const Error&) {
      return false;
    }
    if (!device.supports(q.call)) return false;
  }
  return true;
}

ConformanceSummary run_conformance(const Device& device, const ConformanceOptions& options,
                                   const std::function<void(const ConformanceResult&)>& on_result) {
  ConformanceSummary summary;
  for (rma_op op : selected_ops(options.op)) {
    std::vector<Case> cases;
    try {
      cases = build_cases(op, options.seed, false);
    } catch (const std::exception& e) {
      ConformanceResult r;
      r.op = std::string(op_name(op));
      r.status = "error";
      r.detail = std::string("building the cases failed: ") + e.what();
      ++summary.failed;
      if (on_result) on_result(r);
      continue;
    }
    for (Case& c : cases) {
      const ConformanceResult r = run_case(device, op, c);
      if (r.status == "pass")
        ++summary.passed;
      else if (r.status == "unsupported")
        ++summary.unsupported;
      else
        ++summary.failed;
      if (on_result) on_result(r);
    }
  }
  return summary;
}

}  // namespace rma
