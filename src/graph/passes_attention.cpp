// fuse_attention: softmax(scale · q·kᵀ + mask) · v over heads -> prefill_attention.
//
// Matches, from the softmax outwards:
//   scores = matmul(q, kt)           q [B, H, S, D], kt [B, Hk, D, S]
//   scores = scores · c | scores / c  (any number, in any order with the mask)
//   scores = scores + mask           mask a constant: all zeros, or causal
//   probs  = softmax(scores)         over the last axis
//   out    = matmul(probs, v)        v [B, Hk, S, D]
// with scalar multipliers on q or kt also folded into the scale. kt is
// transpose(k, [0, 1, 3, 2]) in most exports; otherwise kt itself is
// transposed. The fused form packs the B equal-length sequences:
//   q, k, v -> transpose to [B, S, H, D] -> reshape [B·S, H, D]
//   o = prefill_attention(q, k, v, cu_seqlens = [0, S, 2S, ..., B·S])
//   out = transpose(reshape(o, [B, S, H, D]), [0, 2, 1, 3])
// and shape simplification then cancels the transposes against the ones
// the model already had. When B or S are symbols, cu_seqlens is computed
// from the shapes by host ops that specialize() folds.
//
// Attention with another mask stays unfused; its score scale is folded into
// the linear that makes q (try_fold_scores_scale).
#include <cmath>
#include <functional>

#include "pass_util.h"
#include "rma/graph/passes.h"
#include "rma/ops.h"

namespace rma::graph {
namespace pass {
int rewrite_all(Graph& g, const std::function<bool(Graph&, const Matcher&, NodeId)>& try_rewrite);
}  // namespace pass

namespace {

using pass::Matcher;

// A mask entry at or below this is "masked": exp() of it underflows to 0
// in f32 for any score a softmax would see (GPT-2 uses -1e4, most models
// -inf or the dtype's lowest value).
constexpr double kMasked = -1e4;

enum class MaskKind { kNone, kCausal, kOther };

// Classifies a constant mask broadcast over [B, H, S, S].
MaskKind classify_mask(const Value& mask, const Dim& s) {
  const std::optional<Shape> shape = known_shape(mask.shape);
  if (!shape || !mask.constant) return MaskKind::kOther;
  for (size_t d = 0; d + 2 < shape->size(); ++d)
    if ((*shape)[d] != 1) return MaskKind::kOther;  // differs per batch or head
  const int64_t rows = shape->size() >= 2 ? (*shape)[shape->size() - 2] : 1;
  const int64_t cols = shape->empty() ? 1 : shape->back();
  const std::vector<double> m = detail::tensor_doubles(*mask.constant);
  bool zeros = true;
  for (double v : m) zeros = zeros && v == 0;
  if (zeros) return MaskKind::kNone;
  if (!s.known() || rows != s.value || cols != s.value) return MaskKind::kOther;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      const double v = m[i * cols + j];
      if (j <= i ? v != 0 : !(v <= kMasked)) return MaskKind::kOther;
    }
  return MaskKind::kCausal;
}

// Strips scalar multipliers (single-use) off `v`, folding them into scale.
ValueId strip_scale(const Matcher& m, ValueId v, double* scale) {
  for (;;) {
    const Node* p = m.producer(v);
    if (!p || !m.single_use(v) || !Matcher::is_binary(*p, RMA_BINARY_MUL)) return v;
    int which = -1;
    for (int i = 0; i < 2; ++i)
      if (m.scalar(p->inputs[1 - i])) which = i;
    if (which < 0) return v;
    *scale *= *m.scalar(p->inputs[1 - which]);
    v = p->inputs[which];
  }
}

bool is_perm(const Node& n, std::initializer_list<int32_t> perm) {
  if (!Matcher::is_op(n, RMA_OP_TRANSPOSE)) return false;
  const auto& a = n.attrs_as<rma_transpose_attrs>();
  int i = 0;
  for (int32_t p : perm)
    if (a.perm[i++] != p) return false;
  return true;
}

ValueId reshape_static(Graph& g, const std::string& base, ValueId x, std::vector<int64_t> shape) {
  return pass::add(g, base, CoreOp::kReshape, {x}, {}, {{"shape", std::move(shape)}});
}

// cu_seqlens [0, S, 2S, ..., B·S] (i32) for `x` of shape [B, S, ...].
ValueId cu_seqlens(Graph& g, const std::string& base, ValueId x) {
  const SymShape& s = g.value(x).shape;
  if (s[0].known() && s[1].known()) {
    std::vector<int64_t> cu;
    for (int64_t b = 0; b <= s[0].value; ++b) cu.push_back(b * s[1].value);
    return pass::add_constant(g, base + ".cu_seqlens",
                              detail::host_ints(cu, {s[0].value + 1}, DType::kI32));
  }
  // range(0, B·S + 1, S) from the shape, folded by specialize().
  auto dim = [&](int64_t d) {
    return pass::add(g, base + "/dim" + std::to_string(d), CoreOp::kShape, {x}, {},
                     {{"start", d}, {"end", d + 1}});
  };
  auto binary = [&](const std::string& name, rma_binary_kind kind, ValueId a, ValueId b) {
    rma_binary_attrs at{};
    at.kind = kind;
    return pass::add(g, base + "/" + name, RMA_OP_BINARY, {a, b}, pass::attrs_bytes(at));
  };
  auto scalar = [&](const std::string& name, ValueId v) {
    return pass::add(g, base + "/" + name, CoreOp::kSqueeze, {v}, {},
                     {{"axes", std::vector<int64_t>{0}}});
  };
  const ValueId b = dim(0), seq = dim(1);
  const ValueId one = pass::add_constant(g, base + ".one", detail::host_ints({1}, {1}));
  const ValueId limit =
      binary("limit", RMA_BINARY_ADD, binary("tokens", RMA_BINARY_MUL, b, seq), one);
  const ValueId zero = pass::add_constant(g, base + ".zero", detail::host_ints({0}, {}));
  const ValueId range = pass::add(g, base + "/range", CoreOp::kRange,
                                  {zero, scalar("limit0", limit), scalar("seq0", seq)});
  rma_cast_attrs c{};
  c.dtype = RMA_DTYPE_I32;
  return pass::add(g, base + "/cu_seqlens", RMA_OP_CAST, {range}, pass::attrs_bytes(c));
}

bool try_attention(Graph& g, const Matcher& m, NodeId n) {
  const Node& sm = g.nodes()[n];
  if (!Matcher::is_op(sm, RMA_OP_SOFTMAX)) return false;
  {
    const auto& a = sm.attrs_as<rma_softmax_attrs>();
    const auto rank = static_cast<int32_t>(g.value(sm.inputs[0]).shape.size());
    if (rank != 4 || (a.axis != -1 && a.axis != rank - 1) || a.log != 0) return false;
  }
  const Node* pv = m.only_user(sm.outputs[0]);
  if (!pv || !Matcher::is_op(*pv, RMA_OP_MATMUL) || pv->inputs[0] != sm.outputs[0]) return false;
  const ValueId v = pv->inputs[1], result = pv->outputs[0];

  // Back from the softmax: scale and mask, then q·kᵀ.
  double scale = 1;
  MaskKind mask = MaskKind::kNone;
  bool masked = false;
  ValueId s = sm.inputs[0];
  const Node* qk = nullptr;
  for (int steps = 0; steps < 8 && !qk; ++steps) {
    const Node* p = m.producer(s);
    if (!p || !m.single_use(s)) return false;
    if (Matcher::is_op(*p, RMA_OP_MATMUL)) {
      qk = p;
    } else if (Matcher::is_binary(*p, RMA_BINARY_MUL)) {
      int which = -1;
      for (int i = 0; i < 2; ++i)
        if (m.scalar(p->inputs[1 - i])) which = i;
      if (which < 0) return false;
      scale *= *m.scalar(p->inputs[1 - which]);
      s = p->inputs[which];
    } else if (Matcher::is_binary(*p, RMA_BINARY_DIV) && m.scalar(p->inputs[1])) {
      scale /= *m.scalar(p->inputs[1]);
      s = p->inputs[0];
    } else if (Matcher::is_binary(*p, RMA_BINARY_ADD) && !masked) {
      int which = -1;
      for (int i = 0; i < 2; ++i)
        if (g.value(p->inputs[1 - i]).constant) which = i;
      if (which < 0) return false;
      if (g.value(p->outputs[0]).shape != g.value(p->inputs[which]).shape) return false;
      const Dim seq = g.value(p->inputs[which]).shape.back();
      mask = classify_mask(g.value(p->inputs[1 - which]), seq);
      if (mask == MaskKind::kOther) return false;
      masked = true;
      s = p->inputs[which];
    } else {
      return false;
    }
  }
  if (!qk || !std::isfinite(scale)) return false;
  const ValueId q = strip_scale(m, qk->inputs[0], &scale);
  const ValueId kt = strip_scale(m, qk->inputs[1], &scale);

  // Shapes: q [B, H, S, D], kt [B, Hk, D, S], v [B, Hk, S, D].
  const SymShape &qs = g.value(q).shape, &kts = g.value(kt).shape, &vs = g.value(v).shape;
  if (qs.size() != 4 || kts.size() != 4 || vs.size() != 4) return false;
  const DType dtype = g.value(q).dtype;
  if (!is_float(dtype) || g.value(kt).dtype != dtype || g.value(v).dtype != dtype) return false;
  const Dim &b = qs[0], &h = qs[1], &seq = qs[2], &d = qs[3], &hk = kts[1];
  if (!(kts[0] == b && vs[0] == b && kts[2] == d && vs[3] == d && kts[3] == seq && vs[2] == seq &&
        vs[1] == hk))
    return false;
  if (!h.known() || !d.known() || !hk.known() || (hk.value != h.value && hk.value != 1))
    return false;
  if (g.value(result).shape != qs) return false;

  const std::string base = pv->name + "/fused";
  const float attn_scale = static_cast<float>(scale);
  const bool causal = mask == MaskKind::kCausal;
  // k in [B, S, Hk, D]: from k when kt = transpose(k, [0, 1, 3, 2]).
  const Node* kt_node = m.producer(kt);
  const bool kt_is_transpose = kt_node && is_perm(*kt_node, {0, 1, 3, 2});
  const ValueId k_src = kt_is_transpose ? kt_node->inputs[0] : kt;

  const ValueId q_bshd = pass::add_transpose(g, base + "/q", q, {0, 2, 1, 3});
  const ValueId k_bshd = kt_is_transpose ? pass::add_transpose(g, base + "/k", k_src, {0, 2, 1, 3})
                                         : pass::add_transpose(g, base + "/k", k_src, {0, 3, 1, 2});
  const ValueId v_bshd = pass::add_transpose(g, base + "/v", v, {0, 2, 1, 3});
  const ValueId qf = reshape_static(g, base + "/q_packed", q_bshd, {-1, h.value, d.value});
  const ValueId kf = reshape_static(g, base + "/k_packed", k_bshd, {-1, hk.value, d.value});
  const ValueId vf = reshape_static(g, base + "/v_packed", v_bshd, {-1, hk.value, d.value});
  const ValueId cu = cu_seqlens(g, base, q_bshd);
  const ValueId o = pass::add(g, base, RMA_OP_PREFILL_ATTENTION, {qf, kf, vf, cu},
                              abi_bytes(attention_attrs(attn_scale, causal)));
  ValueId o4;
  if (b.known() && seq.known()) {
    o4 = reshape_static(g, base + "/unpack", o, {b.value, seq.value, h.value, d.value});
  } else {
    const ValueId shape = pass::add(g, base + "/shape", CoreOp::kShape, {q_bshd});
    o4 = pass::add(g, base + "/unpack", CoreOp::kReshape, {o, shape});
  }
  const ValueId out = pass::add_transpose(g, base + "/out", o4, {0, 2, 1, 3});
  g.replace_uses(result, out);
  return true;
}

// Attention the fusion above cannot take (a mask computed from the inputs,
// such as BERT's padding mask from attention_mask, which prefill_attention
// cannot express) stays batched matmul -> scale -> + mask -> softmax ->
// matmul. Its scale multiplies all [B, H, S, S] scores; when q is a linear
// seen through views (reshape to heads, transpose), the scale goes into
// that linear instead — alpha·c and bias·c, exact up to rounding — and the
// elementwise pass over the scores disappears.
bool try_fold_scores_scale(Graph& g, const Matcher& m, NodeId n) {
  const Node& mul = g.nodes()[n];
  const bool is_div = Matcher::is_binary(mul, RMA_BINARY_DIV);
  if (!is_div && !Matcher::is_binary(mul, RMA_BINARY_MUL)) return false;
  int which = -1;  // the scores operand
  for (int i = 0; i < 2 && which < 0; ++i)
    if ((!is_div || i == 0) && m.scalar(mul.inputs[1 - i])) which = i;
  if (which < 0) return false;
  const double c = *m.scalar(mul.inputs[1 - which]);
  const double factor = is_div ? 1.0 / c : c;
  const ValueId scores = mul.inputs[which], result = mul.outputs[0];
  if (!std::isfinite(factor) || factor == 0 || g.is_output(result) ||
      g.value(result).shape != g.value(scores).shape ||
      g.value(result).dtype != g.value(scores).dtype)
    return false;
  const Node* qk = m.producer(scores);
  if (!qk || !m.single_use(scores) || !Matcher::is_op(*qk, RMA_OP_MATMUL) ||
      g.value(scores).shape.size() != 4)
    return false;
  // Back from q through single-use views to the linear.
  ValueId q = qk->inputs[0];
  const Node* lin = nullptr;
  for (int steps = 0; steps < 4 && !lin; ++steps) {
    const Node* p = m.producer(q);
    if (!p || !m.single_use(q)) return false;
    const CoreOp* core = std::get_if<CoreOp>(&p->op);
    if (Matcher::is_op(*p, RMA_OP_LINEAR)) {
      lin = p;
    } else if (Matcher::is_op(*p, RMA_OP_TRANSPOSE) || (core && is_view(*core))) {
      q = p->inputs[0];
    } else {
      return false;
    }
  }
  if (!lin || !is_float(g.value(q).dtype)) return false;
  rma_linear_attrs attrs = lin->attrs_as<rma_linear_attrs>();
  if (attrs.activation != RMA_ACT_NONE) return false;  // act(z)·c != act(z·c)
  const bool has_bias = lin->inputs.size() > 2 && lin->inputs[2] != kNoValue;
  if (has_bias && !g.value(lin->inputs[2]).constant) return false;
  const NodeId lin_id = g.value(q).producer;
  attrs.alpha = static_cast<float>(attrs.alpha * factor);
  std::optional<ValueId> bias;
  if (has_bias) {
    const Value& b = g.value(lin->inputs[2]);
    std::vector<double> scaled = detail::tensor_doubles(*b.constant);
    for (double& v : scaled) v *= factor;
    const Tensor t = detail::host_values(scaled, b.constant->shape(), b.dtype);
    bias = pass::add_constant(g, b.name + ".scaled", t);  // may move g's values
  }
  Node& mut = g.mutable_nodes()[lin_id];
  mut.abi_attrs = abi_bytes(attrs);
  if (bias) mut.inputs[2] = *bias;
  g.replace_uses(result, scores);
  return true;
}

}  // namespace

// Fused attention first: the scale fold is for what remains.
int fuse_attention(Graph& g) {
  return pass::rewrite_all(g, try_attention) + pass::rewrite_all(g, try_fold_scores_scale);
}

}  // namespace rma::graph
