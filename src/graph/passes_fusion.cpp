// Fusions into Tier-1 ops: GELU and SiLU patterns, LayerNorm and RMSNorm
// patterns, MatMul(+bias)(+activation) -> linear, linear + activation ->
// linear with that epilogue, act(x1)·x2 on halves of
// one tensor -> silu_and_mul / gelu_and_mul.
//
// A match holds value ids only; the rewrite appends the fused node, points
// the pattern's result's readers at it, and the driver then sorts the graph
// and drops the dead pattern nodes. Every intermediate value of a pattern
// must be read only inside the pattern (and not be a graph output), so a
// fusion never duplicates work or changes a value someone else reads.
#include <cmath>
#include <functional>
#include <map>

#include "pass_util.h"
#include "rma/graph/passes.h"
#include "rma/ops.h"

namespace rma::graph {
namespace pass {

// Runs `try_rewrite` on each node until one rewrites; then finishes the
// graph and starts over. Returns the number of rewrites.
int rewrite_all(Graph& g, const std::function<bool(Graph&, const Matcher&, NodeId)>& try_rewrite) {
  int count = 0;
  size_t start = 0;
  for (bool again = true; again;) {
    again = false;
    const Matcher m(g);
    for (size_t n = start; n < g.nodes().size(); ++n) {
      if (!try_rewrite(g, m, static_cast<NodeId>(n))) continue;
      // The pattern's nodes are dead now: drop them before matching on, so
      // none is matched twice. The scan resumes near n; a final sweep from
      // the start catches matches a rewrite enabled earlier in the order.
      const size_t before = g.nodes().size();
      g.sort_nodes();
      g.remove_dead_nodes();
      start = n > before - g.nodes().size() ? n - (before - g.nodes().size()) : 0;
      ++count;
      again = true;
      break;
    }
    // A full sweep that found nothing ends it.
    if (!again && start != 0) {
      start = 0;
      again = true;
    }
  }
  if (count) finish(g);
  return count;
}

// The relative tolerance for a constant that should equal an exact value:
// one unit in the last place of its dtype, i.e. the constant is that value
// rounded to the dtype.
double ulp_of(const Graph& g, ValueId v) {
  switch (g.value(v).dtype) {
    case DType::kF16:
      return 1.0 / 1024;
    case DType::kBF16:
      return 1.0 / 128;
    case DType::kF32:
      return 1.0 / (1 << 23);
    default:
      return 0;
  }
}

bool is_const(const Matcher& m, ValueId v, double want) {
  return m.is_scalar(v, want, ulp_of(m.graph(), v));
}

}  // namespace pass

namespace {

using pass::is_const;
using pass::Matcher;

constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kGeluTanhCubic = 0.044715;

bool is_float_value(const Graph& g, ValueId v) { return is_float(g.value(v).dtype); }

// y = 0.5 · x · a, in any of its association orders, where `a` is read only
// by the product. Returns y.
std::optional<ValueId> half_x_times(const Matcher& m, ValueId a, ValueId x) {
  const Node* m1 = m.only_user(a);
  if (!m1 || !Matcher::is_binary(*m1, RMA_BINARY_MUL)) return std::nullopt;
  const ValueId o1 = *Matcher::other_operand(*m1, a);
  const ValueId y1 = m1->outputs[0];
  if (o1 == x || is_const(m, o1, 0.5)) {  // (x·a)·0.5 or (0.5·a)·x
    const Node* m2 = m.only_user(y1);
    if (!m2 || !Matcher::is_binary(*m2, RMA_BINARY_MUL)) return std::nullopt;
    const ValueId o2 = *Matcher::other_operand(*m2, y1);
    if ((o1 == x && is_const(m, o2, 0.5)) || (o1 != x && o2 == x)) return m2->outputs[0];
    return std::nullopt;
  }
  const Node* h = m.producer(o1);  // (x·0.5)·a
  if (h && m.single_use(o1) && Matcher::is_binary(*h, RMA_BINARY_MUL)) {
    const std::optional<ValueId> hx = Matcher::other_operand(*h, x);
    if (hx && is_const(m, *hx, 0.5)) return y1;
  }
  return std::nullopt;
}

// `a` = 1 + t where t is read only by that add: returns a.
std::optional<ValueId> one_plus(const Matcher& m, ValueId t) {
  const Node* add = m.only_user(t);
  if (!add || !Matcher::is_binary(*add, RMA_BINARY_ADD)) return std::nullopt;
  if (!is_const(m, *Matcher::other_operand(*add, t), 1.0)) return std::nullopt;
  return add->outputs[0];
}

bool replace_with_unary(Graph& g, ValueId result, rma_unary_kind kind, ValueId x,
                        float param0 = 0.f) {
  const std::string base = g.nodes()[g.value(result).producer].name + "/fused";
  const ValueId fused = pass::add_unary(g, base, kind, x, param0);
  g.replace_uses(result, fused);
  return true;
}

// ----------------------------------------------------------------- GELU

// erf(x/√2) or erf(x·(1/√2)): returns x.
std::optional<ValueId> erf_argument(const Matcher& m, const Node& erf) {
  const ValueId d = erf.inputs[0];
  const Node* p = m.producer(d);
  if (!p || !m.single_use(d)) return std::nullopt;
  if (Matcher::is_binary(*p, RMA_BINARY_DIV) && is_const(m, p->inputs[1], kSqrt2))
    return p->inputs[0];
  if (Matcher::is_binary(*p, RMA_BINARY_MUL)) {
    for (int i = 0; i < 2; ++i)
      if (is_const(m, p->inputs[1 - i], 1.0 / kSqrt2)) return p->inputs[i];
  }
  return std::nullopt;
}

bool try_gelu_erf(Graph& g, const Matcher& m, NodeId n) {
  const Node& erf = g.nodes()[n];
  if (!Matcher::is_unary(erf, RMA_UNARY_ERF)) return false;
  const std::optional<ValueId> x = erf_argument(m, erf);
  if (!x || !is_float_value(g, *x)) return false;
  const std::optional<ValueId> a = one_plus(m, erf.outputs[0]);
  if (!a) return false;
  const std::optional<ValueId> y = half_x_times(m, *a, *x);
  if (!y || g.value(*y).shape != g.value(*x).shape) return false;
  return replace_with_unary(g, *y, RMA_UNARY_GELU, *x);
}

// x³ as pow(x, 3), x·(x·x) or (x·x)·x, read only by `user`: returns x.
std::optional<ValueId> cube_of(const Matcher& m, ValueId p) {
  const Node* node = m.producer(p);
  if (!node || !m.single_use(p)) return std::nullopt;
  if (Matcher::is_binary(*node, RMA_BINARY_POW) && is_const(m, node->inputs[1], 3.0))
    return node->inputs[0];
  if (!Matcher::is_binary(*node, RMA_BINARY_MUL)) return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    const ValueId sq = node->inputs[i], x = node->inputs[1 - i];
    const Node* s = m.producer(sq);
    if (s && m.single_use(sq) && Matcher::is_binary(*s, RMA_BINARY_MUL) && s->inputs[0] == x &&
        s->inputs[1] == x)
      return x;
  }
  return std::nullopt;
}

bool try_gelu_tanh(Graph& g, const Matcher& m, NodeId n) {
  const Node& tanh = g.nodes()[n];
  if (!Matcher::is_unary(tanh, RMA_UNARY_TANH)) return false;
  // tanh(√(2/π) · r), r = x + 0.044715·x³
  const ValueId s = tanh.inputs[0];
  const Node* scale = m.producer(s);
  if (!scale || !m.single_use(s) || !Matcher::is_binary(*scale, RMA_BINARY_MUL)) return false;
  std::optional<ValueId> r;
  for (int i = 0; i < 2; ++i)
    if (is_const(m, scale->inputs[1 - i], kSqrt2OverPi)) r = scale->inputs[i];
  if (!r || !m.single_use(*r)) return false;
  const Node* sum = m.producer(*r);
  if (!sum || !Matcher::is_binary(*sum, RMA_BINARY_ADD)) return false;
  std::optional<ValueId> x;
  for (int i = 0; i < 2 && !x; ++i) {
    const ValueId q = sum->inputs[i], other = sum->inputs[1 - i];
    const Node* cubic = m.producer(q);
    if (!cubic || !m.single_use(q) || !Matcher::is_binary(*cubic, RMA_BINARY_MUL)) continue;
    for (int j = 0; j < 2; ++j) {
      if (!is_const(m, cubic->inputs[1 - j], kGeluTanhCubic)) continue;
      const std::optional<ValueId> c = cube_of(m, cubic->inputs[j]);
      if (c && *c == other) x = c;
    }
  }
  if (!x || !is_float_value(g, *x)) return false;
  const std::optional<ValueId> a = one_plus(m, tanh.outputs[0]);
  if (!a) return false;
  const std::optional<ValueId> y = half_x_times(m, *a, *x);
  if (!y || g.value(*y).shape != g.value(*x).shape) return false;
  return replace_with_unary(g, *y, RMA_UNARY_GELU_TANH, *x);
}

// ----------------------------------------------------------------- SiLU

bool try_silu(Graph& g, const Matcher& m, NodeId n) {
  const Node& sig = g.nodes()[n];
  if (!Matcher::is_unary(sig, RMA_UNARY_SIGMOID)) return false;
  const ValueId x = sig.inputs[0];
  const Node* mul = m.only_user(sig.outputs[0]);
  if (!mul || !Matcher::is_binary(*mul, RMA_BINARY_MUL) ||
      Matcher::other_operand(*mul, sig.outputs[0]) != x)
    return false;
  if (!is_float_value(g, x) || g.value(mul->outputs[0]).shape != g.value(x).shape) return false;
  return replace_with_unary(g, mul->outputs[0], RMA_UNARY_SILU, x);
}

// ---------------------------------------------------------------- norms

// A constant broadcast along the last axis only: numel H, shape [1.., H] of
// rank <= `rank`. Returns it as a [H] host tensor.
std::optional<Tensor> last_axis_vector(const Graph& g, ValueId v, const Dim& h, size_t rank) {
  const Value& val = g.value(v);
  if (!val.constant || !h.known() || val.shape.size() > rank || val.shape.empty())
    return std::nullopt;
  const Tensor& t = *val.constant;
  if (t.numel() != h.value || t.dim(-1) != h.value) return std::nullopt;
  return t.contiguous().reshape({h.value});
}

// The normalised value n = d / sqrt(e) in one of its spellings (div by sqrt,
// mul by reciprocal of sqrt, mul by 1/sqrt, mul by rsqrt), where e is read
// only by it. Returns n.
std::optional<ValueId> normalised(const Matcher& m, ValueId e, ValueId d) {
  const Node* s = m.only_user(e);
  if (!s) return std::nullopt;
  ValueId r;
  if (Matcher::is_unary(*s, RMA_UNARY_RSQRT)) {
    r = s->outputs[0];
  } else if (Matcher::is_unary(*s, RMA_UNARY_SQRT)) {
    const ValueId sq = s->outputs[0];
    const Node* next = m.only_user(sq);
    if (!next) return std::nullopt;
    if (Matcher::is_binary(*next, RMA_BINARY_DIV) && next->inputs[0] == d && next->inputs[1] == sq)
      return next->outputs[0];
    if (Matcher::is_unary(*next, RMA_UNARY_RECIPROCAL)) {
      r = next->outputs[0];
    } else if (Matcher::is_binary(*next, RMA_BINARY_DIV) && next->inputs[1] == sq &&
               is_const(m, next->inputs[0], 1.0)) {
      r = next->outputs[0];
    } else {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  const Node* mul = m.only_user(r);
  if (!mul || !Matcher::is_binary(*mul, RMA_BINARY_MUL) || Matcher::other_operand(*mul, r) != d)
    return std::nullopt;
  return mul->outputs[0];
}

// `x`² as pow(x, 2) or x·x.
bool is_square_of(const Matcher& m, const Node& n, ValueId x) {
  if (Matcher::is_binary(n, RMA_BINARY_POW))
    return n.inputs[0] == x && is_const(m, n.inputs[1], 2.0);
  return Matcher::is_binary(n, RMA_BINARY_MUL) && n.inputs[0] == x && n.inputs[1] == x;
}

// After the normalisation: optional ·w, then optional +b (layer norm).
struct Affine {
  ValueId result;
  std::optional<Tensor> w, b;
};

Affine affine_tail(const Matcher& m, ValueId n, const Dim& h, size_t rank, bool with_bias) {
  Affine out{n, std::nullopt, std::nullopt};
  const Graph& g = m.graph();
  const Node* mul = m.only_user(n);
  if (mul && Matcher::is_binary(*mul, RMA_BINARY_MUL)) {
    if (auto w = last_axis_vector(g, *Matcher::other_operand(*mul, n), h, rank)) {
      out.w = w;
      out.result = mul->outputs[0];
    }
  }
  if (!with_bias) return out;
  const Node* add = m.only_user(out.result);
  if (add && Matcher::is_binary(*add, RMA_BINARY_ADD)) {
    if (auto b = last_axis_vector(g, *Matcher::other_operand(*add, out.result), h, rank)) {
      out.b = b;
      out.result = add->outputs[0];
    }
  }
  return out;
}

// eps from `e` = v + eps where v is read only by that add.
std::optional<std::pair<ValueId, float>> plus_eps(const Matcher& m, ValueId v) {
  const Node* add = m.only_user(v);
  if (!add || !Matcher::is_binary(*add, RMA_BINARY_ADD)) return std::nullopt;
  const std::optional<double> eps = m.scalar(*Matcher::other_operand(*add, v));
  if (!eps || !std::isfinite(*eps) || *eps < 0) return std::nullopt;
  return std::make_pair(add->outputs[0], static_cast<float>(*eps));
}

Tensor ones(const Dim& h, DType dtype) {
  return detail::host_values(std::vector<double>(h.value, 1.0), {h.value}, dtype);
}

bool emit_norm(Graph& g, rma_op op, ValueId x, const Affine& tail, float eps) {
  const Value& xv = g.value(x);
  const Dim h = xv.shape.back();
  const std::string base = g.nodes()[g.value(tail.result).producer].name + "/fused";
  const ValueId w = pass::add_constant(g, base + ".w", tail.w ? *tail.w : ones(h, xv.dtype));
  std::vector<ValueId> inputs{x, w};
  if (tail.b) inputs.push_back(pass::add_constant(g, base + ".b", *tail.b));
  const ValueId fused = pass::add(g, base, op, inputs, abi_bytes(norm_attrs(eps)));
  g.replace_uses(tail.result, fused);
  return true;
}

bool norm_input_ok(const Graph& g, ValueId x, const Affine& tail) {
  const Value& xv = g.value(x);
  if (!is_float(xv.dtype) || xv.shape.empty() || !xv.shape.back().known()) return false;
  if ((tail.w && tail.w->dtype() != xv.dtype) || (tail.b && tail.b->dtype() != xv.dtype))
    return false;
  return g.value(tail.result).shape == xv.shape;
}

bool try_layer_norm(Graph& g, const Matcher& m, NodeId n) {
  const Node& mean1 = g.nodes()[n];
  const std::optional<ValueId> x = m.mean_over_last(mean1);
  if (!x) return false;
  const Node* sub = m.only_user(mean1.outputs[0]);
  if (!sub || !Matcher::is_binary(*sub, RMA_BINARY_SUB) || sub->inputs[0] != *x ||
      sub->inputs[1] != mean1.outputs[0])
    return false;
  const ValueId d = sub->outputs[0];
  // d is read by the square and by the normalisation.
  const Node* square = nullptr;
  for (NodeId u : m.users(d))
    if (is_square_of(m, g.nodes()[u], d)) square = &g.nodes()[u];
  if (!square) return false;
  const Node* mean2 = m.only_user(square->outputs[0]);
  if (!mean2 || m.mean_over_last(*mean2) != square->outputs[0]) return false;
  const auto e = plus_eps(m, mean2->outputs[0]);
  if (!e) return false;
  const std::optional<ValueId> norm = normalised(m, e->first, d);
  if (!norm) return false;
  const Node* norm_node = m.producer(*norm);
  if (!m.used_only_by(d, {square, norm_node})) return false;
  const Value& xv = g.value(*x);
  const Affine tail = affine_tail(m, *norm, xv.shape.back(), xv.shape.size(), true);
  if (!norm_input_ok(g, *x, tail)) return false;
  return emit_norm(g, RMA_OP_LAYER_NORM, *x, tail, e->second);
}

bool try_rms_norm(Graph& g, const Matcher& m, NodeId n) {
  const Node& mean = g.nodes()[n];
  const std::optional<ValueId> p = m.mean_over_last(mean);
  if (!p || !m.single_use(*p)) return false;
  const Node* square = m.producer(*p);
  if (!square || square->inputs.empty()) return false;
  const ValueId x = square->inputs[0];
  if (!is_square_of(m, *square, x)) return false;
  const auto e = plus_eps(m, mean.outputs[0]);
  if (!e) return false;
  const std::optional<ValueId> norm = normalised(m, e->first, x);
  if (!norm) return false;
  const Value& xv = g.value(x);
  const Affine tail = affine_tail(m, *norm, xv.shape.back(), xv.shape.size(), false);
  if (!norm_input_ok(g, x, tail)) return false;
  return emit_norm(g, RMA_OP_RMS_NORM, x, tail, e->second);
}

// --------------------------------------------------------------- linear

std::optional<Activation> epilogue_of(const Node& n, float* param) {
  if (!Matcher::is_op(n, RMA_OP_UNARY)) return std::nullopt;
  const auto& a = n.attrs_as<rma_unary_attrs>();
  switch (a.kind) {
    case RMA_UNARY_RELU:
      return Activation::kRelu;
    case RMA_UNARY_LEAKY_RELU:
      *param = a.param0;
      return Activation::kLeakyRelu;
    case RMA_UNARY_GELU:
      return Activation::kGelu;
    case RMA_UNARY_GELU_TANH:
      return Activation::kGeluTanh;
    case RMA_UNARY_SILU:
      return Activation::kSilu;
    case RMA_UNARY_SIGMOID:
      return Activation::kSigmoid;
    case RMA_UNARY_TANH:
      return Activation::kTanh;
    default:
      return std::nullopt;
  }
}

// The [K, N] weight transposed to the linear layout [N, K], on the host.
Tensor transposed(const Tensor& w) {
  rma_transpose_attrs a{};
  a.perm[0] = 1;
  a.perm[1] = 0;
  return detail::host_run(RMA_OP_TRANSPOSE, {w}, pass::attrs_bytes(a)).at(0);
}

bool try_linear(Graph& g, const Matcher& m, NodeId n) {
  const Node& mm = g.nodes()[n];
  if (!Matcher::is_op(mm, RMA_OP_MATMUL)) return false;
  const ValueId x = mm.inputs[0], w = mm.inputs[1];
  const Value &xv = g.value(x), &wv = g.value(w);
  if (!wv.constant || wv.shape.size() != 2 || xv.shape.empty() || !is_float(xv.dtype) ||
      wv.dtype != xv.dtype)
    return false;
  const Dim n_dim = wv.shape[1];
  ValueId result = mm.outputs[0];
  std::optional<Tensor> bias;
  if (const Node* add = m.only_user(result); add && Matcher::is_binary(*add, RMA_BINARY_ADD)) {
    const size_t rank = g.value(result).shape.size();
    if (auto b = last_axis_vector(g, *Matcher::other_operand(*add, result), n_dim, rank);
        b && b->dtype() == xv.dtype && g.value(add->outputs[0]).shape == g.value(result).shape) {
      bias = b;
      result = add->outputs[0];
    }
  }
  Activation act = Activation::kNone;
  float param = 0.01f;
  if (const Node* u = m.only_user(result)) {
    if (auto a = epilogue_of(*u, &param)) {
      act = *a;
      result = u->outputs[0];
    }
  }
  const std::string base = g.nodes()[g.value(result).producer].name + "/fused";
  const Tensor wt = transposed(*wv.constant);
  const ValueId wt_id = pass::add_constant(g, wv.name + ".T", wt);
  std::vector<ValueId> inputs{x, wt_id};
  if (bias) inputs.push_back(pass::add_constant(g, base + ".bias", *bias));
  const ValueId fused =
      pass::add(g, base, RMA_OP_LINEAR, inputs, abi_bytes(linear_attrs(act, false, true, param)));
  g.replace_uses(result, fused);
  return true;
}

// A linear without an activation (from Gemm, or fused above without one)
// followed by an activation it can apply: the activation becomes the
// linear's epilogue, saving one pass over the output.
bool try_linear_epilogue(Graph& g, const Matcher& m, NodeId n) {
  const Node& lin = g.nodes()[n];
  if (!Matcher::is_op(lin, RMA_OP_LINEAR) || lin.outputs.size() != 1) return false;
  rma_linear_attrs attrs = lin.attrs_as<rma_linear_attrs>();
  if (attrs.activation != RMA_ACT_NONE) return false;
  const ValueId out = lin.outputs[0];
  const Node* act_node = m.only_user(out);
  if (!act_node) return false;
  float param = 0.01f;
  const std::optional<Activation> act = epilogue_of(*act_node, &param);
  if (!act) return false;
  const ValueId result = act_node->outputs[0];
  const Value &ov = g.value(out), &rv = g.value(result);
  if (rv.dtype != ov.dtype || rv.shape != ov.shape) return false;
  attrs.activation = static_cast<int32_t>(*act);
  attrs.activation_param = param;
  const std::string base = act_node->name + "/fused";
  const std::vector<ValueId> inputs = lin.inputs;  // adding a node may move `lin`
  const ValueId fused = pass::add(g, base, RMA_OP_LINEAR, inputs, abi_bytes(attrs));
  g.replace_uses(result, fused);
  return true;
}

// -------------------------------------------------- silu_and_mul, gelu_and_mul

// `v` as one half of a tensor's last axis: (the tensor, 0 or 1).
std::optional<std::pair<ValueId, int>> half_of(const Matcher& m, ValueId v) {
  const Graph& g = m.graph();
  const Node* p = m.producer(v);
  if (!p || p->inputs.empty()) return std::nullopt;
  const ValueId x = p->inputs[0];
  const SymShape& xs = g.value(x).shape;
  if (xs.empty() || !xs.back().known() || xs.back().value % 2 != 0) return std::nullopt;
  const int64_t full = xs.back().value, half = full / 2, last = static_cast<int64_t>(xs.size()) - 1;
  auto which = [&](int64_t start, int64_t size) -> std::optional<std::pair<ValueId, int>> {
    if (size != half) return std::nullopt;
    if (start == 0) return std::make_pair(x, 0);
    if (start == half) return std::make_pair(x, 1);
    return std::nullopt;
  };
  if (Matcher::is_op(*p, RMA_OP_SLICE)) {
    const auto& a = p->attrs_as<rma_slice_attrs>();
    for (int64_t d = 0; d < last; ++d)
      if (!xs[d].known() || a.start[d] != 0 || a.step[d] != 1 || a.size[d] != xs[d].value)
        return std::nullopt;
    if (a.step[last] != 1) return std::nullopt;
    return which(a.start[last], a.size[last]);
  }
  const CoreOp* core = std::get_if<CoreOp>(&p->op);
  if (core && *core == CoreOp::kSliceDynamic) {
    auto ints = [&](size_t i) -> std::optional<std::vector<int64_t>> {
      if (i >= p->inputs.size() || p->inputs[i] == kNoValue) return std::vector<int64_t>{};
      const Value& c = g.value(p->inputs[i]);
      if (!c.constant) return std::nullopt;
      return detail::tensor_ints(*c.constant);
    };
    const auto starts = ints(1), ends = ints(2), axes = ints(3), steps = ints(4);
    if (!starts || !ends || !axes || !steps || starts->size() != 1 || ends->size() != 1)
      return std::nullopt;
    const int64_t axis = axes->empty() ? 0 : (*axes)[0];
    if (axes->size() > 1 || (axis != -1 && axis != last)) return std::nullopt;
    if (!steps->empty() && (*steps)[0] != 1) return std::nullopt;
    const detail::SliceAxis s = detail::resolve_slice(full, (*starts)[0], (*ends)[0], 1);
    return which(s.start, s.size);
  }
  if (core && *core == CoreOp::kSplit && p->outputs.size() == 2) {
    const int64_t axis = detail::AttrReader{p->name, p->op, p->attrs}.integer("axis", 0);
    if (axis != -1 && axis != last) return std::nullopt;
    if (g.value(p->outputs[0]).shape.back() != Dim::of(half) ||
        g.value(p->outputs[1]).shape.back() != Dim::of(half))
      return std::nullopt;
    return std::make_pair(x, p->outputs[0] == v ? 0 : 1);
  }
  return std::nullopt;
}

bool try_act_and_mul(Graph& g, const Matcher& m, NodeId n) {
  const Node& mul = g.nodes()[n];
  if (!Matcher::is_binary(mul, RMA_BINARY_MUL)) return false;
  for (int i = 0; i < 2; ++i) {
    const ValueId act_out = mul.inputs[i], other = mul.inputs[1 - i];
    const Node* act = m.producer(act_out);
    if (!act || !m.single_use(act_out) || !Matcher::is_op(*act, RMA_OP_UNARY)) continue;
    const int32_t kind = act->attrs_as<rma_unary_attrs>().kind;
    if (kind != RMA_UNARY_SILU && kind != RMA_UNARY_GELU && kind != RMA_UNARY_GELU_TANH) continue;
    const auto a = half_of(m, act->inputs[0]);
    const auto b = half_of(m, other);
    if (!a || !b || a->first != b->first || a->second != 0 || b->second != 1) continue;
    const ValueId x = a->first;
    if (!is_float_value(g, x) || g.value(mul.outputs[0]).shape != g.value(act_out).shape) continue;
    const std::string base = mul.name + "/fused";
    const ValueId result = mul.outputs[0];
    const ValueId fused = kind == RMA_UNARY_SILU
                              ? pass::add(g, base, RMA_OP_SILU_AND_MUL, {x})
                              : pass::add(g, base, RMA_OP_GELU_AND_MUL, {x},
                                          abi_bytes(gelu_attrs(kind == RMA_UNARY_GELU_TANH)));
    g.replace_uses(result, fused);
    return true;
  }
  return false;
}

}  // namespace

int fuse_gelu(Graph& g) {
  return pass::rewrite_all(g, [](Graph& gr, const Matcher& m, NodeId n) {
    return try_gelu_erf(gr, m, n) || try_gelu_tanh(gr, m, n);
  });
}

int fuse_silu(Graph& g) { return pass::rewrite_all(g, try_silu); }
int fuse_layer_norm(Graph& g) { return pass::rewrite_all(g, try_layer_norm); }
int fuse_rms_norm(Graph& g) { return pass::rewrite_all(g, try_rms_norm); }
int fuse_linear(Graph& g) {
  return pass::rewrite_all(g, [](Graph& gr, const Matcher& m, NodeId n) {
    return try_linear(gr, m, n) || try_linear_epilogue(gr, m, n);
  });
}
int fuse_silu_and_mul(Graph& g) { return pass::rewrite_all(g, try_act_and_mul); }

}  // namespace rma::graph
