// Op schemas: argument checks and output descriptions for every op, as
// docs/ops.md states them. One function per op, picked from a table by op id.
// Every check throws Error(kInvalidArgument) naming the op, the argument,
// what was expected and what came, so a caller can fix the call without
// reading this file; nothing here trusts a descriptor before checking it.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "rma/dtype.h"
#include "rma/error.h"
#include "rma/ops.h"
#include "rma/tensor.h"

namespace rma {
namespace {

// ------------------------------------------------------------- arguments

// One tensor argument of a call: an input ("argument 'x'") or a given output
// ("output 'y'"). `t` is null for a trailing optional input left out.
struct Arg {
  rma_op op;
  const char* kind;  // "argument" or "output"
  std::string name;  // without the "?" of optional inputs
  const rma_tensor* t = nullptr;

  bool present() const { return t != nullptr && t->ndim >= 0; }
  DType dtype() const { return static_cast<DType>(t->dtype); }
  int ndim() const { return t->ndim; }
  int64_t dim(int axis) const { return t->shape[axis < 0 ? axis + t->ndim : axis]; }
  Shape shape() const { return Shape(t->shape, t->shape + t->ndim); }
  std::string label() const { return std::string(kind) + " '" + name + "'"; }
};

[[noreturn]] void fail(rma_op op, const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, message, std::string(op_name(op)));
}
[[noreturn]] void fail(const Arg& a, const std::string& message) {
  fail(a.op, a.label() + ": " + message);
}
[[noreturn]] void fail_attr(rma_op op, const char* attr, const std::string& message) {
  fail(op, std::string("attribute '") + attr + "': " + message);
}

std::string str(int64_t v) { return std::to_string(v); }
std::string str(double v) {
  std::string s = std::to_string(v);  // "0.500000": trim the zeros for messages
  if (s.find('.') != std::string::npos) {
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
  }
  return s;
}
std::string str(DType dt) { return std::string(name(dt)); }
std::string describe(const TensorDesc& d) { return str(d.dtype) + to_string(d.shape); }
std::string because(const std::string& why) { return why.empty() ? "" : " (" + why + ")"; }

// --------------------------------------------------------- shape patterns

// One dimension of an expected shape: a fixed size, or free and shown by its
// symbol ("N"), so messages read "expected shape [N, 576]".
struct Dim {
  int64_t size = -1;  // -1: free
  const char* symbol = nullptr;
  Dim(int s) : size(s) {}
  Dim(int64_t s) : size(s) {}
  Dim(const char* sym) : symbol(sym) {}
};
using Pattern = std::vector<Dim>;

std::string pattern_string(const Pattern& p) {
  std::string s = "[";
  for (size_t i = 0; i < p.size(); ++i) {
    if (i) s += ", ";
    s += p[i].symbol ? p[i].symbol : str(p[i].size);
  }
  return s + "]";
}

// ------------------------------------------------------------------ checks

void expect_shape(const Arg& a, const Pattern& p, const std::string& why = {}) {
  bool ok = a.ndim() == static_cast<int>(p.size());
  for (int i = 0; ok && i < a.ndim(); ++i) ok = p[i].symbol || a.dim(i) == p[i].size;
  if (!ok)
    fail(a, "expected shape " + pattern_string(p) + because(why) + ", got " + to_string(a.shape()));
}

void expect_same_shape(const Arg& a, const Arg& ref) {
  if (a.shape() != ref.shape())
    fail(a, "expected shape " + to_string(ref.shape()) + " (shape of " + ref.name + "), got " +
                to_string(a.shape()));
}

// For arguments written [..., H]: at least `n` dims.
void expect_min_ndim(const Arg& a, int n, const char* form) {
  if (a.ndim() < n)
    fail(a, "expected at least " + str(int64_t{n}) + " dim(s) " + form + ", got shape " +
                to_string(a.shape()));
}

// A size read from an argument's shape that must satisfy a bound, e.g. the
// block size of a cache.
void expect_dim_at_least(const Arg& a, int axis, const char* symbol, int64_t lo) {
  if (a.dim(axis) < lo)
    fail(a, std::string("expected ") + symbol + " >= " + str(lo) + ", got shape " +
                to_string(a.shape()));
}

void expect_dtype(const Arg& a, DType want, const std::string& why = {}) {
  if (a.dtype() != want)
    fail(a, "expected dtype " + str(want) + because(why) + ", got " + str(a.dtype()));
}

void expect_same_dtype(const Arg& a, const Arg& ref) {
  expect_dtype(a, ref.dtype(), "dtype of " + ref.name);
}

void expect_float(const Arg& a) {
  if (!is_float(a.dtype()))
    fail(a, "expected a float dtype (f32, f16, bf16), got " + str(a.dtype()));
}

void expect_index(const Arg& a) {
  if (a.dtype() != DType::kI32 && a.dtype() != DType::kI64)
    fail(a, "expected an index dtype (i32, i64), got " + str(a.dtype()));
}

// GQA: query head h reads kv head h / (Hq / Hkv).
void expect_gqa(const Arg& kv, int64_t hq, int64_t hkv) {
  if (hkv < 1 || hq % hkv != 0)
    fail(kv, "expected Hkv >= 1 dividing Hq = " + str(hq) + " (GQA), got Hkv = " + str(hkv));
}

// --------------------------------------------------------------- attributes

// min_size: the size of the struct's first ABI v1 form, for structs that
// have had fields appended since (their readers check struct_size before
// touching those); 0 means the whole struct.
template <class A>
const A& get_attrs(rma_op op, const void* attrs, const char* struct_name, size_t min_size = 0) {
  if (attrs == nullptr) fail(op, std::string("attributes: expected ") + struct_name + ", got NULL");
  // struct_size is the first field of every attribute struct, so it is
  // readable even from an older, shorter struct.
  const uint32_t size = static_cast<const A*>(attrs)->struct_size;
  const size_t need = min_size > 0 ? min_size : sizeof(A);
  if (size < need)
    fail(op, std::string("attributes: expected ") + struct_name + " with struct_size >= " +
                 str(int64_t(need)) + ", got struct_size " + str(int64_t(size)));
  return *static_cast<const A*>(attrs);
}

void expect_bool_attr(rma_op op, const char* attr, int32_t v) {
  if (v != 0 && v != 1) fail_attr(op, attr, "expected 0 or 1, got " + str(int64_t{v}));
}

void expect_finite_attr(rma_op op, const char* attr, float v) {
  if (!std::isfinite(v)) fail_attr(op, attr, "expected a finite value, got " + str(double{v}));
}

void expect_positive_attr(rma_op op, const char* attr, float v) {
  if (!std::isfinite(v) || v <= 0)
    fail_attr(op, attr, "expected a finite value > 0, got " + str(double{v}));
}

void expect_eps(rma_op op, const void* attrs) {
  const float eps = get_attrs<rma_norm_attrs>(op, attrs, "rma_norm_attrs").eps;
  if (!std::isfinite(eps) || eps < 0)
    fail_attr(op, "eps", "expected a finite value >= 0, got " + str(double{eps}));
}

void expect_window(rma_op op, const rma_attention_attrs& a) {
  expect_finite_attr(op, "scale", a.scale);
  if (a.sliding_window < 0)
    fail_attr(op, "sliding_window",
              "expected >= 0 (0: off), got " + str(int64_t{a.sliding_window}));
}

// ------------------------------------------------------------------- calls

// A call as the per-op functions see it: arguments already checked for
// presence, ndim range, dtype validity and non-negative sizes.
struct Call {
  rma_op op;
  std::vector<Arg> in;
  std::vector<Arg> out;  // empty when no outputs were given
  const void* attrs;
  std::optional<DType> out_dtype;

  bool given(size_t i) const { return i < out.size() && out[i].present(); }
};

using InferFn = std::vector<TensorDesc> (*)(const Call&);

// Shape with the last dim replaced.
Shape with_last(Shape s, int64_t last) {
  s.back() = last;
  return s;
}

std::vector<TensorDesc> infer_linear_like(const Call& c, bool quantized) {
  const Arg &x = c.in[0], &w = c.in[1], &bias = c.in[2];
  // `precision` was appended to ABI v1: a shorter struct means accurate.
  const auto& a = get_attrs<rma_linear_attrs>(c.op, c.attrs, "rma_linear_attrs",
                                              offsetof(rma_linear_attrs, precision));
  if (a.struct_size >= offsetof(rma_linear_attrs, precision) + sizeof(a.precision) &&
      a.precision != RMA_PRECISION_ACCURATE && a.precision != RMA_PRECISION_FAST)
    fail_attr(c.op, "precision",
              "expected an rma_precision (0: accurate, 1: fast), got " +
                  str(int64_t{a.precision}));
  expect_bool_attr(c.op, "trans_a", a.trans_a);
  expect_bool_attr(c.op, "trans_b", a.trans_b);
  if (a.activation < RMA_ACT_NONE || a.activation > RMA_ACT_TANH)
    fail_attr(c.op, "activation",
              "expected an rma_activation (0..7), got " + str(int64_t{a.activation}));
  if (quantized && (a.trans_a != 0 || a.trans_b != 1))
    fail_attr(c.op, a.trans_a != 0 ? "trans_a" : "trans_b",
              "quant_linear requires trans_a = 0 and trans_b = 1, got trans_a = " +
                  str(int64_t{a.trans_a}) + ", trans_b = " + str(int64_t{a.trans_b}));

  expect_float(x);
  // x is [..., K], or [K, T] with trans_a (then exactly 2-D).
  int64_t k = 0;
  if (a.trans_a) {
    expect_shape(x, {"K", "T"}, "trans_a");
    k = x.dim(0);
  } else {
    expect_min_ndim(x, 1, "[..., K]");
    k = x.dim(-1);
  }

  if (quantized) {
    // Block-quantized weights, or f16/bf16 ones (weight-only compression:
    // x may be any float dtype).
    const bool half_weights = w.dtype() == DType::kF16 || w.dtype() == DType::kBF16;
    if (!is_quantized(w.dtype()) && !half_weights)
      fail(w,
           "expected a block-quantized dtype (q8_0, q4_0, q4_1, q4_k, q5_k, q6_k) or f16/bf16, "
           "got " +
               str(w.dtype()) + (w.dtype() == DType::kF32 ? " (f32 weights go to linear)" : ""));
  } else {
    if (is_quantized(w.dtype()))
      fail(w, "expected dtype " + str(x.dtype()) + " (dtype of x), got " + str(w.dtype()) +
                  " (quantized weights go to quant_linear)");
    expect_same_dtype(w, x);
  }
  // w is [N, K] with trans_b, [K, N] without.
  if (a.trans_b)
    expect_shape(w, {"N", k}, "K of x");
  else
    expect_shape(w, {k, "N"}, "K of x");
  const int64_t n = a.trans_b ? w.dim(0) : w.dim(1);

  if (bias.present()) {
    expect_float(bias);
    expect_same_dtype(bias, x);
    expect_shape(bias, {n}, "N of w");
  }
  const Shape y = a.trans_a ? Shape{x.dim(1), n} : with_last(x.shape(), n);
  return {{y, x.dtype()}};
}

std::vector<TensorDesc> infer_linear(const Call& c) { return infer_linear_like(c, false); }
std::vector<TensorDesc> infer_quant_linear(const Call& c) { return infer_linear_like(c, true); }

// x[..., H] float and w[H] of x's dtype; returns H.
int64_t check_norm_input(const Arg& x, const Arg& w) {
  expect_float(x);
  expect_min_ndim(x, 1, "[..., H]");
  const int64_t h = x.dim(-1);
  expect_same_dtype(w, x);
  expect_shape(w, {h}, "H of x");
  return h;
}

std::vector<TensorDesc> infer_rms_norm(const Call& c) {
  expect_eps(c.op, c.attrs);
  check_norm_input(c.in[0], c.in[1]);
  return {{c.in[0].shape(), c.in[0].dtype()}};
}

std::vector<TensorDesc> infer_add_rms_norm(const Call& c) {
  const Arg &x = c.in[0], &residual = c.in[1], &w = c.in[2];
  expect_eps(c.op, c.attrs);
  check_norm_input(x, w);
  expect_same_dtype(residual, x);
  expect_same_shape(residual, x);
  return {{x.shape(), x.dtype()}, {x.shape(), x.dtype()}};
}

std::vector<TensorDesc> infer_layer_norm(const Call& c) {
  const Arg &x = c.in[0], &w = c.in[1], &b = c.in[2];
  expect_eps(c.op, c.attrs);
  const int64_t h = check_norm_input(x, w);
  if (b.present()) {
    expect_same_dtype(b, x);
    expect_shape(b, {h}, "H of x");
  }
  return {{x.shape(), x.dtype()}};
}

void check_rope_attrs(rma_op op, const rma_rope_attrs& a, int64_t d) {
  if (a.style != RMA_ROPE_NEOX && a.style != RMA_ROPE_GPTJ)
    fail_attr(op, "style", "expected 0 (neox) or 1 (gptj), got " + str(int64_t{a.style}));
  if (a.rotary_dim < 0 || a.rotary_dim > d || a.rotary_dim % 2 != 0)
    fail_attr(op, "rotary_dim",
              "expected 0 (meaning D) or an even value <= D = " + str(d) + ", got " +
                  str(int64_t{a.rotary_dim}));
  if (a.rotary_dim == 0 && d % 2 != 0)
    fail_attr(op, "rotary_dim", "0 means D, which must then be even; got D = " + str(d));
  expect_positive_attr(op, "theta", a.theta);
  switch (a.scaling) {
    case RMA_ROPE_SCALING_NONE: break;
    case RMA_ROPE_SCALING_LINEAR: expect_positive_attr(op, "factor", a.factor); break;
    case RMA_ROPE_SCALING_LLAMA3:
      expect_positive_attr(op, "factor", a.factor);
      expect_positive_attr(op, "low_freq_factor", a.low_freq_factor);
      // The smoothing divides by high - low.
      if (!(a.high_freq_factor > a.low_freq_factor) || !std::isfinite(a.high_freq_factor))
        fail_attr(op, "high_freq_factor",
                  "expected a finite value > low_freq_factor (" + str(double{a.low_freq_factor}) +
                      "), got " + str(double{a.high_freq_factor}));
      if (a.original_max_position <= 0)
        fail_attr(op, "original_max_position",
                  "expected > 0, got " + str(int64_t{a.original_max_position}));
      break;
    case RMA_ROPE_SCALING_YARN: fail_attr(op, "scaling", "yarn (3) is not supported in ABI v1");
    default:
      fail_attr(op, "scaling",
                "expected 0 (none), 1 (linear) or 2 (llama3), got " + str(int64_t{a.scaling}));
  }
}

std::vector<TensorDesc> infer_rope(const Call& c) {
  const Arg &q = c.in[0], &k = c.in[1], &positions = c.in[2];
  const auto& a = get_attrs<rma_rope_attrs>(c.op, c.attrs, "rma_rope_attrs");
  expect_float(q);
  expect_shape(q, {"T", "Hq", "D"});
  const int64_t t = q.dim(0), d = q.dim(2);
  expect_same_dtype(k, q);
  expect_shape(k, {t, "Hkv", d}, "T and D of q");
  expect_index(positions);
  expect_shape(positions, {t}, "T of q");
  check_rope_attrs(c.op, a, d);
  return {{q.shape(), q.dtype()}, {k.shape(), k.dtype()}};
}

// A paged cache [num_blocks, block_size, Hkv, D] of a float dtype.
void check_cache(const Arg& cache, const Pattern& p, const std::string& why) {
  expect_float(cache);
  expect_shape(cache, p, why);
  expect_dim_at_least(cache, 1, "block_size", 1);
}

std::vector<TensorDesc> infer_fill_kv_cache(const Call& c) {
  const Arg &k = c.in[0], &v = c.in[1], &slot_mapping = c.in[2];
  expect_float(k);
  expect_shape(k, {"T", "Hkv", "D"});
  const int64_t t = k.dim(0), hkv = k.dim(1), d = k.dim(2);
  expect_same_dtype(v, k);
  expect_same_shape(v, k);
  expect_index(slot_mapping);
  expect_shape(slot_mapping, {t}, "T of k");

  // In place: the caches come as outputs and are returned as they are.
  for (size_t i = 0; i < 2; ++i)
    if (!c.given(i))
      fail(c.op, "output '" + op_output_names(c.op)[i] +
                     "': required (fill_kv_cache updates k_cache and v_cache in place), "
                     "none given");
  const Arg &k_cache = c.out[0], &v_cache = c.out[1];
  check_cache(k_cache, {"num_blocks", "block_size", hkv, d}, "Hkv and D of k");
  expect_same_dtype(v_cache, k_cache);
  expect_same_shape(v_cache, k_cache);
  return {{k_cache.shape(), k_cache.dtype()}, {v_cache.shape(), v_cache.dtype()}};
}

void check_alibi(const Arg& alibi, int64_t hq) {
  if (!alibi.present()) return;
  expect_dtype(alibi, DType::kF32);
  expect_shape(alibi, {hq}, "Hq of q");
}

std::vector<TensorDesc> infer_prefill_attention(const Call& c) {
  const Arg &q = c.in[0], &k = c.in[1], &v = c.in[2], &cu_seqlens = c.in[3];
  const auto& a = get_attrs<rma_attention_attrs>(c.op, c.attrs, "rma_attention_attrs");
  expect_bool_attr(c.op, "causal", a.causal);
  expect_window(c.op, a);
  expect_float(q);
  expect_shape(q, {"T", "Hq", "D"});
  const int64_t t = q.dim(0), hq = q.dim(1), d = q.dim(2);
  expect_same_dtype(k, q);
  expect_shape(k, {t, "Hkv", d}, "T and D of q");
  expect_gqa(k, hq, k.dim(1));
  expect_same_dtype(v, q);
  expect_same_shape(v, k);
  expect_dtype(cu_seqlens, DType::kI32);
  expect_shape(cu_seqlens, {"B+1"});
  expect_dim_at_least(cu_seqlens, 0, "B+1", 1);
  check_alibi(c.in[4], hq);
  return {{q.shape(), q.dtype()}};
}

std::vector<TensorDesc> infer_paged_decode_attention(const Call& c) {
  const Arg &q = c.in[0], &k_cache = c.in[1], &v_cache = c.in[2], &block_table = c.in[3],
            &context_lens = c.in[4];
  // `causal` is for prefill only; a decode query sees its whole context.
  expect_window(c.op, get_attrs<rma_attention_attrs>(c.op, c.attrs, "rma_attention_attrs"));
  expect_float(q);
  expect_shape(q, {"B", "Hq", "D"});
  const int64_t b = q.dim(0), hq = q.dim(1), d = q.dim(2);
  // The cache dtype may differ from q's.
  check_cache(k_cache, {"num_blocks", "block_size", "Hkv", d}, "D of q");
  expect_gqa(k_cache, hq, k_cache.dim(2));
  expect_same_dtype(v_cache, k_cache);
  expect_same_shape(v_cache, k_cache);
  expect_dtype(block_table, DType::kI32);
  expect_shape(block_table, {b, "max_blocks"}, "B of q");
  expect_dtype(context_lens, DType::kI32);
  expect_shape(context_lens, {b}, "B of q");
  check_alibi(c.in[5], hq);
  return {{q.shape(), q.dtype()}};
}

std::vector<TensorDesc> infer_act_and_mul(const Call& c) {
  const Arg& x = c.in[0];
  expect_float(x);
  expect_min_ndim(x, 1, "[..., 2I]");
  if (x.dim(-1) % 2 != 0)
    fail(x, "expected an even last dim [..., 2I], got shape " + to_string(x.shape()));
  return {{with_last(x.shape(), x.dim(-1) / 2), x.dtype()}};
}

std::vector<TensorDesc> infer_gelu_and_mul(const Call& c) {
  const auto& a = get_attrs<rma_gelu_attrs>(c.op, c.attrs, "rma_gelu_attrs");
  expect_bool_attr(c.op, "approximate", a.approximate);
  return infer_act_and_mul(c);
}

std::vector<TensorDesc> infer_embedding(const Call& c) {
  const Arg &ids = c.in[0], &table = c.in[1];
  expect_index(ids);
  expect_shape(ids, {"T"});
  if (!is_float(table.dtype()) && !is_quantized(table.dtype()))
    fail(table, "expected a float or block-quantized dtype, got " + str(table.dtype()));
  expect_shape(table, {"V", "H"});
  // Rows come out in the caller's choice of float dtype: out_dtype, else a
  // given output's dtype, else the table's own for a float table and f32 for
  // a quantized one.
  DType out = is_quantized(table.dtype()) ? DType::kF32 : table.dtype();
  if (c.out_dtype) {
    out = *c.out_dtype;
    if (!is_float(out))
      fail(c.op, "out_dtype: expected a float dtype (f32, f16, bf16), got " + str(out));
  } else if (c.given(0)) {
    out = c.out[0].dtype();
    if (!is_float(out)) fail(c.out[0], "expected a float dtype (f32, f16, bf16), got " + str(out));
  }
  return {{{ids.dim(0), table.dim(1)}, out}};
}

std::vector<TensorDesc> infer_moe_gating(const Call& c) {
  const Arg& logits = c.in[0];
  const auto& a = get_attrs<rma_moe_gating_attrs>(c.op, c.attrs, "rma_moe_gating_attrs");
  expect_float(logits);
  expect_shape(logits, {"T", "E"});
  const int64_t t = logits.dim(0), e = logits.dim(1);
  if (a.k < 1 || a.k > e)
    fail_attr(c.op, "k", "expected 1 <= k <= E = " + str(e) + ", got " + str(int64_t{a.k}));
  expect_bool_attr(c.op, "renormalize", a.renormalize);
  return {{{t, a.k}, DType::kF32}, {{t, a.k}, DType::kI32}};
}

std::vector<TensorDesc> infer_sample(const Call& c) {
  const Arg &logits = c.in[0], &prev_tokens = c.in[1];
  const auto& a = get_attrs<rma_sample_attrs>(c.op, c.attrs, "rma_sample_attrs");
  if (std::isnan(a.temperature))
    fail_attr(c.op, "temperature", "expected a number (<= 0: greedy), got nan");
  if (a.top_k < 0) fail_attr(c.op, "top_k", "expected >= 0 (0: off), got " + str(int64_t{a.top_k}));
  if (!(a.top_p > 0 && a.top_p <= 1))
    fail_attr(c.op, "top_p", "expected a value in (0, 1] (1: off), got " + str(double{a.top_p}));
  if (!(a.min_p >= 0 && a.min_p <= 1))
    fail_attr(c.op, "min_p", "expected a value in [0, 1] (0: off), got " + str(double{a.min_p}));
  expect_positive_attr(c.op, "repetition_penalty", a.repetition_penalty);

  expect_float(logits);
  expect_shape(logits, {"B", "V"});
  expect_dim_at_least(logits, 1, "V", 1);  // a row must have a token to pick
  if (prev_tokens.present()) {
    expect_dtype(prev_tokens, DType::kI32);
    expect_shape(prev_tokens, {logits.dim(0), "L"}, "B of logits");
  }
  return {{{logits.dim(0)}, DType::kI32}};
}

std::vector<TensorDesc> infer_softmax(const Call& c) {
  const Arg& x = c.in[0];
  const auto& a = get_attrs<rma_softmax_attrs>(c.op, c.attrs, "rma_softmax_attrs");
  expect_float(x);
  expect_min_ndim(x, 1, "[..., N]");
  if (a.axis != -1 && a.axis != x.ndim() - 1)
    fail_attr(c.op, "axis",
              "only the last axis (-1 or " + str(int64_t{x.ndim() - 1}) +
                  ") is supported in ABI v1, got " + str(int64_t{a.axis}));
  return {{x.shape(), x.dtype()}};
}

// numpy broadcasting: shapes aligned at the back; each pair of dims equal or
// one of them 1.
std::vector<TensorDesc> infer_binary(const Call& c) {
  const Arg &a = c.in[0], &b = c.in[1];
  expect_float(a);
  expect_same_dtype(b, a);
  const int n = std::max(a.ndim(), b.ndim());
  Shape y(n);
  for (int i = 1; i <= n; ++i) {
    const int64_t da = i <= a.ndim() ? a.dim(-i) : 1, db = i <= b.ndim() ? b.dim(-i) : 1;
    if (da != db && da != 1 && db != 1)
      fail(b, "shape " + to_string(b.shape()) + " does not broadcast with a's shape " +
                  to_string(a.shape()) + " (" + str(da) + " vs " + str(db) + " at dim -" +
                  str(int64_t{i}) + ")");
    y[n - i] = da == 1 ? db : da;
  }
  return {{y, a.dtype()}};
}

// In op id order (rma_op).
// clang-format off
constexpr InferFn kInfer[] = {
    infer_linear,        infer_quant_linear,      infer_rms_norm,
    infer_add_rms_norm,  infer_layer_norm,        infer_rope,
    infer_fill_kv_cache, infer_prefill_attention, infer_paged_decode_attention,
    infer_act_and_mul,   infer_gelu_and_mul,      infer_embedding,
    infer_moe_gating,    infer_sample,            infer_softmax,
    infer_binary,        infer_binary,
};
// clang-format on
static_assert(std::size(kInfer) == RMA_OP_COUNT, "one schema per op");

// What holds for every tensor of every op: a valid dtype, ndim in range
// (-1 only where absence is allowed), no negative sizes, and quantized
// innermost dims made of whole blocks.
void check_descriptor(const Arg& a, bool may_be_absent) {
  const rma_tensor& t = *a.t;
  if (t.ndim == -1) {
    if (!may_be_absent) fail(a, "required, but absent (ndim = -1)");
    return;
  }
  if (t.ndim < 0 || t.ndim > RMA_MAX_DIMS)
    fail(a, "expected ndim in [0, " + str(int64_t{RMA_MAX_DIMS}) + "] (or -1 when absent), got " +
                str(int64_t{t.ndim}));
  if (!is_valid(t.dtype)) fail(a, "invalid dtype id " + str(int64_t{t.dtype}));
  for (int i = 0; i < t.ndim; ++i)
    if (t.shape[i] < 0) fail(a, "negative size in shape " + to_string(a.shape()));
  if (is_quantized(a.dtype())) {
    const int64_t block = block_elems(a.dtype());
    if (t.ndim == 0 || t.shape[t.ndim - 1] % block != 0)
      fail(a, str(a.dtype()) + " packs the last dim in blocks of " + str(block) +
                  ", so it must be a multiple of " + str(block) + "; got shape " +
                  to_string(a.shape()));
  }
}

std::string list_names(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

std::vector<TensorDesc> infer_outputs(rma_op op, const std::vector<rma_tensor>& inputs,
                                      const void* attrs,
                                      const std::vector<rma_tensor>& given_outputs,
                                      std::optional<DType> out_dtype) {
  if (op < 0 || op >= RMA_OP_COUNT)
    fail(op, "unknown op id " + str(int64_t{op}) + " (expected 0.." +
                 str(int64_t{RMA_OP_COUNT - 1}) + ")");
  const auto& in_names = op_input_names(op);
  const auto& out_names = op_output_names(op);
  const auto optional = [](const std::string& n) { return !n.empty() && n.back() == '?'; };
  const auto bare = [&](const std::string& n) {
    return optional(n) ? n.substr(0, n.size() - 1) : n;
  };

  // Trailing optional inputs may be left out of the list altogether.
  size_t required = in_names.size();
  while (required > 0 && optional(in_names[required - 1])) --required;
  if (inputs.size() < required || inputs.size() > in_names.size())
    fail(op, "expected " +
                 (required == in_names.size()
                      ? str(int64_t(required))
                      : str(int64_t(required)) + " to " + str(int64_t(in_names.size()))) +
                 " inputs (" + list_names(in_names) + "), got " + str(int64_t(inputs.size())));
  if (!given_outputs.empty() && given_outputs.size() != out_names.size())
    fail(op, "expected 0 or " + str(int64_t(out_names.size())) + " outputs (" +
                 list_names(out_names) + "), got " + str(int64_t(given_outputs.size())));

  Call call{op, {}, {}, attrs, out_dtype};
  for (size_t i = 0; i < in_names.size(); ++i) {
    Arg a{op, "argument", bare(in_names[i]), i < inputs.size() ? &inputs[i] : nullptr};
    if (a.t) check_descriptor(a, optional(in_names[i]));
    call.in.push_back(a);
  }
  // A given output may be absent (ndim = -1): that one is left to the caller
  // to allocate. fill_kv_cache checks its own.
  for (size_t i = 0; i < given_outputs.size(); ++i) {
    Arg a{op, "output", out_names[i], &given_outputs[i]};
    check_descriptor(a, true);
    call.out.push_back(a);
  }

  std::vector<TensorDesc> descs = kInfer[op](call);

  for (size_t i = 0; i < call.out.size(); ++i) {
    if (!call.given(i)) continue;
    const TensorDesc got{call.out[i].shape(), call.out[i].dtype()};
    if (got.shape != descs[i].shape || got.dtype != descs[i].dtype)
      fail(call.out[i], "expected " + describe(descs[i]) + ", got " + describe(got));
  }
  return descs;
}

}  // namespace rma
