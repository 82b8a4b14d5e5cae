// The CUDA attention-family ops (rope, fill_kv_cache, prefill_attention,
// paged_decode_attention, moe_gating_topk_softmax, sample).
//
// Host part (always runs): the per-element math the kernels use, compiled
// here from the same headers (backends/cuda/ops/*/kernels/*_math.h), checked
// against the reference implementation - the sampling rule and RNG bit for
// bit, the attention algorithms (tiles, online softmax, split-K merge) and
// rope within the conformance tolerances, by emulating each kernel's order
// of work on the host.
//
// Device part: the ops on a CUDA device against the reference (the
// conformance cases plus larger shapes that take the kernels' other paths),
// and bad index tensors reported by entry. Skips with one line where no
// CUDA device is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numbers>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../../backends/cuda/ops/moe_gating_topk_softmax/kernels/moe_math.h"
#include "../../backends/cuda/ops/prefill_attention/kernels/attention_math.h"
#include "../../backends/cuda/ops/rope/kernels/rope_math.h"
#include "../../backends/cuda/ops/sample/kernels/sample_math.h"
#include "ops/reference/reference.h"
#include "rma/conformance.h"
#include "rma/device.h"
#include "rma/error.h"
#include "rma/ops.h"
#include "rma/quant.h"
#include "rma/tensor.h"

namespace rma {
namespace {

namespace am = cuda::attention_math;
namespace sm = cuda::sample_math;

// ------------------------------------------------------------ host tensors

// A dense host tensor handed to the reference as an rma_tensor.
class HostBuf {
 public:
  HostBuf(DType dtype, std::vector<int64_t> shape) : dtype_(dtype), shape_(std::move(shape)) {
    int64_t n = 1;
    for (int64_t d : shape_) n *= d;
    count_ = n;
    bytes_.resize(static_cast<size_t>(std::max<int64_t>(1, bytes_for(dtype_, n))));
  }
  static HostBuf floats(DType dtype, std::vector<int64_t> shape, const std::vector<float>& v) {
    HostBuf t(dtype, std::move(shape));
    if (!v.empty()) quantize_row(dtype, v.data(), t.bytes_.data(), t.count_);
    return t;
  }
  static HostBuf ints(DType dtype, std::vector<int64_t> shape, const std::vector<int64_t>& v) {
    HostBuf t(dtype, std::move(shape));
    reference::write_ints(t.abi(), v);
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
    t.data = bytes_.data();
    return t;
  }
  std::vector<float> as_floats() { return reference::read_floats(abi()); }
  std::vector<int64_t> as_ints() { return reference::read_ints(abi()); }

 private:
  DType dtype_;
  std::vector<int64_t> shape_;
  int64_t count_ = 0;
  std::vector<uint8_t> bytes_;
};

void run_reference(rma_op op, std::vector<rma_tensor> in, std::vector<rma_tensor> out,
                   const void* attrs) {
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

std::vector<float> uniform_floats(std::mt19937_64& rng, size_t n, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// |got - want| <= atol + rtol |want| everywhere.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double atol,
                  double rtol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t bad = 0, worst = 0;
  double worst_err = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - want[i]);
    const double bound = atol + rtol * std::fabs(double(want[i]));
    if (!(err <= bound)) {
      ++bad;
      if (!(err <= worst_err)) {
        worst_err = err;
        worst = i;
      }
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": worst at " << worst << ": got " << got[worst] << ", want "
                     << want[worst];
}

// ===================================================================== rope

// inv_freq transcribed from docs/ops.md "rope" (double, then f32).
float docs_inv_freq(const rma_rope_attrs& a, int64_t i, int64_t r) {
  double f = std::pow(double(a.theta), -2.0 * double(i) / double(r));
  if (a.scaling == RMA_ROPE_SCALING_LINEAR) f /= a.factor;
  if (a.scaling == RMA_ROPE_SCALING_LLAMA3) {
    const double wavelen = 2.0 * std::numbers::pi / f;
    const double lo = a.original_max_position / double(a.low_freq_factor);
    const double hi = a.original_max_position / double(a.high_freq_factor);
    if (wavelen > lo) {
      f = f / a.factor;
    } else if (wavelen >= hi) {
      const double s = (a.original_max_position / wavelen - a.low_freq_factor) /
                       (double(a.high_freq_factor) - a.low_freq_factor);
      f = (1 - s) * f / a.factor + s * f;
    }
  }
  return static_cast<float>(f);
}

rma_rope_attrs llama3_attrs() {
  rma_rope_attrs a = rope_attrs(500000.f, RMA_ROPE_NEOX);
  a.scaling = RMA_ROPE_SCALING_LLAMA3;
  a.factor = 8.f;
  a.low_freq_factor = 1.f;
  a.high_freq_factor = 4.f;
  a.original_max_position = 8192;
  return a;
}

TEST(CudaRopeMath, InverseFrequenciesAreTheDocumentedOnesBitForBit) {
  rma_rope_attrs linear = rope_attrs(10000.f);
  linear.scaling = RMA_ROPE_SCALING_LINEAR;
  linear.factor = 4.f;
  bool blended = false, divided = false, kept = false;
  for (const rma_rope_attrs& a : {rope_attrs(10000.f), rope_attrs(1e6f), linear, llama3_attrs()})
    for (int64_t r : {2, 16, 64, 96, 128, 512})
      for (int64_t i = 0; i < r / 2; ++i) {
        EXPECT_EQ(cuda::rope_math::inv_freq(a, i, r), docs_inv_freq(a, i, r))
            << "theta " << a.theta << " scaling " << a.scaling << " r " << r << " i " << i;
        if (a.scaling == RMA_ROPE_SCALING_LLAMA3 && r == 128) {
          const double wavelen = 2 * std::numbers::pi / std::pow(500000.0, -2.0 * i / 128);
          kept |= wavelen < 2048;
          divided |= wavelen > 8192;
          blended |= wavelen >= 2048 && wavelen <= 8192;
        }
      }
  EXPECT_TRUE(kept && divided && blended) << "llama3 case should cover all three bands";
}

TEST(CudaRopeMath, PairElementsFollowNeoxAndGptj) {
  int64_t i0 = 0, i1 = 0;
  cuda::rope_math::pair_elements(false, 3, 8, &i0, &i1);
  EXPECT_EQ(i0, 3);
  EXPECT_EQ(i1, 11);
  cuda::rope_math::pair_elements(true, 3, 8, &i0, &i1);
  EXPECT_EQ(i0, 6);
  EXPECT_EQ(i1, 7);
  float y0 = 0, y1 = 0;
  cuda::rope_math::rotate_pair(1.f, 0.f, 0.f, 1.f, &y0, &y1);  // a quarter turn
  EXPECT_EQ(y0, 0.f);
  EXPECT_EQ(y1, 1.f);
}

// The rope kernel's arithmetic on the host (f32 angle, f32 rotation) against
// the reference (double), within the conformance tolerance for f32.
TEST(CudaRopeMath, KernelArithmeticMatchesTheReference) {
  struct Case {
    int64_t t, hq, hkv, d;
    rma_rope_attrs attrs;
  };
  rma_rope_attrs linear = rope_attrs(10000.f);
  linear.scaling = RMA_ROPE_SCALING_LINEAR;
  linear.factor = 4.f;
  const Case cases[] = {{7, 4, 2, 64, rope_attrs()},
                        {5, 3, 1, 32, rope_attrs(10000.f, RMA_ROPE_GPTJ)},
                        {5, 3, 1, 32, rope_attrs(10000.f, RMA_ROPE_NEOX, 16)},
                        {5, 3, 1, 32, rope_attrs(10000.f, RMA_ROPE_GPTJ, 16)},
                        {5, 2, 2, 9, rope_attrs(10000.f, RMA_ROPE_NEOX, 8)},
                        {5, 3, 1, 32, linear},
                        {9, 4, 2, 128, llama3_attrs()}};
  std::mt19937_64 rng(5);
  for (const Case& c : cases) {
    const int64_t r = c.attrs.rotary_dim == 0 ? c.d : c.attrs.rotary_dim;
    std::vector<int64_t> pos(static_cast<size_t>(c.t));
    for (auto& p : pos) p = std::uniform_int_distribution<int64_t>(0, 2047)(rng);
    const std::vector<float> qv = uniform_floats(rng, size_t(c.t * c.hq * c.d));
    const std::vector<float> kv = uniform_floats(rng, size_t(c.t * c.hkv * c.d));
    HostBuf q = HostBuf::floats(DType::kF32, {c.t, c.hq, c.d}, qv);
    HostBuf k = HostBuf::floats(DType::kF32, {c.t, c.hkv, c.d}, kv);
    HostBuf positions = HostBuf::ints(DType::kI64, {c.t}, pos);
    HostBuf qo(DType::kF32, {c.t, c.hq, c.d}), ko(DType::kF32, {c.t, c.hkv, c.d});
    run_reference(RMA_OP_ROPE, {q.abi(), k.abi(), positions.abi()}, {qo.abi(), ko.abi()}, &c.attrs);

    auto emulate = [&](std::vector<float> x, int64_t heads) {
      for (int64_t t = 0; t < c.t; ++t)
        for (int64_t pair = 0; pair < r / 2; ++pair) {
          const float a =
              cuda::rope_math::angle(pos[size_t(t)], cuda::rope_math::inv_freq(c.attrs, pair, r));
          const float cs = std::cos(a), sn = std::sin(a);
          int64_t i0 = 0, i1 = 0;
          cuda::rope_math::pair_elements(c.attrs.style == RMA_ROPE_GPTJ, pair, r / 2, &i0, &i1);
          for (int64_t h = 0; h < heads; ++h) {
            float* row = x.data() + (t * heads + h) * c.d;
            cuda::rope_math::rotate_pair(row[i0], row[i1], cs, sn, &row[i0], &row[i1]);
          }
        }
      return x;
    };
    const std::string what = "rope d " + std::to_string(c.d) + " r " + std::to_string(r) +
                             " style " + std::to_string(c.attrs.style) + " scaling " +
                             std::to_string(c.attrs.scaling);
    expect_close(emulate(qv, c.hq), qo.as_floats(), 5e-4, 1e-3, what + " q");
    expect_close(emulate(kv, c.hkv), ko.as_floats(), 5e-4, 1e-3, what + " k");
  }
}

// ================================================================ attention

TEST(CudaAttentionMath, SequenceOfPassesOverEmptySequences) {
  const std::vector<int32_t> cu = {0, 5, 5, 17, 17, 17, 20};
  const int32_t batch = static_cast<int32_t>(cu.size()) - 1;
  for (int64_t t = 0; t < cu.back(); ++t) {
    int32_t want = -1;
    for (int32_t b = 0; b < batch; ++b)
      if (cu[b] <= t && t < cu[b + 1]) want = b;
    EXPECT_EQ(am::sequence_of(cu.data(), batch, t), want) << "token " << t;
  }
  const std::vector<int32_t> one = {0, 9};
  EXPECT_EQ(am::sequence_of(one.data(), 1, 8), 0);
}

TEST(CudaAttentionMath, KeyRangeIsExactlyTheAttendedKeys) {
  for (bool causal : {false, true})
    for (int32_t window : {0, 1, 3, 50}) {
      const int64_t start = 10, end = 30;
      for (int64_t i = start; i < end; ++i) {
        int64_t lo = 0, hi = 0;
        am::key_range(i, start, end, causal, window, &lo, &hi);
        for (int64_t j = start; j < end; ++j)
          EXPECT_EQ(j >= lo && j < hi, am::attends(i, j, causal, window))
              << "i " << i << " j " << j << " causal " << causal << " window " << window;
        if (i > start) {  // monotonic, so a tile needs its first begin and last end
          int64_t plo = 0, phi = 0;
          am::key_range(i - 1, start, end, causal, window, &plo, &phi);
          EXPECT_LE(plo, lo);
          EXPECT_LE(phi, hi);
        }
      }
    }
}

TEST(CudaAttentionMath, TileRowsCoverEveryQueryOnce) {
  for (int32_t rows : {32, 64})
    for (int32_t group : {1, 2, 3, 4, 7, 8, 64, 100})
      for (int64_t tokens : {1, 5, 33, 130}) {
        const am::TileShape s = am::tile_shape(group, rows);
        ASSERT_GE(s.tpt, 1);
        ASSERT_GE(s.gh * s.nhc, group);
        const int64_t tiles = (tokens + s.tpt - 1) / s.tpt;
        std::vector<int> seen(static_cast<size_t>(tokens * group), 0);
        for (int64_t tile = 0; tile < tiles; ++tile)
          for (int32_t chunk = 0; chunk < s.nhc; ++chunk)
            for (int32_t r = 0; r < rows; ++r) {
              int64_t t = 0;
              int32_t hi = 0;
              if (am::tile_row(s, tile, chunk, r, tokens, &t, &hi)) {
                ASSERT_LT(t, tokens);
                ASSERT_LT(hi, group);
                ++seen[size_t(t * group + hi)];
              }
            }
        for (size_t i = 0; i < seen.size(); ++i)
          ASSERT_EQ(seen[i], 1) << "rows " << rows << " group " << group << " tokens " << tokens
                                << " query " << i;
      }
}

TEST(CudaAttentionMath, MergingPartialsEqualsOnePass) {
  std::mt19937_64 rng(9);
  const std::vector<float> scores = uniform_floats(rng, 40, -6.f, 6.f);
  const std::vector<float> values = uniform_floats(rng, 40);
  auto partial = [&](size_t from, size_t to, float* acc) {
    am::Partial s;
    for (size_t i = from; i < to; ++i) s.m = std::max(s.m, scores[i]);
    *acc = 0;
    for (size_t i = from; i < to; ++i) {
      const float w = am::weight(scores[i], s.m);
      s.l += w;
      *acc += w * values[i];
    }
    return s;
  };
  double num = 0, den = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    num += std::exp2(double(scores[i])) * values[i];
    den += std::exp2(double(scores[i]));
  }
  for (size_t cut : {size_t(0), size_t(1), size_t(17), size_t(40)}) {
    float acc_a = 0, acc_b = 0, sa = 0, sb = 0;
    const am::Partial a = partial(0, cut, &acc_a), b = partial(cut, scores.size(), &acc_b);
    const am::Partial m = am::merge(a, b, &sa, &sb);
    EXPECT_NEAR(am::finish(acc_a * sa + acc_b * sb, m.l), num / den, 1e-6) << "cut " << cut;
  }
  // Nothing merged with nothing stays nothing, without NaN.
  float sa = 1, sb = 1;
  const am::Partial none = am::merge(am::Partial{}, am::Partial{}, &sa, &sb);
  EXPECT_EQ(none.l, 0.f);
  EXPECT_EQ(sa, 0.f);
  EXPECT_EQ(sb, 0.f);
  EXPECT_EQ(am::finish(0.f, none.l), 0.f);
  EXPECT_EQ(am::weight(-INFINITY, -INFINITY), 0.f);
}

struct AttnCase {
  std::vector<int64_t> seqlens;
  int64_t hq, hkv, d;
  bool causal;
  int window;
  bool alibi;
};

std::vector<float> alibi_slopes(int64_t heads) {
  std::vector<float> s(static_cast<size_t>(heads));
  for (int64_t h = 0; h < heads; ++h) s[h] = std::pow(2.f, -8.f * float(h + 1) / float(heads));
  return s;
}

// The prefill kernels' order of work on the host: tiles of `rows` rows
// (attention_math::tile_row), the tile's key range from its first and last
// tokens, K/V tiles of `bn` keys, the online softmax in log2 units.
std::vector<float> emulate_prefill(const AttnCase& c, const std::vector<int32_t>& cu,
                                   const std::vector<float>& q, const std::vector<float>& k,
                                   const std::vector<float>& v, const std::vector<float>& slopes,
                                   float scale, int32_t rows, int64_t bn) {
  const int64_t tokens = cu.back(), d = c.d;
  const int32_t batch = static_cast<int32_t>(cu.size()) - 1;
  const int32_t group = static_cast<int32_t>(c.hq / c.hkv);
  const am::TileShape s = am::tile_shape(group, rows);
  const float scale_log2 = scale * am::kLog2e;
  std::vector<float> out(static_cast<size_t>(tokens * c.hq * d), std::nanf(""));
  auto bounds = [&](int64_t t, int64_t* lo, int64_t* hi) {
    const int32_t b = am::sequence_of(cu.data(), batch, t);
    am::key_range(t, cu[b], cu[b + 1], c.causal, c.window, lo, hi);
  };
  const int64_t tiles = (tokens + s.tpt - 1) / s.tpt;
  for (int64_t tile = 0; tile < tiles; ++tile) {
    int64_t kv_begin = 0, kv_end = 0, unused = 0;
    bounds(tile * s.tpt, &kv_begin, &unused);
    bounds(std::min(tile * s.tpt + s.tpt, tokens) - 1, &unused, &kv_end);
    for (int64_t g = 0; g < c.hkv; ++g)
      for (int32_t chunk = 0; chunk < s.nhc; ++chunk)
        for (int32_t r = 0; r < rows; ++r) {
          int64_t t = 0;
          int32_t hi = 0;
          if (!am::tile_row(s, tile, chunk, r, tokens, &t, &hi)) continue;
          const int64_t h = g * group + hi;
          int64_t lo = 0, up = 0;
          bounds(t, &lo, &up);
          const float slope = slopes.empty() ? 0.f : slopes[size_t(h)] * am::kLog2e;
          am::Partial st;
          std::vector<float> acc(static_cast<size_t>(d), 0.f);
          for (int64_t n0 = kv_begin; n0 < kv_end; n0 += bn) {
            std::vector<float> x(static_cast<size_t>(bn), -INFINITY);
            float mx = -INFINITY;
            for (int64_t jj = 0; jj < bn; ++jj) {
              const int64_t j = n0 + jj;
              if (j < lo || j >= up) continue;
              float dot = 0;
              for (int64_t e = 0; e < d; ++e)
                dot += q[size_t((t * c.hq + h) * d + e)] * k[size_t((j * c.hkv + g) * d + e)];
              x[size_t(jj)] = am::score_log2(dot, scale_log2, slope, j, t);
              mx = std::max(mx, x[size_t(jj)]);
            }
            const float new_m = std::max(st.m, mx);
            const float alpha = am::rescale(st.m, new_m);
            st.m = new_m;
            float sum = 0;
            for (float& a : acc) a *= alpha;
            for (int64_t jj = 0; jj < bn; ++jj) {
              const float w = am::weight(x[size_t(jj)], new_m);
              sum += w;
              if (w == 0.f) continue;
              for (int64_t e = 0; e < d; ++e)
                acc[size_t(e)] += w * v[size_t(((n0 + jj) * c.hkv + g) * d + e)];
            }
            st.l = st.l * alpha + sum;
          }
          for (int64_t e = 0; e < d; ++e)
            out[size_t((t * c.hq + h) * d + e)] = am::finish(acc[size_t(e)], st.l);
        }
  }
  return out;
}

const AttnCase kPrefillCases[] = {
    {{7}, 4, 4, 32, true, 0, false},
    {{1}, 1, 1, 8, true, 0, false},
    {{150}, 8, 2, 64, true, 0, false},
    {{7}, 4, 4, 32, false, 0, false},
    {{13}, 4, 4, 32, true, 4, false},
    {{13}, 4, 4, 32, false, 4, false},
    {{9}, 4, 4, 32, true, 0, true},
    {{9}, 8, 2, 32, true, 0, false},
    {{9}, 8, 1, 40, false, 0, false},
    {{5, 0, 12, 3}, 4, 2, 24, true, 0, false},
    {{5, 0, 12, 3}, 4, 2, 24, false, 3, true},
    {{70, 0, 1, 40}, 12, 4, 16, true, 20, true},
};

TEST(CudaAttentionMath, PrefillTilingMatchesTheReference) {
  std::mt19937_64 rng(11);
  for (const AttnCase& c : kPrefillCases) {
    std::vector<int32_t> cu = {0};
    for (int64_t len : c.seqlens) cu.push_back(cu.back() + int32_t(len));
    const int64_t t = cu.back();
    const std::vector<float> qv = uniform_floats(rng, size_t(t * c.hq * c.d));
    const std::vector<float> kv = uniform_floats(rng, size_t(t * c.hkv * c.d));
    const std::vector<float> vv = uniform_floats(rng, size_t(t * c.hkv * c.d));
    const std::vector<float> slopes = c.alibi ? alibi_slopes(c.hq) : std::vector<float>{};
    const float scale = 1.f / std::sqrt(float(c.d));
    HostBuf q = HostBuf::floats(DType::kF32, {t, c.hq, c.d}, qv);
    HostBuf k = HostBuf::floats(DType::kF32, {t, c.hkv, c.d}, kv);
    HostBuf v = HostBuf::floats(DType::kF32, {t, c.hkv, c.d}, vv);
    HostBuf cub = HostBuf::ints(DType::kI32, {int64_t(cu.size())},
                                std::vector<int64_t>(cu.begin(), cu.end()));
    HostBuf alibi = HostBuf::floats(DType::kF32, {c.hq}, alibi_slopes(c.hq));
    HostBuf o(DType::kF32, {t, c.hq, c.d});
    const rma_attention_attrs attrs = attention_attrs(scale, c.causal, c.window);
    run_reference(RMA_OP_PREFILL_ATTENTION,
                  {q.abi(), k.abi(), v.abi(), cub.abi(), c.alibi ? alibi.abi() : absent_tensor()},
                  {o.abi()}, &attrs);
    const std::vector<float> want = o.as_floats();
    const std::string what = "prefill hq " + std::to_string(c.hq) + " hkv " +
                             std::to_string(c.hkv) + " d " + std::to_string(c.d) + " causal " +
                             std::to_string(c.causal) + " window " + std::to_string(c.window);
    // The tensor-core kernel's tiles (64 rows, 64 keys) and the SIMT one's
    // (32 rows, 32 keys).
    expect_close(emulate_prefill(c, cu, qv, kv, vv, slopes, scale, 64, 64), want, 1e-4, 1e-3,
                 what + " (64x64 tiles)");
    expect_close(emulate_prefill(c, cu, qv, kv, vv, slopes, scale, 32, 32), want, 1e-4, 1e-3,
                 what + " (32x32 tiles)");
  }
}

// paged decode's split-K on the host: partitions of `part` keys, each a
// softmax of its own, merged as the combine kernel does.
TEST(CudaAttentionMath, SplitKDecodeMatchesTheReference) {
  struct Case {
    std::vector<int64_t> lens;
    int64_t hq, hkv, d, block_size;
    int window;
    bool alibi;
  };
  const Case cases[] = {{{5, 1, 17, 0}, 4, 4, 32, 16, 0, false},
                        {{300, 1000, 7, 64}, 8, 2, 128, 16, 0, false},
                        {{40, 9}, 4, 4, 32, 16, 8, false},
                        {{25, 3}, 4, 4, 32, 8, 0, true},
                        {{700}, 8, 2, 64, 16, 300, true}};
  std::mt19937_64 rng(13);
  for (const Case& c : cases)
    for (int64_t part : {int64_t(128), int64_t(512)}) {
      const int64_t batch = int64_t(c.lens.size());
      int64_t max_blocks = 1, needed = 0;
      for (int64_t len : c.lens) {
        max_blocks = std::max(max_blocks, (len + c.block_size - 1) / c.block_size);
        needed += (len + c.block_size - 1) / c.block_size;
      }
      const int64_t num_blocks = needed + 2;
      std::vector<int64_t> pool(static_cast<size_t>(num_blocks));
      std::iota(pool.begin(), pool.end(), int64_t{0});
      std::shuffle(pool.begin(), pool.end(), rng);
      std::vector<int64_t> table(static_cast<size_t>(batch * max_blocks), 0);
      size_t next = 0;
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t j = 0; j < (c.lens[b] + c.block_size - 1) / c.block_size; ++j)
          table[size_t(b * max_blocks + j)] = pool[next++];
      const int64_t rows = num_blocks * c.block_size;
      const std::vector<float> qv = uniform_floats(rng, size_t(batch * c.hq * c.d));
      const std::vector<float> kv = uniform_floats(rng, size_t(rows * c.hkv * c.d));
      const std::vector<float> vv = uniform_floats(rng, size_t(rows * c.hkv * c.d));
      const std::vector<float> slopes = c.alibi ? alibi_slopes(c.hq) : std::vector<float>{};
      const float scale = 1.f / std::sqrt(float(c.d));
      HostBuf q = HostBuf::floats(DType::kF32, {batch, c.hq, c.d}, qv);
      HostBuf kc = HostBuf::floats(DType::kF32, {num_blocks, c.block_size, c.hkv, c.d}, kv);
      HostBuf vc = HostBuf::floats(DType::kF32, {num_blocks, c.block_size, c.hkv, c.d}, vv);
      HostBuf tb = HostBuf::ints(DType::kI32, {batch, max_blocks}, table);
      HostBuf ln = HostBuf::ints(DType::kI32, {batch}, c.lens);
      HostBuf alibi = HostBuf::floats(DType::kF32, {c.hq}, alibi_slopes(c.hq));
      HostBuf o(DType::kF32, {batch, c.hq, c.d});
      const rma_attention_attrs attrs = attention_attrs(scale, false, c.window);
      run_reference(RMA_OP_PAGED_DECODE_ATTENTION,
                    {q.abi(), kc.abi(), vc.abi(), tb.abi(), ln.abi(),
                     c.alibi ? alibi.abi() : absent_tensor()},
                    {o.abi()}, &attrs);

      std::vector<float> got(static_cast<size_t>(batch * c.hq * c.d));
      const int64_t group = c.hq / c.hkv;
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t h = 0; h < c.hq; ++h) {
          const int64_t len = c.lens[b], g = h / group;
          const int64_t first = c.window > 0 && len > c.window ? len - c.window : 0;
          am::Partial total;
          std::vector<float> acc(static_cast<size_t>(c.d), 0.f);
          for (int64_t start = first; start < len; start += part) {
            const int64_t end = std::min(start + part, len);
            am::Partial pt;
            std::vector<float> x;
            for (int64_t j = start; j < end; ++j) {
              const int64_t row = table[size_t(b * max_blocks + j / c.block_size)] * c.block_size +
                                  j % c.block_size;
              float dot = 0;
              for (int64_t e = 0; e < c.d; ++e)
                dot += qv[size_t((b * c.hq + h) * c.d + e)] * scale * am::kLog2e *
                       kv[size_t((row * c.hkv + g) * c.d + e)];
              const float slope = slopes.empty() ? 0.f : slopes[size_t(h)] * am::kLog2e;
              x.push_back(dot + slope * float(j - (len - 1)));
              pt.m = std::max(pt.m, x.back());
            }
            std::vector<float> pacc(static_cast<size_t>(c.d), 0.f);
            for (int64_t j = start; j < end; ++j) {
              const float w = am::weight(x[size_t(j - start)], pt.m);
              pt.l += w;
              const int64_t row = table[size_t(b * max_blocks + j / c.block_size)] * c.block_size +
                                  j % c.block_size;
              for (int64_t e = 0; e < c.d; ++e)
                pacc[size_t(e)] += w * vv[size_t((row * c.hkv + g) * c.d + e)];
            }
            float sa = 0, sb = 0;
            total = am::merge(total, pt, &sa, &sb);
            for (int64_t e = 0; e < c.d; ++e)
              acc[size_t(e)] = acc[size_t(e)] * sa + pacc[size_t(e)] * sb;
          }
          for (int64_t e = 0; e < c.d; ++e)
            got[size_t((b * c.hq + h) * c.d + e)] = am::finish(acc[size_t(e)], total.l);
        }
      expect_close(got, o.as_floats(), 1e-4, 1e-3,
                   "paged decode d " + std::to_string(c.d) + " partition " + std::to_string(part) +
                       " window " + std::to_string(c.window));
    }
}

// ==================================================================== moe

TEST(CudaMoeMath, SelectionMatchesTheReferenceIncludingTies) {
  std::mt19937_64 rng(17);
  for (int64_t experts : {1, 8, 60, 128})
    for (int k : {1, 2, 4, 8})
      for (bool ties : {false, true})
        for (bool renormalize : {false, true}) {
          if (k > experts) continue;
          const int64_t tokens = 5;
          std::vector<float> lv(static_cast<size_t>(tokens * experts));
          for (float& x : lv) {
            const int level = std::uniform_int_distribution<int>(-12, 12)(rng);
            x = ties ? 0.5f * float(level / 4) : 0.125f * float(level) + uniform_floats(rng, 1)[0];
          }
          HostBuf logits = HostBuf::floats(DType::kF32, {tokens, experts}, lv);
          HostBuf w(DType::kF32, {tokens, k}), ids(DType::kI32, {tokens, k});
          const rma_moe_gating_attrs attrs = moe_gating_attrs(k, renormalize);
          run_reference(RMA_OP_MOE_GATING_TOPK_SOFTMAX, {logits.abi()}, {w.abi(), ids.abi()},
                        &attrs);
          const std::vector<float> want_w = w.as_floats();
          const std::vector<int64_t> want_ids = ids.as_ints();
          for (int64_t t = 0; t < tokens; ++t) {
            const float* x = lv.data() + t * experts;
            float m = -INFINITY;
            for (int64_t e = 0; e < experts; ++e) m = std::fmax(m, x[e]);
            double sum = 0;
            for (int64_t e = 0; e < experts; ++e) sum += cuda::moe_math::unnormalized(x[e], m);
            double prev_p = 0, kept = 0;
            int32_t prev_i = -1;
            std::vector<double> picked;
            for (int j = 0; j < k; ++j) {
              double best_p = 0;
              int32_t best_i = -1;
              for (int32_t e = 0; e < experts; ++e) {
                const double pe = cuda::moe_math::normalized(x[e], m, sum);
                if (cuda::moe_math::ranks_after(pe, e, prev_p, prev_i) &&
                    cuda::moe_math::ranks_before(pe, e, best_p, best_i)) {
                  best_p = pe;
                  best_i = e;
                }
              }
              ASSERT_EQ(best_i, want_ids[size_t(t * k + j)])
                  << "E " << experts << " k " << k << " ties " << ties << " token " << t;
              prev_p = best_p;
              prev_i = best_i;
              kept += best_p;
              picked.push_back(best_p);
            }
            for (int j = 0; j < k; ++j)
              EXPECT_NEAR(renormalize ? picked[j] / kept : picked[j], want_w[size_t(t * k + j)],
                          1e-6);
          }
        }
}

// ================================================================== sample

// docs/ops.md's uniform(seed, b), transcribed.
double docs_uniform(uint64_t seed, int64_t b) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * uint64_t(b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return double(z >> 40) / 16777216.0;
}

TEST(CudaSampleMath, UniformIsTheDocumentedSplitmix) {
  for (uint64_t seed :
       {uint64_t(0), uint64_t(1), uint64_t(29), ~uint64_t(0), uint64_t(0x123456789abcdefull)})
    for (int64_t b = 0; b < 64; ++b) {
      const double u = sm::uniform01(seed, b);
      EXPECT_EQ(u, docs_uniform(seed, b));
      EXPECT_GE(u, 0.0);
      EXPECT_LT(u, 1.0);
      EXPECT_EQ(double(float(u)), u) << "exact in f32";
    }
}

// The kernels' sampling of one row on the host. `parallel` sums as the
// large-candidate path does (per-thread strided partial sums, then chunked
// prefix sums with a carry) instead of one sequential sum.
int64_t emulate_sample(std::vector<float> l, const std::vector<int64_t>& prev,
                       const rma_sample_attrs& a, int64_t b, bool parallel) {
  const int64_t vocab = int64_t(l.size());
  for (float& x : l) x = sm::sanitized(x);
  if (a.repetition_penalty != 1.f) {
    std::set<int64_t> seen;
    for (int64_t t : prev)
      if (t >= 0 && seen.insert(t).second) l[t] = sm::penalized(l[t], a.repetition_penalty);
  }
  if (a.temperature <= 0.f) {
    int32_t best = -1;
    for (int32_t i = 0; i < vocab; ++i)
      if (sm::ranks_before(l[i], i, best < 0 ? 0.f : l[best], best)) best = i;
    return best;
  }
  for (float& x : l) x = sm::tempered(x, a.temperature);
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int32_t x, int32_t y) { return sm::ranks_before(l[x], x, l[y], y); });
  const int64_t nc = a.top_k > 0 && a.top_k < vocab ? a.top_k : vocab;
  std::vector<float> sorted(static_cast<size_t>(nc));
  for (int64_t n = 0; n < nc; ++n) sorted[n] = l[order[n]];
  const double u = sm::uniform01(a.seed, b);
  const int kThreads = 1024;
  if (!parallel) {
    const double sum = sm::weight_sum(sorted.data(), nc);
    std::vector<float> prob(static_cast<size_t>(nc));
    for (int64_t n = 0; n < nc; ++n)
      prob[n] = sm::candidate_prob(sm::candidate_weight(sorted[n], sorted[0]), sum);
    return order[sm::pick(prob.data(), nc, a.top_p, a.min_p, u)];
  }
  std::vector<double> partial(kThreads, 0.0);
  for (int64_t n = 0; n < nc; ++n)
    partial[n % kThreads] += sm::candidate_weight(sorted[n], sorted[0]);
  double sum = 0;
  for (int stride = kThreads / 2; stride > 0; stride /= 2)  // a tree, like a block reduction
    for (int i = 0; i < stride; ++i) partial[i] += partial[i + stride];
  sum = partial[0];
  auto prob = [&](int64_t n) {
    return sm::candidate_prob(sm::candidate_weight(sorted[n], sorted[0]), sum);
  };
  const float p0 = prob(0);
  int64_t kept = nc;
  if (a.top_p < 1.f) {
    double carry = 0;
    bool found = false;
    for (int64_t base = 0; base < nc && !found; base += kThreads) {
      double incl = 0, total = 0;
      for (int64_t n = base; n < std::min(base + kThreads, nc); ++n) total += prob(n);
      for (int64_t n = base; n < std::min(base + kThreads, nc); ++n) {
        incl += prob(n);
        if (carry + incl >= a.top_p) {
          kept = n + 1;
          found = true;
          break;
        }
      }
      carry += total;
    }
  }
  double kept_sum = 0;
  for (int64_t n = 0; n < kept; ++n)
    if (sm::kept_by_min_p(prob(n), p0, a.min_p, n)) kept_sum += prob(n);
  const double target = u * kept_sum;
  double carry = 0;
  int64_t last = 0;
  for (int64_t base = 0; base < kept; base += kThreads) {
    double incl = 0, total = 0;
    for (int64_t n = base; n < std::min(base + kThreads, kept); ++n)
      if (sm::kept_by_min_p(prob(n), p0, a.min_p, n)) total += prob(n);
    for (int64_t n = base; n < std::min(base + kThreads, kept); ++n) {
      if (!sm::kept_by_min_p(prob(n), p0, a.min_p, n)) continue;
      last = n;
      incl += prob(n);
      if (carry + incl > target) return order[n];
    }
    carry += total;
  }
  return order[last];
}

struct SampleCase {
  int64_t batch, vocab;
  rma_sample_attrs attrs;
  int64_t prev_len;
  bool ties;  // logits on a coarse grid, so equal logits are common
};

// Runs the reference on random rows and compares every id with the
// emulation's.
void check_sample_cases(const std::vector<SampleCase>& cases, bool parallel) {
  std::mt19937_64 rng(19);
  for (const SampleCase& c : cases) {
    std::vector<float> lv = uniform_floats(rng, size_t(c.batch * c.vocab), -5.f, 5.f);
    if (c.ties)
      for (float& x : lv) x = std::round(x * 2.f) / 2.f;
    if (c.vocab > 3) {  // a NaN and an infinity or two
      lv[1] = std::nanf("");
      lv[2] = -INFINITY;
    }
    std::vector<int64_t> prev(static_cast<size_t>(c.batch * c.prev_len));
    for (size_t i = 0; i < prev.size(); ++i)
      prev[i] =
          i % c.prev_len >= size_t(c.prev_len - 2)
              ? -1
              : std::uniform_int_distribution<int64_t>(0, std::min<int64_t>(c.vocab, 20) - 1)(rng);
    HostBuf logits = HostBuf::floats(DType::kF32, {c.batch, c.vocab}, lv);
    HostBuf prev_t = HostBuf::ints(DType::kI32, {c.batch, c.prev_len}, prev);
    HostBuf ids(DType::kI32, {c.batch});
    run_reference(RMA_OP_SAMPLE, {logits.abi(), c.prev_len > 0 ? prev_t.abi() : absent_tensor()},
                  {ids.abi()}, &c.attrs);
    const std::vector<int64_t> want = ids.as_ints();
    for (int64_t b = 0; b < c.batch; ++b) {
      const std::vector<float> row(lv.begin() + b * c.vocab, lv.begin() + (b + 1) * c.vocab);
      const std::vector<int64_t> prow(prev.begin() + b * c.prev_len,
                                      prev.begin() + (b + 1) * c.prev_len);
      EXPECT_EQ(emulate_sample(row, prow, c.attrs, b, parallel), want[size_t(b)])
          << "V " << c.vocab << " temperature " << c.attrs.temperature << " top_k " << c.attrs.top_k
          << " top_p " << c.attrs.top_p << " min_p " << c.attrs.min_p << " penalty "
          << c.attrs.repetition_penalty << " row " << b;
    }
  }
}

TEST(CudaSampleMath, ExactPathPicksTheReferenceTokens) {
  std::vector<SampleCase> cases = {
      {4, 1000, sample_attrs(), 0, false},
      {4, 1000, sample_attrs(), 0, true},
      {1, 1, sample_attrs(0.8f, 0, 0.9f, 0.f, 1.f, 3), 0, false},
      {4, 100, sample_attrs(0.f, 0, 1.f, 0.f, 1.3f), 12, true},
      {4, 100, sample_attrs(0.9f, 20, 1.f, 0.f, 1.3f, 23), 12, false},
      {6, 1000, sample_attrs(0.7f, 50, 0.95f, 0.02f, 1.f, 17), 0, false},
      {8, 32000, sample_attrs(1.f, 50, 0.9f, 0.f, 1.f, 29), 0, true},
  };
  for (uint64_t seed = 0; seed < 40; ++seed) {
    cases.push_back({8, 1000, sample_attrs(0.8f, 40, 1.f, 0.f, 1.f, seed), 0, seed % 2 == 0});
    cases.push_back({8, 1000, sample_attrs(1.f, 0, 0.9f, 0.f, 1.f, seed), 0, seed % 3 == 0});
    cases.push_back({8, 1000, sample_attrs(1.f, 0, 1.f, 0.05f, 1.f, seed), 0, false});
    cases.push_back({8, 200, sample_attrs(1.5f, 0, 1.f, 0.f, 1.f, seed), 0, true});
  }
  check_sample_cases(cases, false);
}

TEST(CudaSampleMath, ParallelPathPicksTheReferenceTokens) {
  std::vector<SampleCase> cases;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    cases.push_back({4, 5000, sample_attrs(1.f, 0, 0.95f, 0.f, 1.f, seed), 0, false});
    cases.push_back({4, 5000, sample_attrs(2.f, 0, 1.f, 0.f, 1.1f, seed), 8, true});
    cases.push_back({2, 50000, sample_attrs(0.7f, 4000, 0.9f, 0.01f, 1.f, seed), 0, false});
    cases.push_back({2, 30000, sample_attrs(3.f, 0, 1.f, 0.f, 1.f, seed), 0, false});
  }
  check_sample_cases(cases, true);
}

// ==================================================================== device

// cuda:0, or an invalid device when there is none.
Device cuda_device() {
  for (const Device& d : Runtime::get().devices())
    if (d.plugin_name() == "cuda") return d;
  return Device{};
}

#define RMA_REQUIRE_CUDA(dev)       \
  const Device dev = cuda_device(); \
  if (!dev.valid()) GTEST_SKIP() << "no CUDA device"

// Every conformance case of the op passes (none declined or failing).
void expect_conformance(const Device& dev, rma_op op) {
  ConformanceOptions options;
  options.op = std::string(op_name(op));
  std::vector<std::string> problems;
  const ConformanceSummary s = run_conformance(dev, options, [&](const ConformanceResult& r) {
    if (r.status != "pass")
      problems.push_back(r.status + " " + r.dtype + " " + r.shapes + ": " + r.detail);
  });
  EXPECT_GT(s.passed, 0) << options.op;
  EXPECT_EQ(s.failed, 0) << options.op;
  EXPECT_EQ(s.unsupported, 0) << options.op;
  for (const std::string& p : problems) ADD_FAILURE() << options.op << ": " << p;
}

TEST(CudaAttentionOps, RopePassesConformance) {
  RMA_REQUIRE_CUDA(dev);
  expect_conformance(dev, RMA_OP_ROPE);
}
TEST(CudaAttentionOps, FillKvCachePassesConformance) {
  RMA_REQUIRE_CUDA(dev);
  expect_conformance(dev, RMA_OP_FILL_KV_CACHE);
}
TEST(CudaAttentionOps, PrefillAttentionPassesConformance) {
  RMA_REQUIRE_CUDA(dev);
  expect_conformance(dev, RMA_OP_PREFILL_ATTENTION);
}
TEST(CudaAttentionOps, PagedDecodeAttentionPassesConformance) {
  RMA_REQUIRE_CUDA(dev);
  expect_conformance(dev, RMA_OP_PAGED_DECODE_ATTENTION);
}
TEST(CudaAttentionOps, MoeGatingPassesConformance) {
  RMA_REQUIRE_CUDA(dev);
  expect_conformance(dev, RMA_OP_MOE_GATING_TOPK_SOFTMAX);
}
TEST(CudaAttentionOps, SamplePassesConformance) {
  RMA_REQUIRE_CUDA(dev);
  expect_conformance(dev, RMA_OP_SAMPLE);
}

// Device output of one op against the reference on host copies of the inputs.
std::vector<Tensor> run_both(rma_op op, std::vector<HostBuf*> inputs, const void* attrs,
                             const Device& dev, std::vector<std::vector<float>>* want) {
  std::vector<rma_tensor> host_in;
  std::vector<Tensor> dev_in;
  for (HostBuf* h : inputs) {
    if (!h) {
      host_in.push_back(absent_tensor());
      dev_in.push_back(Tensor{});
      continue;
    }
    const rma_tensor t = h->abi();
    host_in.push_back(t);
    dev_in.push_back(Tensor::from_host(t.data, std::vector<int64_t>(t.shape, t.shape + t.ndim),
                                       static_cast<DType>(t.dtype), dev));
  }
  std::vector<Tensor> outs = ops::run(op, dev_in, attrs);
  std::vector<HostBuf> host_out;
  for (const Tensor& o : outs) host_out.emplace_back(o.dtype(), o.shape());
  std::vector<rma_tensor> out_abi;
  for (HostBuf& h : host_out) out_abi.push_back(h.abi());
  run_reference(op, host_in, out_abi, attrs);
  want->clear();
  for (HostBuf& h : host_out) want->push_back(h.as_floats());
  return outs;
}

std::vector<float> floats_of(const Tensor& t) {
  HostBuf h(t.dtype(), t.shape());
  const std::vector<uint8_t> bytes = t.to_host_bytes();
  rma_tensor a = h.abi();
  std::copy(bytes.begin(), bytes.end(), static_cast<uint8_t*>(a.data));
  return h.as_floats();
}

// Long prefills on both kernels: tensor cores (f16/bf16, D 64/128) and SIMT
// (f32, and an odd head dim), GQA, causal and a window.
TEST(CudaAttentionOps, LongPrefillMatchesTheReference) {
  RMA_REQUIRE_CUDA(dev);
  struct Case {
    DType dt;
    int64_t hq, hkv, d;
    bool causal;
    int window;
    double atol, rtol;
  };
  const Case cases[] = {{DType::kBF16, 8, 2, 128, true, 0, 3e-2, 5e-2},
                        {DType::kF16, 9, 3, 64, true, 0, 5e-3, 1e-2},
                        {DType::kF16, 4, 4, 96, false, 100, 5e-3, 1e-2},
                        {DType::kF32, 8, 2, 64, true, 0, 1e-4, 1e-3},
                        {DType::kBF16, 4, 1, 40, true, 0, 3e-2, 5e-2}};
  std::mt19937_64 rng(23);
  for (const Case& c : cases) {
    const std::vector<int64_t> cu = {0, 700, 700, 1100};
    const int64_t t = cu.back();
    HostBuf q = HostBuf::floats(c.dt, {t, c.hq, c.d}, uniform_floats(rng, size_t(t * c.hq * c.d)));
    HostBuf k =
        HostBuf::floats(c.dt, {t, c.hkv, c.d}, uniform_floats(rng, size_t(t * c.hkv * c.d)));
    HostBuf v =
        HostBuf::floats(c.dt, {t, c.hkv, c.d}, uniform_floats(rng, size_t(t * c.hkv * c.d)));
    HostBuf cub = HostBuf::ints(DType::kI32, {int64_t(cu.size())}, cu);
    const rma_attention_attrs attrs =
        attention_attrs(1.f / std::sqrt(float(c.d)), c.causal, c.window);
    std::vector<std::vector<float>> want;
    const std::vector<Tensor> got =
        run_both(RMA_OP_PREFILL_ATTENTION, {&q, &k, &v, &cub}, &attrs, dev, &want);
    expect_close(floats_of(got[0]), want[0], c.atol, c.rtol,
                 std::string("prefill ") + std::string(name(c.dt)) + " d " + std::to_string(c.d));
  }
}

// Long contexts take the split-K path (partitions and the combine kernel).
TEST(CudaAttentionOps, LongDecodeMatchesTheReference) {
  RMA_REQUIRE_CUDA(dev);
  struct Case {
    DType q_dt, cache_dt;
    int64_t hq, hkv, d;
    int window;
    double atol, rtol;
  };
  const Case cases[] = {{DType::kBF16, DType::kBF16, 32, 8, 128, 0, 3e-2, 5e-2},
                        {DType::kF16, DType::kF16, 9, 3, 64, 0, 5e-3, 1e-2},
                        {DType::kF32, DType::kF16, 16, 1, 128, 1000, 1e-4, 1e-3},
                        {DType::kF32, DType::kF32, 8, 2, 80, 0, 1e-4, 1e-3}};
  std::mt19937_64 rng(29);
  for (const Case& c : cases) {
    const std::vector<int64_t> lens = {5000, 1, 0, 2049};
    const int64_t batch = int64_t(lens.size()), bs = 16;
    int64_t max_blocks = 0;
    for (int64_t len : lens) max_blocks = std::max(max_blocks, (len + bs - 1) / bs);
    const int64_t num_blocks = batch * max_blocks + 1;
    std::vector<int64_t> table(static_cast<size_t>(batch * max_blocks));
    std::iota(table.begin(), table.end(), int64_t{1});
    std::shuffle(table.begin(), table.end(), rng);
    const int64_t rows = num_blocks * bs;
    HostBuf q = HostBuf::floats(c.q_dt, {batch, c.hq, c.d},
                                uniform_floats(rng, size_t(batch * c.hq * c.d)));
    HostBuf kc = HostBuf::floats(c.cache_dt, {num_blocks, bs, c.hkv, c.d},
                                 uniform_floats(rng, size_t(rows * c.hkv * c.d)));
    HostBuf vc = HostBuf::floats(c.cache_dt, {num_blocks, bs, c.hkv, c.d},
                                 uniform_floats(rng, size_t(rows * c.hkv * c.d)));
    HostBuf tb = HostBuf::ints(DType::kI32, {batch, max_blocks}, table);
    HostBuf ln = HostBuf::ints(DType::kI32, {batch}, lens);
    const rma_attention_attrs attrs = attention_attrs(1.f / std::sqrt(float(c.d)), false, c.window);
    std::vector<std::vector<float>> want;
    const std::vector<Tensor> got =
        run_both(RMA_OP_PAGED_DECODE_ATTENTION, {&q, &kc, &vc, &tb, &ln}, &attrs, dev, &want);
    expect_close(floats_of(got[0]), want[0], c.atol, c.rtol,
                 std::string("decode ") + std::string(name(c.q_dt)) + " cache " +
                     std::string(name(c.cache_dt)) + " d " + std::to_string(c.d));
  }
}

// Vocabularies of 50k-150k: the sort and, without top_k, the block-wide path.
TEST(CudaAttentionOps, LargeVocabularySamplingPicksTheReferenceTokens) {
  RMA_REQUIRE_CUDA(dev);
  const rma_sample_attrs configs[] = {sample_attrs(),
                                      sample_attrs(0.f, 0, 1.f, 0.f, 1.2f),
                                      sample_attrs(0.8f, 50, 0.95f, 0.f, 1.f, 3),
                                      sample_attrs(1.f, 0, 0.9f, 0.f, 1.f, 5),
                                      sample_attrs(1.2f, 0, 1.f, 0.05f, 1.f, 7),
                                      sample_attrs(0.7f, 0, 1.f, 0.f, 1.1f, 11)};
  std::mt19937_64 rng(31);
  for (int64_t vocab : {int64_t(49152), int64_t(151936)})
    for (int64_t batch : {int64_t(1), int64_t(5)})
      for (const rma_sample_attrs& a : configs) {
        HostBuf logits = HostBuf::floats(DType::kBF16, {batch, vocab},
                                         uniform_floats(rng, size_t(batch * vocab), -8.f, 8.f));
        std::vector<int64_t> prev(static_cast<size_t>(batch * 16));
        for (auto& t : prev) t = std::uniform_int_distribution<int64_t>(-1, vocab - 1)(rng);
        HostBuf prev_t = HostBuf::ints(DType::kI32, {batch, 16}, prev);
        std::vector<std::vector<float>> want;
        const std::vector<Tensor> got = run_both(RMA_OP_SAMPLE, {&logits, &prev_t}, &a, dev, &want);
        EXPECT_EQ(floats_of(got[0]), want[0])
            << "V " << vocab << " B " << batch << " temperature " << a.temperature << " top_k "
            << a.top_k << " top_p " << a.top_p << " min_p " << a.min_p;
      }
}

// Index tensors live on the device; a bad entry is still an error naming it.
TEST(CudaAttentionOps, BadIndicesAreErrorsNamingTheEntry) {
  RMA_REQUIRE_CUDA(dev);
  auto expect_error = [](const std::function<void()>& fn, const std::string& what) {
    try {
      fn();
      ADD_FAILURE() << "no error for " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    }
  };
  const int64_t blocks = 4, bs = 4, d = 8;
  Tensor q = Tensor::zeros({1, 2, d}, DType::kF32, dev);
  Tensor kc = Tensor::zeros({blocks, bs, 1, d}, DType::kF32, dev);
  Tensor vc = Tensor::zeros({blocks, bs, 1, d}, DType::kF32, dev);
  auto decode = [&](std::vector<int32_t> table, int32_t len) {
    Tensor tb = Tensor::from_vector(table, {1, int64_t(table.size())}, DType::kI32, dev);
    Tensor ln = Tensor::from_vector(std::vector<int32_t>{len}, {1}, DType::kI32, dev);
    ops::paged_decode_attention(q, kc, vc, tb, ln, attention_attrs(0.35f));
  };
  expect_error([&] { decode({0, 9}, 6); }, "block_table[0, 1] = 9");
  expect_error([&] { decode({0, -1}, 5); }, "block_table[0, 1] = -1");
  expect_error([&] { decode({0, 1}, 9); }, "context_lens[0] = 9");
  EXPECT_NO_THROW(decode({2, 77}, 3));  // entries past the context are never followed

  Tensor k = Tensor::zeros({2, 1, d}, DType::kF32, dev);
  Tensor slots = Tensor::from_vector(std::vector<int32_t>{3, 16}, {2}, DType::kI32, dev);
  expect_error([&] { ops::fill_kv_cache(k, k, slots, kc, vc); }, "slot_mapping[1] = 16");

  Tensor qp = Tensor::zeros({5, 2, d}, DType::kF32, dev);
  Tensor kp = Tensor::zeros({5, 1, d}, DType::kF32, dev);
  Tensor cu = Tensor::from_vector(std::vector<int32_t>{0, 4, 3, 5}, {4}, DType::kI32, dev);
  expect_error([&] { ops::prefill_attention(qp, kp, kp, cu, attention_attrs(0.35f)); },
               "cu_seqlens [0, 4, 3, 5]");

  Tensor logits = Tensor::zeros({1, 10}, DType::kF32, dev);
  Tensor prev = Tensor::from_vector(std::vector<int32_t>{1, 10}, {1, 2}, DType::kI32, dev);
  expect_error([&] { ops::sample(logits, sample_attrs(0.f, 0, 1.f, 0.f, 1.2f), prev); },
               "prev_tokens[0, 1] = 10");
}

}  // namespace
}  // namespace rma
