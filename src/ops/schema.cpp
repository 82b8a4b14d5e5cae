// Op schemas: argument checks and output descriptions for every op, as
// docs/ops.md states them. One function per op, picked from a table by op id.
// Every check throws Error(kInvalidArgument) naming the op, the argument,
// what was expected and what came, so a caller can fix the call without
// reading this file; nothing here trusts a descriptor before checking it.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
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
std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%x", v);
  return buf;
}
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
              "expected an rma_precision (0: accurate, 1: fast), got " + str(int64_t{a.precision}));
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
    case RMA_ROPE_SCALING_NONE:
      break;
    case RMA_ROPE_SCALING_LINEAR:
      expect_positive_attr(op, "factor", a.factor);
      break;
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
    case RMA_ROPE_SCALING_YARN:
      fail_attr(op, "scaling", "yarn (3) is not supported in ABI v1");
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
  // `log` was appended to ABI v1: a struct that ends before it means softmax.
  const auto& a = get_attrs<rma_softmax_attrs>(c.op, c.attrs, "rma_softmax_attrs",
                                               offsetof(rma_softmax_attrs, log));
  if (a.struct_size >= offsetof(rma_softmax_attrs, log) + sizeof(a.log))
    expect_bool_attr(c.op, "log", a.log);
  expect_float(x);
  expect_min_ndim(x, 1, "[..., N]");
  if (a.axis != -1 && a.axis != x.ndim() - 1)
    fail_attr(c.op, "axis",
              "only the last axis (-1 or " + str(int64_t{x.ndim() - 1}) +
                  ") is supported in ABI v1, got " + str(int64_t{a.axis}));
  return {{x.shape(), x.dtype()}};
}

// numpy broadcasting of `args` (in order): shapes aligned at the back; each
// dim equal across the arguments or 1. The error names the first argument
// that does not fit the shape of those before it.
Shape broadcast_shape(const std::vector<const Arg*>& args) {
  Shape y;
  std::string names;  // of the arguments broadcast so far: "a", "cond, a"
  for (const Arg* a : args) {
    const int n = std::max(static_cast<int>(y.size()), a->ndim());
    Shape next(n);
    for (int i = 1; i <= n; ++i) {
      const int64_t dy = i <= static_cast<int>(y.size()) ? y[y.size() - i] : 1;
      const int64_t da = i <= a->ndim() ? a->dim(-i) : 1;
      if (dy != da && dy != 1 && da != 1)
        fail(*a, "shape " + to_string(a->shape()) + " does not broadcast with " + to_string(y) +
                     " (the shape of " + names + "): " + str(dy) + " vs " + str(da) + " at dim -" +
                     str(int64_t{i}));
      next[n - i] = dy == 1 ? da : dy;
    }
    y = std::move(next);
    names += (names.empty() ? "" : ", ") + a->name;
  }
  return y;
}

// add, mul: numpy broadcasting, one float dtype.
std::vector<TensorDesc> infer_add_mul(const Call& c) {
  const Arg &a = c.in[0], &b = c.in[1];
  expect_float(a);
  expect_same_dtype(b, a);
  return {{broadcast_shape({&a, &b}), a.dtype()}};
}

// ------------------------------------------------------------------ Tier 2

// Dtype classes, as masks: which dtypes an op (or one of its kinds) takes.
enum : unsigned {
  kFloats = 1u << 0,  // f32, f16, bf16
  kInts = 1u << 1,    // i32, i64
  kBools = 1u << 2,   // bool
  kI8 = 1u << 3,      // i8 (data movement only)
  kNumeric = kFloats | kInts,
  kPlain = kFloats | kInts | kBools | kI8,  // every non-quantized dtype
};

unsigned class_of(DType dt) {
  if (is_float(dt)) return kFloats;
  if (dt == DType::kI32 || dt == DType::kI64) return kInts;
  if (dt == DType::kBool) return kBools;
  if (dt == DType::kI8) return kI8;
  return 0;  // block-quantized
}

std::string class_list(unsigned mask) {
  std::string s;
  const auto add = [&](unsigned bit, const char* names) {
    if (mask & bit) s += (s.empty() ? "" : ", ") + std::string(names);
  };
  add(kFloats, "f32, f16, bf16");
  add(kI8, "i8");
  add(kInts, "i32, i64");
  add(kBools, "bool");
  return s;
}

// `what` names the kind asking ("for exp").
void expect_class(const Arg& a, unsigned mask, const std::string& what = {}) {
  if (!(class_of(a.dtype()) & mask))
    fail(a, "expected a dtype in (" + class_list(mask) + ")" + (what.empty() ? "" : " " + what) +
                ", got " + str(a.dtype()));
}

// The `kind` attribute: a value of `enum_name` in [0, count).
void expect_kind(rma_op op, int32_t kind, int32_t count, const char* enum_name) {
  if (kind < 0 || kind >= count)
    fail_attr(op, "kind",
              std::string("expected an ") + enum_name + " (0.." + str(int64_t{count - 1}) +
                  "), got " + str(int64_t{kind}));
}

// An axis attribute in [0, ndim) of `x`.
void expect_axis(rma_op op, const char* attr, int32_t axis, const Arg& x) {
  if (axis < 0 || axis >= x.ndim())
    fail_attr(op, attr,
              "expected an axis in [0, " + str(int64_t{x.ndim()}) + ") of " + x.name + " " +
                  to_string(x.shape()) + ", got " + str(int64_t{axis}));
}

// The output rank an op would produce, within RMA_MAX_DIMS.
void expect_out_rank(const Arg& a, int64_t ndim) {
  if (ndim > RMA_MAX_DIMS)
    fail(a, "the output would have " + str(ndim) +
                " dims, more than RMA_MAX_DIMS = " + str(int64_t{RMA_MAX_DIMS}));
}

std::vector<TensorDesc> infer_unary(const Call& c) {
  const Arg& x = c.in[0];
  const auto& a = get_attrs<rma_unary_attrs>(c.op, c.attrs, "rma_unary_attrs");
  expect_kind(c.op, a.kind, RMA_UNARY_COUNT, "rma_unary_kind");
  unsigned mask = kFloats;
  switch (a.kind) {
    case RMA_UNARY_NEG:
    case RMA_UNARY_ABS:
    case RMA_UNARY_SIGN:
    case RMA_UNARY_RELU:
    case RMA_UNARY_CLIP:
      mask = kNumeric;
      break;
    case RMA_UNARY_NOT:
      mask = kBools;
      break;
    default:
      break;
  }
  expect_class(x, mask, "for " + std::string(unary_kind_name(a.kind)));
  if (a.kind == RMA_UNARY_LEAKY_RELU) expect_finite_attr(c.op, "param0", a.param0);
  if (a.kind == RMA_UNARY_CLIP) {
    // An infinite bound is no bound; NaN has no order.
    if (std::isnan(a.param0)) fail_attr(c.op, "param0", "expected a number (clip's min), got nan");
    if (std::isnan(a.param1)) fail_attr(c.op, "param1", "expected a number (clip's max), got nan");
  }
  return {{x.shape(), x.dtype()}};
}

bool is_comparison(int32_t kind) {
  return kind >= RMA_BINARY_EQUAL && kind <= RMA_BINARY_GREATER_EQUAL;
}
bool is_logic(int32_t kind) { return kind >= RMA_BINARY_AND && kind <= RMA_BINARY_XOR; }

std::vector<TensorDesc> infer_binary(const Call& c) {
  const Arg &a = c.in[0], &b = c.in[1];
  const auto& at = get_attrs<rma_binary_attrs>(c.op, c.attrs, "rma_binary_attrs");
  expect_kind(c.op, at.kind, RMA_BINARY_COUNT, "rma_binary_kind");
  const unsigned mask = is_logic(at.kind) ? kBools : at.kind == RMA_BINARY_POW ? kFloats : kNumeric;
  expect_class(a, mask, "for " + std::string(binary_kind_name(at.kind)));
  expect_same_dtype(b, a);
  const Shape y = broadcast_shape({&a, &b});
  return {{y, is_comparison(at.kind) ? DType::kBool : a.dtype()}};
}

// numpy matmul: a[..., M, K], b[..., K, N], batch dims broadcast; a 1-D a
// is [K] (M dropped from y), a 1-D b is [K] (N dropped).
std::vector<TensorDesc> infer_matmul(const Call& c) {
  const Arg &a = c.in[0], &b = c.in[1];
  expect_float(a);
  expect_same_dtype(b, a);
  expect_min_ndim(a, 1, "[..., M, K] or [K]");
  expect_min_ndim(b, 1, "[..., K, N] or [K]");
  const int64_t k = a.dim(-1);
  const int kb_axis = b.ndim() == 1 ? 0 : b.ndim() - 2;
  if (b.dim(kb_axis) != k)
    fail(b, "expected K = " + str(k) + " (last dim of a " + to_string(a.shape()) + ") in dim " +
                str(int64_t{kb_axis}) + ", got shape " + to_string(b.shape()));
  // Batch dims: all but the matrix dims, broadcast against each other.
  const Shape batch_a(a.t->shape, a.t->shape + std::max(0, a.ndim() - 2));
  const Shape batch_b(b.t->shape, b.t->shape + std::max(0, b.ndim() - 2));
  const int nb = static_cast<int>(std::max(batch_a.size(), batch_b.size()));
  Shape y(nb);
  for (int i = 1; i <= nb; ++i) {
    const int64_t da = i <= static_cast<int>(batch_a.size()) ? batch_a[batch_a.size() - i] : 1;
    const int64_t db = i <= static_cast<int>(batch_b.size()) ? batch_b[batch_b.size() - i] : 1;
    if (da != db && da != 1 && db != 1)
      fail(b, "batch dims " + to_string(batch_b) + " do not broadcast with a's batch dims " +
                  to_string(batch_a) + " (" + str(db) + " vs " + str(da) + ")");
    y[nb - i] = da == 1 ? db : da;
  }
  if (a.ndim() >= 2) y.push_back(a.dim(-2));
  if (b.ndim() >= 2) y.push_back(b.dim(-1));
  return {{y, a.dtype()}};
}

std::vector<TensorDesc> infer_reduce(const Call& c) {
  const Arg& x = c.in[0];
  const auto& a = get_attrs<rma_reduce_attrs>(c.op, c.attrs, "rma_reduce_attrs");
  expect_kind(c.op, a.kind, RMA_REDUCE_COUNT, "rma_reduce_kind");
  expect_bool_attr(c.op, "keepdims", a.keepdims);
  const std::string kind(reduce_kind_name(a.kind));
  expect_class(x, a.kind == RMA_REDUCE_MEAN ? kFloats : kNumeric, "for " + kind);
  const uint32_t all = (1u << x.ndim()) - 1;
  if (a.axes == 0 || (a.axes & ~all) != 0)
    fail_attr(c.op, "axes",
              "expected a mask of at least one axis of x " + to_string(x.shape()) +
                  (x.ndim() ? " (bits 0.." + str(int64_t{x.ndim() - 1}) + ")" : " (none: 0-D)") +
                  ", got " + hex(a.axes));
  const bool arg = a.kind == RMA_REDUCE_ARGMAX || a.kind == RMA_REDUCE_ARGMIN;
  if (arg && (a.axes & (a.axes - 1)) != 0)
    fail_attr(c.op, "axes", kind + " reduces exactly one axis, got mask " + hex(a.axes));
  const bool needs_values = arg || a.kind == RMA_REDUCE_MAX || a.kind == RMA_REDUCE_MIN;
  Shape y;
  for (int i = 0; i < x.ndim(); ++i) {
    if (!(a.axes >> i & 1)) {
      y.push_back(x.dim(i));
      continue;
    }
    if (needs_values && x.dim(i) == 0)
      fail(x, kind + " over axis " + str(int64_t{i}) + " of extent 0 has no value (shape " +
                  to_string(x.shape()) + ")");
    if (a.keepdims) y.push_back(1);
  }
  return {{y, arg ? DType::kI64 : x.dtype()}};
}

std::vector<TensorDesc> infer_cast(const Call& c) {
  const Arg& x = c.in[0];
  const auto& a = get_attrs<rma_cast_attrs>(c.op, c.attrs, "rma_cast_attrs");
  const unsigned mask = kFloats | kInts | kBools;
  if (!is_valid(a.dtype) || !(class_of(static_cast<DType>(a.dtype)) & mask))
    fail_attr(c.op, "dtype",
              "expected one of (" + class_list(mask) + "), got " +
                  (is_valid(a.dtype) ? str(static_cast<DType>(a.dtype))
                                     : "invalid id " + str(int64_t{a.dtype})));
  expect_class(x, mask);
  return {{x.shape(), static_cast<DType>(a.dtype)}};
}

std::vector<TensorDesc> infer_where(const Call& c) {
  const Arg &cond = c.in[0], &a = c.in[1], &b = c.in[2];
  expect_dtype(cond, DType::kBool);
  expect_class(a, kPlain);
  expect_same_dtype(b, a);
  return {{broadcast_shape({&cond, &a, &b}), a.dtype()}};
}

std::vector<TensorDesc> infer_gather(const Call& c) {
  const Arg &data = c.in[0], &indices = c.in[1];
  const auto& a = get_attrs<rma_axis_attrs>(c.op, c.attrs, "rma_axis_attrs");
  expect_class(data, kPlain);
  expect_min_ndim(data, 1, "to gather along");
  expect_axis(c.op, "axis", a.axis, data);
  expect_index(indices);
  expect_out_rank(indices, int64_t{data.ndim()} - 1 + indices.ndim());
  const Shape d = data.shape(), idx = indices.shape();
  Shape y(d.begin(), d.begin() + a.axis);
  y.insert(y.end(), idx.begin(), idx.end());
  y.insert(y.end(), d.begin() + a.axis + 1, d.end());
  return {{y, data.dtype()}};
}

std::vector<TensorDesc> infer_concat(const Call& c) {
  const Arg& x0 = c.in[0];
  const auto& a = get_attrs<rma_axis_attrs>(c.op, c.attrs, "rma_axis_attrs");
  expect_class(x0, kPlain);
  expect_min_ndim(x0, 1, "to concatenate along");
  expect_axis(c.op, "axis", a.axis, x0);
  Shape y = x0.shape();
  for (size_t i = 1; i < c.in.size(); ++i) {
    const Arg& x = c.in[i];
    expect_same_dtype(x, x0);
    Pattern want;
    for (int d = 0; d < x0.ndim(); ++d) want.push_back(d == a.axis ? Dim("*") : Dim(x0.dim(d)));
    expect_shape(x, want, "x0's but axis " + str(int64_t{a.axis}));
    y[a.axis] += x.dim(a.axis);
  }
  return {{y, x0.dtype()}};
}

std::vector<TensorDesc> infer_slice(const Call& c) {
  const Arg& x = c.in[0];
  const auto& a = get_attrs<rma_slice_attrs>(c.op, c.attrs, "rma_slice_attrs");
  expect_class(x, kPlain);
  Shape y;
  for (int d = 0; d < x.ndim(); ++d) {
    std::string at = "[";  // (piece by piece: GCC 12's -Wrestrict misfires on "[" + str)
    at += str(int64_t{d});
    at += ']';
    const int64_t n = x.dim(d), start = a.start[d], step = a.step[d], size = a.size[d];
    if (step == 0) fail_attr(c.op, ("step" + at).c_str(), "expected a non-zero step, got 0");
    if (size < 0) fail_attr(c.op, ("size" + at).c_str(), "expected >= 0, got " + str(size));
    if (size > 0) {
      // The first and the last index read must lie in [0, n).
      int64_t span = 0, last = 0;
      const bool overflow = __builtin_mul_overflow(size - 1, step, &span) ||
                            __builtin_add_overflow(start, span, &last);
      if (start < 0 || start >= n || overflow || last < 0 || last >= n)
        fail_attr(c.op, ("start" + at).c_str(),
                  "reads x[" + str(start) + " + i * " + str(step) + "] for i < " + str(size) +
                      ", outside [0, " + str(n) + ") of axis " + str(int64_t{d}) + " (x is " +
                      to_string(x.shape()) + "; clamp start and size first)");
    }
    y.push_back(size);
  }
  return {{y, x.dtype()}};
}

std::vector<TensorDesc> infer_transpose(const Call& c) {
  const Arg& x = c.in[0];
  const auto& a = get_attrs<rma_transpose_attrs>(c.op, c.attrs, "rma_transpose_attrs");
  expect_class(x, kPlain);
  std::string perm;
  for (int d = 0; d < x.ndim(); ++d) {
    if (d) perm += ", ";
    perm += str(int64_t{a.perm[d]});
  }
  uint32_t seen = 0;
  Shape y;
  for (int d = 0; d < x.ndim(); ++d) {
    const int32_t p = a.perm[d];
    if (p < 0 || p >= x.ndim() || (seen >> p & 1))
      fail_attr(c.op, "perm",
                "expected a permutation of [0, " + str(int64_t{x.ndim()}) + ") for x " +
                    to_string(x.shape()) + ", got [" + perm + "]");
    seen |= 1u << p;
    y.push_back(x.dim(p));
  }
  return {{y, x.dtype()}};
}

std::vector<TensorDesc> infer_expand(const Call& c) {
  const Arg& x = c.in[0];
  const auto& a = get_attrs<rma_shape_attrs>(c.op, c.attrs, "rma_shape_attrs");
  expect_class(x, kPlain);
  if (a.ndim < x.ndim() || a.ndim > RMA_MAX_DIMS)
    fail_attr(c.op, "ndim",
              "expected " + str(int64_t{x.ndim()}) + " (x's rank) to " +
                  str(int64_t{RMA_MAX_DIMS}) + ", got " + str(int64_t{a.ndim}));
  const Shape y(a.shape, a.shape + a.ndim);
  for (int i = 1; i <= a.ndim; ++i) {
    const int64_t want = y[a.ndim - i];
    if (want < 0) fail_attr(c.op, "shape", "negative size in " + to_string(y));
    if (i <= x.ndim() && x.dim(-i) != want && x.dim(-i) != 1)
      fail(x, "shape " + to_string(x.shape()) + " does not broadcast to " + to_string(y) + " (" +
                  str(x.dim(-i)) + " vs " + str(want) + " at dim -" + str(int64_t{i}) + ")");
  }
  return {{y, x.dtype()}};
}

// The window attributes conv2d and pool2d share: stride and dilation >= 1,
// pads >= 0 (pool2d also bounds each pad by its window).
void expect_window_attrs(rma_op op, const int32_t stride[2], const int32_t dilation[2],
                         const int32_t pad[4]) {
  static constexpr const char* kStride[] = {"stride[0]", "stride[1]"};
  static constexpr const char* kDilation[] = {"dilation[0]", "dilation[1]"};
  static constexpr const char* kPad[] = {"pad[0]", "pad[1]", "pad[2]", "pad[3]"};
  for (int i = 0; i < 2; ++i) {
    if (stride[i] < 1) fail_attr(op, kStride[i], "expected >= 1, got " + str(int64_t{stride[i]}));
    if (dilation[i] < 1)
      fail_attr(op, kDilation[i], "expected >= 1, got " + str(int64_t{dilation[i]}));
  }
  for (int i = 0; i < 4; ++i)
    if (pad[i] < 0)
      fail_attr(op, kPad[i],
                "expected >= 0 (pads are top, left, bottom, right), got " + str(int64_t{pad[i]}));
}

// y's spatial extents [oH, oW] from x [N, C, H, W] and a window of
// kernel[2]; each must be >= 1.
std::pair<int64_t, int64_t> window_out(const Arg& x, const int64_t kernel[2],
                                       const int32_t stride[2], const int32_t dilation[2],
                                       const int32_t pad[4], bool ceil_mode) {
  int64_t out[2];
  for (int i = 0; i < 2; ++i) {
    out[i] = window_out_extent(x.dim(2 + i), kernel[i], stride[i], dilation[i], pad[i], pad[i + 2],
                               ceil_mode);
    if (out[i] < 1)
      fail(x, std::string("no window fits along ") + (i ? "W" : "H") + ": extent " +
                  str(x.dim(2 + i)) + " + pads " + str(int64_t{pad[i]}) + ", " +
                  str(int64_t{pad[i + 2]}) +
                  " is less than the window span dilation * (kernel - 1) + 1 = " +
                  str(int64_t{dilation[i]} * (kernel[i] - 1) + 1) + " (x is " +
                  to_string(x.shape()) + ")");
  }
  return {out[0], out[1]};
}

std::vector<TensorDesc> infer_conv2d(const Call& c) {
  const Arg &x = c.in[0], &w = c.in[1], &bias = c.in[2];
  const auto& a = get_attrs<rma_conv2d_attrs>(c.op, c.attrs, "rma_conv2d_attrs");
  expect_window_attrs(c.op, a.stride, a.dilation, a.pad);
  if (a.group < 1) fail_attr(c.op, "group", "expected >= 1, got " + str(int64_t{a.group}));
  if (a.activation < RMA_ACT_NONE || a.activation > RMA_ACT_TANH)
    fail_attr(c.op, "activation",
              "expected an rma_activation (0..7), got " + str(int64_t{a.activation}));
  if (a.activation == RMA_ACT_LEAKY_RELU)
    expect_finite_attr(c.op, "activation_param", a.activation_param);
  expect_float(x);
  expect_shape(x, {"N", "C", "H", "W"});
  expect_same_dtype(w, x);
  expect_shape(w, {"M", "C/group", "kH", "kW"});
  const int64_t channels = x.dim(1), filters = w.dim(0);
  if (channels % a.group != 0)
    fail_attr(c.op, "group",
              "expected a divisor of C = " + str(channels) + " (x is " + to_string(x.shape()) +
                  "), got " + str(int64_t{a.group}));
  if (filters % a.group != 0)
    fail_attr(c.op, "group",
              "expected a divisor of M = " + str(filters) + " (w is " + to_string(w.shape()) +
                  "), got " + str(int64_t{a.group}));
  if (w.dim(1) != channels / a.group)
    fail(w, "expected C/group = " + str(channels) + " / " + str(int64_t{a.group}) + " = " +
                str(channels / a.group) + " in dim 1, got shape " + to_string(w.shape()));
  if (w.dim(2) < 1 || w.dim(3) < 1)
    fail(w, "expected kH, kW >= 1, got shape " + to_string(w.shape()));
  if (bias.present()) {
    expect_same_dtype(bias, x);
    expect_shape(bias, {Dim(filters)}, "M, filters of w");
  }
  const int64_t kernel[2] = {w.dim(2), w.dim(3)};
  const auto [oh, ow] = window_out(x, kernel, a.stride, a.dilation, a.pad, false);
  return {{{x.dim(0), filters, oh, ow}, x.dtype()}};
}

std::vector<TensorDesc> infer_pool2d(const Call& c) {
  const Arg& x = c.in[0];
  const auto& a = get_attrs<rma_pool2d_attrs>(c.op, c.attrs, "rma_pool2d_attrs");
  expect_kind(c.op, a.kind, RMA_POOL_COUNT, "rma_pool_kind");
  expect_window_attrs(c.op, a.stride, a.dilation, a.pad);
  expect_bool_attr(c.op, "ceil_mode", a.ceil_mode);
  expect_bool_attr(c.op, "count_include_pad", a.count_include_pad);
  static constexpr const char* kKernel[] = {"kernel[0]", "kernel[1]"};
  static constexpr const char* kPad[] = {"pad[0]", "pad[1]", "pad[2]", "pad[3]"};
  for (int i = 0; i < 2; ++i)
    if (a.kernel[i] < 1)
      fail_attr(c.op, kKernel[i], "expected >= 1, got " + str(int64_t{a.kernel[i]}));
  // A pad as wide as the window would allow a window of padding only.
  for (int i = 0; i < 4; ++i) {
    const int64_t span = int64_t{a.dilation[i % 2]} * (a.kernel[i % 2] - 1) + 1;
    if (a.pad[i] >= span)
      fail_attr(c.op, kPad[i],
                "expected < the window span dilation * (kernel - 1) + 1 = " + str(span) + ", got " +
                    str(int64_t{a.pad[i]}));
  }
  expect_float(x);
  expect_shape(x, {"N", "C", "H", "W"});
  const int64_t kernel[2] = {a.kernel[0], a.kernel[1]};
  const auto [oh, ow] = window_out(x, kernel, a.stride, a.dilation, a.pad, a.ceil_mode != 0);
  return {{{x.dim(0), x.dim(1), oh, ow}, x.dtype()}};
}

// In op id order (rma_op).
// clang-format off
constexpr InferFn kInfer[] = {
    infer_linear,        infer_quant_linear,      infer_rms_norm,
    infer_add_rms_norm,  infer_layer_norm,        infer_rope,
    infer_fill_kv_cache, infer_prefill_attention, infer_paged_decode_attention,
    infer_act_and_mul,   infer_gelu_and_mul,      infer_embedding,
    infer_moe_gating,    infer_sample,            infer_softmax,
    infer_add_mul,       infer_add_mul,
    infer_unary,         infer_binary,            infer_matmul,
    infer_reduce,        infer_cast,              infer_where,
    infer_gather,        infer_concat,            infer_slice,
    infer_transpose,     infer_expand,            infer_conv2d,
    infer_pool2d,
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

  if (!given_outputs.empty() && given_outputs.size() != out_names.size())
    fail(op, "expected 0 or " + str(int64_t(out_names.size())) + " outputs (" +
                 list_names(out_names) + "), got " + str(int64_t(given_outputs.size())));

  Call call{op, {}, {}, attrs, out_dtype};
  if (op_is_variadic(op)) {
    // One input repeated 1 to kMaxVariadicInputs times: x0, x1, ...
    if (inputs.empty() || inputs.size() > size_t{kMaxVariadicInputs})
      fail(op, "expected 1 to " + str(int64_t{kMaxVariadicInputs}) + " inputs (" +
                   op_input_name(op, 0) + ", " + op_input_name(op, 1) + ", ...), got " +
                   str(int64_t(inputs.size())));
    for (size_t i = 0; i < inputs.size(); ++i) {
      Arg a{op, "argument", op_input_name(op, i), &inputs[i]};
      check_descriptor(a, false);
      call.in.push_back(a);
    }
  } else {
    // Trailing optional inputs may be left out of the list altogether.
    size_t required = in_names.size();
    while (required > 0 && optional(in_names[required - 1])) --required;
    if (inputs.size() < required || inputs.size() > in_names.size())
      fail(op, "expected " +
                   (required == in_names.size()
                        ? str(int64_t(required))
                        : str(int64_t(required)) + " to " + str(int64_t(in_names.size()))) +
                   " inputs (" + list_names(in_names) + "), got " + str(int64_t(inputs.size())));
    for (size_t i = 0; i < in_names.size(); ++i) {
      Arg a{op, "argument", bare(in_names[i]), i < inputs.size() ? &inputs[i] : nullptr};
      if (a.t) check_descriptor(a, optional(in_names[i]));
      call.in.push_back(a);
    }
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
