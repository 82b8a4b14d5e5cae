// Pattern-matching helpers for the passes (pass_util.h).
#include "pass_util.h"

#include <algorithm>
#include <cmath>

namespace rma::graph::pass {

const Node* Matcher::producer(ValueId v) const {
  if (v == kNoValue) return nullptr;
  const NodeId p = g_.value(v).producer;
  return p >= 0 ? &g_.nodes()[p] : nullptr;
}

bool Matcher::single_use(ValueId v) const { return users_.at(v).size() == 1 && !g_.is_output(v); }

bool Matcher::used_only_by(ValueId v, const std::vector<const Node*>& nodes) const {
  if (g_.is_output(v)) return false;
  for (NodeId u : users_.at(v)) {
    const Node* n = &g_.nodes()[u];
    if (std::find(nodes.begin(), nodes.end(), n) == nodes.end()) return false;
  }
  return true;
}

const Node* Matcher::only_user(ValueId v) const {
  return single_use(v) ? &g_.nodes()[users_.at(v)[0]] : nullptr;
}

bool Matcher::is_op(const Node& n, rma_op op) {
  const rma_op* o = std::get_if<rma_op>(&n.op);
  return o && *o == op;
}

bool Matcher::is_binary(const Node& n, rma_binary_kind kind) {
  if (kind == RMA_BINARY_ADD && is_op(n, RMA_OP_ADD)) return true;
  if (kind == RMA_BINARY_MUL && is_op(n, RMA_OP_MUL)) return true;
  return is_op(n, RMA_OP_BINARY) && n.attrs_as<rma_binary_attrs>().kind == kind;
}

bool Matcher::is_unary(const Node& n, rma_unary_kind kind) {
  return is_op(n, RMA_OP_UNARY) && n.attrs_as<rma_unary_attrs>().kind == kind;
}

std::optional<ValueId> Matcher::other_operand(const Node& n, ValueId v) {
  if (n.inputs.size() != 2) return std::nullopt;
  if (n.inputs[0] == v) return n.inputs[1];
  if (n.inputs[1] == v) return n.inputs[0];
  return std::nullopt;
}

std::optional<double> Matcher::scalar(ValueId v) const {
  if (v == kNoValue) return std::nullopt;
  const Value& val = g_.value(v);
  if (!val.constant) return std::nullopt;
  return detail::scalar_value(*val.constant);
}

bool Matcher::is_scalar(ValueId v, double want, double rel_tol) const {
  const std::optional<double> s = scalar(v);
  return s && std::fabs(*s - want) <= rel_tol * std::max(1.0, std::fabs(want));
}

std::optional<ValueId> Matcher::mean_over_last(const Node& n) const {
  if (n.inputs.empty()) return std::nullopt;
  const ValueId x = n.inputs[0];
  const size_t rank = g_.value(x).shape.size();
  if (rank == 0) return std::nullopt;
  if (is_op(n, RMA_OP_REDUCE)) {
    const auto& a = n.attrs_as<rma_reduce_attrs>();
    if (a.kind == RMA_REDUCE_MEAN && a.keepdims && a.axes == (1u << (rank - 1))) return x;
    return std::nullopt;
  }
  const CoreOp* core = std::get_if<CoreOp>(&n.op);
  if (!core || *core != CoreOp::kReduceDynamic) return std::nullopt;
  const detail::AttrReader r{n.name, n.op, n.attrs};
  if (detail::reduce_kind_attr(r) != RMA_REDUCE_MEAN || r.integer("keepdims", 1) == 0)
    return std::nullopt;
  std::vector<int64_t> axes;
  if (n.inputs.size() > 1 && n.inputs[1] != kNoValue) {
    const Value& a = g_.value(n.inputs[1]);
    if (!a.constant) return std::nullopt;
    axes = detail::tensor_ints(*a.constant);
  } else {
    axes = r.ints("axes", std::vector<int64_t>{});
  }
  const auto last = static_cast<int64_t>(rank) - 1;
  if (axes.size() != 1 || (axes[0] != -1 && axes[0] != last)) return std::nullopt;
  return x;
}

ValueId add(Graph& g, const std::string& base, OpKind op, const std::vector<ValueId>& inputs,
            std::vector<uint8_t> abi, Attributes attrs) {
  const std::string name = g.fresh_node_name(base);
  std::vector<std::string> names{g.fresh_value_name(name + ":0")};
  if (const rma_op* o = std::get_if<rma_op>(&op);
      o && (*o == RMA_OP_ADD_RMS_NORM || *o == RMA_OP_ROPE || *o == RMA_OP_MOE_GATING_TOPK_SOFTMAX))
    names.clear();
  return g.add_node(name, op, inputs, std::move(abi), std::move(attrs), names).at(0);
}

ValueId add_constant(Graph& g, const std::string& base, const Tensor& t) {
  return g.add_constant(g.fresh_value_name(base), t);
}

ValueId add_unary(Graph& g, const std::string& base, rma_unary_kind kind, ValueId x, float param0) {
  rma_unary_attrs a{};
  a.kind = kind;
  a.param0 = param0;
  return add(g, base, RMA_OP_UNARY, {x}, attrs_bytes(a));
}

ValueId add_transpose(Graph& g, const std::string& base, ValueId x,
                      const std::vector<int32_t>& perm) {
  rma_transpose_attrs a{};
  for (size_t i = 0; i < perm.size(); ++i) a.perm[i] = perm[i];
  return add(g, base, RMA_OP_TRANSPOSE, {x}, attrs_bytes(a));
}

void finish(Graph& g) {
  g.sort_nodes();
  g.remove_dead_nodes();
  g.validate();
}

std::optional<std::vector<int64_t>> reshape_spec(const SymShape& from, const SymShape& to) {
  std::vector<int64_t> spec(to.size());
  int infer = -1;
  for (size_t i = 0; i < to.size(); ++i) {
    if (i < from.size() && to[i] == from[i] && !(to[i].known() && to[i].value == 0)) {
      spec[i] = to[i].known() ? to[i].value : 0;
    } else if (to[i].known() && to[i].value > 0) {
      spec[i] = to[i].value;
    } else if (infer < 0 && !(to[i].known() && to[i].value == 0)) {
      infer = static_cast<int>(i);
      spec[i] = -1;
    } else {
      return std::nullopt;
    }
  }
  // The inferred dim must come out exactly as `to` has it.
  const Dim total = detail::dim_product(from, 0, from.size());
  Dim rest = Dim::of(1);
  for (size_t i = 0; i < to.size(); ++i)
    if (static_cast<int>(i) != infer) rest = detail::dim_mul(rest, to[i]);
  if (infer >= 0) {
    const std::optional<Dim> q = detail::dim_div(total, rest);
    if (!q || !(*q == to[infer])) return std::nullopt;
  } else if (!(total == rest)) {
    return std::nullopt;
  }
  return spec;
}

}  // namespace rma::graph::pass
