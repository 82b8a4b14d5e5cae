// Fusions into conv2d:
//   fold_conv_batch_norm  conv2d -> mul by a per-channel constant (scale)
//                         and/or add of one (shift) -> conv2d with w and
//                         bias rewritten: w'[m] = w[m]·s[m], b' = b·s + t.
//                         Imported BatchNormalization with constant
//                         statistics is exactly this mul/add pair.
//   fuse_conv_activation  conv2d -> relu / leaky_relu / gelu / gelu_tanh /
//                         silu / sigmoid / tanh -> conv2d with that
//                         activation epilogue.
// A folded constant is per channel when, broadcast against y [N, M, oH, oW],
// it varies along M only (shapes [M, 1, 1], [1, M, 1, 1], [1] ...). The
// new weights are computed on the host in double and rounded once to w's
// dtype; w and bias must be constants.
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

// The values of constant `c` per output channel of a conv2d whose output
// has shape `y` ([N, M, oH, oW], M known); nullopt unless c varies along M
// only.
std::optional<std::vector<double>> per_channel(const Graph& g, ValueId c, const SymShape& y) {
  const Value& v = g.value(c);
  const std::optional<Shape> shape = known_shape(v.shape);
  if (!v.constant || !shape || shape->size() > 4 || !y[1].known()) return std::nullopt;
  const int64_t channels = y[1].value;
  const size_t rank = shape->size();
  int64_t along_m = 1;
  for (size_t i = 0; i < rank; ++i) {
    const size_t axis = 4 - rank + i;  // the axis of y it lines up with
    const int64_t d = (*shape)[i];
    if (axis == 1 && d == channels)
      along_m = d;
    else if (d != 1)
      return std::nullopt;
  }
  const std::vector<double> values = detail::tensor_doubles(*v.constant);
  if (along_m == channels) return values;
  return std::vector<double>(static_cast<size_t>(channels), values.at(0));
}

// A conv2d node with no activation whose w (and bias, if any) are constants.
bool is_plain_const_conv(const Graph& g, const Node& n) {
  if (!Matcher::is_op(n, RMA_OP_CONV2D) || n.outputs.size() != 1) return false;
  if (n.attrs_as<rma_conv2d_attrs>().activation != RMA_ACT_NONE) return false;
  if (n.inputs.size() < 2 || !g.value(n.inputs[1]).constant) return false;
  return n.inputs.size() < 3 || n.inputs[2] == kNoValue || g.value(n.inputs[2]).constant;
}

// conv2d then mul (scale) or add (shift) by a per-channel constant.
bool try_fold_affine(Graph& g, const Matcher& m, NodeId n) {
  const Node& conv = g.nodes()[n];
  if (!is_plain_const_conv(g, conv)) return false;
  const ValueId out = conv.outputs[0];
  const Node* user = m.only_user(out);
  if (!user) return false;
  const bool scale = Matcher::is_binary(*user, RMA_BINARY_MUL);
  if (!scale && !Matcher::is_binary(*user, RMA_BINARY_ADD)) return false;
  const std::optional<ValueId> other = Matcher::other_operand(*user, out);
  if (!other) return false;
  const Value &ov = g.value(out), &rv = g.value(user->outputs[0]);
  if (rv.shape != ov.shape || rv.dtype != ov.dtype) return false;  // no broadcast past y
  const std::optional<std::vector<double>> factor = per_channel(g, *other, ov.shape);
  if (!factor) return false;

  // Copies: adding constants below may move the graph's values and nodes.
  const Value& wv = g.value(conv.inputs[1]);
  const std::string w_name = wv.name, user_name = user->name;
  const Shape w_shape = *known_shape(wv.shape);
  const DType w_dtype = wv.dtype, y_dtype = ov.dtype;
  const ValueId x = conv.inputs[0], result = user->outputs[0];
  const std::vector<uint8_t> abi = conv.abi_attrs;
  const bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] != kNoValue;
  const int64_t filters = static_cast<int64_t>(factor->size());
  std::vector<double> bias = has_bias ? detail::tensor_doubles(*g.value(conv.inputs[2]).constant)
                                      : std::vector<double>(static_cast<size_t>(filters), 0.0);
  ValueId w = conv.inputs[1];
  if (scale) {
    std::vector<double> wd = detail::tensor_doubles(*wv.constant);
    const size_t per_filter = wd.size() / static_cast<size_t>(filters);
    for (size_t i = 0; i < wd.size(); ++i) wd[i] *= (*factor)[i / per_filter];
    for (int64_t f = 0; f < filters; ++f) bias[f] *= (*factor)[f];
    w = pass::add_constant(g, w_name + ".folded", detail::host_values(wd, w_shape, w_dtype));
  } else {
    for (int64_t f = 0; f < filters; ++f) bias[f] += (*factor)[f];
  }
  const ValueId b =
      pass::add_constant(g, user_name + ".bias", detail::host_values(bias, {filters}, y_dtype));
  const ValueId fused = pass::add(g, user_name + "/fused", RMA_OP_CONV2D, {x, w, b}, abi);
  g.replace_uses(result, fused);
  return true;
}

// The conv2d activation that unary node `n` applies, if any.
std::optional<rma_activation> activation_of(const Node& n, float* param) {
  if (!Matcher::is_op(n, RMA_OP_UNARY)) return std::nullopt;
  const auto& a = n.attrs_as<rma_unary_attrs>();
  switch (a.kind) {
    case RMA_UNARY_RELU:
      return RMA_ACT_RELU;
    case RMA_UNARY_LEAKY_RELU:
      *param = a.param0;
      return RMA_ACT_LEAKY_RELU;
    case RMA_UNARY_GELU:
      return RMA_ACT_GELU;
    case RMA_UNARY_GELU_TANH:
      return RMA_ACT_GELU_TANH;
    case RMA_UNARY_SILU:
      return RMA_ACT_SILU;
    case RMA_UNARY_SIGMOID:
      return RMA_ACT_SIGMOID;
    case RMA_UNARY_TANH:
      return RMA_ACT_TANH;
    default:
      return std::nullopt;
  }
}

bool try_conv_activation(Graph& g, const Matcher& m, NodeId n) {
  const Node& conv = g.nodes()[n];
  if (!Matcher::is_op(conv, RMA_OP_CONV2D) || conv.outputs.size() != 1) return false;
  rma_conv2d_attrs attrs = conv.attrs_as<rma_conv2d_attrs>();
  if (attrs.activation != RMA_ACT_NONE) return false;
  const Node* act_node = m.only_user(conv.outputs[0]);
  if (!act_node) return false;
  float param = 0.f;
  const std::optional<rma_activation> act = activation_of(*act_node, &param);
  if (!act) return false;
  const Value &ov = g.value(conv.outputs[0]), &rv = g.value(act_node->outputs[0]);
  if (rv.dtype != ov.dtype || rv.shape != ov.shape) return false;
  attrs.activation = *act;
  attrs.activation_param = param;
  const std::vector<ValueId> inputs = conv.inputs;  // adding a node may move `conv`
  const ValueId result = act_node->outputs[0];
  const ValueId fused =
      pass::add(g, act_node->name + "/fused", RMA_OP_CONV2D, inputs, abi_bytes(attrs));
  g.replace_uses(result, fused);
  return true;
}

}  // namespace

int fold_conv_batch_norm(Graph& g) { return pass::rewrite_all(g, try_fold_affine); }
int fuse_conv_activation(Graph& g) { return pass::rewrite_all(g, try_conv_activation); }

}  // namespace rma::graph
