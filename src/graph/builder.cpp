// GraphBuilder (rma/graph/builder.h): one method per op family, each a thin
// layer that fills the ABI attribute struct and calls Graph::add_node.
#include "rma/graph/builder.h"

#include "graph_internal.h"
#include "rma/error.h"

namespace rma::graph {
namespace {

template <class T>
std::vector<uint8_t> bytes_of(T a) {
  a.struct_size = sizeof(T);
  a.abi_version = RMA_ABI_VERSION;
  return abi_bytes(a);
}

[[noreturn]] void fail(const std::string& what, const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, "GraphBuilder::" + what + ": " + message);
}

int64_t normalize_axis(const std::string& what, int64_t axis, size_t rank) {
  const auto r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r)
    fail(what,
         "axis " + std::to_string(axis) + " is out of range for " + std::to_string(rank) + " dims");
  return axis < 0 ? axis + r : axis;
}

}  // namespace

// ------------------------------------------------------------------ values

const Value& GraphBuilder::val(Var v) const {
  if (!v.defined()) fail("value", "an undefined Var was passed where a value is required");
  return graph_.value(v.id);
}

Var GraphBuilder::input(const std::string& name, DType dtype, SymShape shape) {
  return Var(graph_.add_input(name, dtype, std::move(shape)));
}

Var GraphBuilder::constant(const std::string& name, const Tensor& value) {
  return Var(graph_.add_constant(name, value));
}

std::string GraphBuilder::next_constant_name() {
  return graph_.fresh_value_name("const_" + std::to_string(counter_++));
}

Var GraphBuilder::constant(const std::vector<float>& values, const Shape& shape, DType dtype,
                           const std::string& name) {
  if (static_cast<int64_t>(values.size()) != numel(shape))
    fail("constant", std::to_string(values.size()) + " values for shape " + to_string(shape));
  const std::vector<double> v(values.begin(), values.end());
  return constant(name.empty() ? next_constant_name() : name, detail::host_values(v, shape, dtype));
}

Var GraphBuilder::constant_ints(const std::vector<int64_t>& values, const Shape& shape, DType dtype,
                                const std::string& name) {
  if (static_cast<int64_t>(values.size()) != numel(shape))
    fail("constant_ints", std::to_string(values.size()) + " values for shape " + to_string(shape));
  return constant(name.empty() ? next_constant_name() : name,
                  detail::host_ints(values, shape, dtype));
}

Var GraphBuilder::scalar(double value, DType dtype) {
  return constant(next_constant_name(), detail::host_values({value}, {}, dtype));
}

void GraphBuilder::output(Var v) {
  val(v);
  graph_.mark_output(v.id);
}

void GraphBuilder::output(Var v, const std::string& name) {
  const Value& value = val(v);
  if (value.name != name) {
    if (graph_.find_value(name)) fail("output", "value name '" + name + "' is already used");
    graph_.mutable_values()[v.id].name = name;
  }
  graph_.mark_output(v.id);
}

GraphBuilder& GraphBuilder::name_next(std::string name) {
  pending_name_ = std::move(name);
  return *this;
}

DType GraphBuilder::dtype(Var v) const { return val(v).dtype; }
const SymShape& GraphBuilder::shape(Var v) const { return val(v).shape; }

Graph GraphBuilder::build() {
  graph_.validate();
  Graph g = std::move(graph_);
  graph_ = Graph();
  counter_ = 0;
  pending_name_.clear();
  return g;
}

std::string GraphBuilder::next_name(const OpKind& op) {
  if (!pending_name_.empty()) return std::exchange(pending_name_, {});
  std::string base = op_kind_name(op);
  if (base.rfind("core.", 0) == 0) base = base.substr(5);
  return graph_.fresh_node_name(base + "_" + std::to_string(counter_++));
}

std::vector<Var> GraphBuilder::node(OpKind op, const std::vector<Var>& inputs,
                                    std::vector<uint8_t> abi_attrs, Attributes attrs) {
  std::vector<ValueId> ids;
  for (Var v : inputs) ids.push_back(v.id);
  const std::vector<ValueId> outs =
      graph_.add_node(next_name(op), op, ids, std::move(abi_attrs), std::move(attrs));
  std::vector<Var> vars;
  for (ValueId v : outs) vars.emplace_back(v);
  return vars;
}

// -------------------------------------------------------------- Tier 1

Var GraphBuilder::linear(Var x, Var w, Var bias, Activation act, bool trans_b, float act_param,
                         float alpha) {
  const rma_linear_attrs a = linear_attrs(act, false, trans_b, act_param, alpha);
  return node(RMA_OP_LINEAR, {x, w, bias}, abi_bytes(a))[0];
}

Var GraphBuilder::rms_norm(Var x, Var w, float eps) {
  return node(RMA_OP_RMS_NORM, {x, w}, abi_bytes(norm_attrs(eps)))[0];
}

Var GraphBuilder::layer_norm(Var x, Var w, Var b, float eps) {
  return node(RMA_OP_LAYER_NORM, {x, w, b}, abi_bytes(norm_attrs(eps)))[0];
}

Var GraphBuilder::softmax(Var x, bool log) {
  rma_softmax_attrs a = softmax_attrs();
  a.log = log;
  return node(RMA_OP_SOFTMAX, {x}, abi_bytes(a))[0];
}

Var GraphBuilder::silu_and_mul(Var x) { return node(RMA_OP_SILU_AND_MUL, {x})[0]; }

Var GraphBuilder::gelu_and_mul(Var x, bool approximate_tanh) {
  return node(RMA_OP_GELU_AND_MUL, {x}, abi_bytes(gelu_attrs(approximate_tanh)))[0];
}

Var GraphBuilder::embedding(Var ids, Var table) { return node(RMA_OP_EMBEDDING, {ids, table})[0]; }

Var GraphBuilder::prefill_attention(Var q, Var k, Var v, Var cu_seqlens, float scale, bool causal,
                                    int sliding_window) {
  return node(RMA_OP_PREFILL_ATTENTION, {q, k, v, cu_seqlens},
              abi_bytes(attention_attrs(scale, causal, sliding_window)))[0];
}

std::pair<Var, Var> GraphBuilder::rope(Var q, Var k, Var positions, const rma_rope_attrs& attrs) {
  const auto outs = node(RMA_OP_ROPE, {q, k, positions}, abi_bytes(attrs));
  return {outs[0], outs[1]};
}

// -------------------------------------------------------------- Tier 2

Var GraphBuilder::unary(rma_unary_kind kind, Var x, float param0, float param1) {
  rma_unary_attrs a{};
  a.kind = kind;
  a.param0 = param0;
  a.param1 = param1;
  return node(RMA_OP_UNARY, {x}, bytes_of(a))[0];
}

Var GraphBuilder::binary(rma_binary_kind kind, Var a, Var b) {
  rma_binary_attrs attrs{};
  attrs.kind = kind;
  return node(RMA_OP_BINARY, {a, b}, bytes_of(attrs))[0];
}

Var GraphBuilder::matmul(Var a, Var b) { return node(RMA_OP_MATMUL, {a, b})[0]; }

Var GraphBuilder::reduce(rma_reduce_kind kind, Var x, const std::vector<int64_t>& axes,
                         bool keepdims) {
  const size_t rank = shape(x).size();
  rma_reduce_attrs a{};
  a.kind = kind;
  a.keepdims = keepdims;
  if (axes.empty()) fail("reduce", "no axes given");
  for (int64_t ax : axes) a.axes |= 1u << normalize_axis("reduce", ax, rank);
  return node(RMA_OP_REDUCE, {x}, bytes_of(a))[0];
}

Var GraphBuilder::cast(Var x, DType dtype) {
  rma_cast_attrs a{};
  a.dtype = static_cast<int32_t>(dtype);
  return node(RMA_OP_CAST, {x}, bytes_of(a))[0];
}

Var GraphBuilder::where(Var cond, Var a, Var b) { return node(RMA_OP_WHERE, {cond, a, b})[0]; }

Var GraphBuilder::gather(Var data, Var indices, int64_t axis) {
  rma_axis_attrs a{};
  a.axis = static_cast<int32_t>(normalize_axis("gather", axis, shape(data).size()));
  return node(RMA_OP_GATHER, {data, indices}, bytes_of(a))[0];
}

Var GraphBuilder::concat(const std::vector<Var>& xs, int64_t axis) {
  if (xs.empty()) fail("concat", "no inputs");
  rma_axis_attrs a{};
  a.axis = static_cast<int32_t>(normalize_axis("concat", axis, shape(xs[0]).size()));
  return node(RMA_OP_CONCAT, xs, bytes_of(a))[0];
}

Var GraphBuilder::slice(Var x, int64_t axis, int64_t start, int64_t end, int64_t step) {
  const SymShape& s = shape(x);
  const int64_t d = normalize_axis("slice", axis, s.size());
  if (step == 0) fail("slice", "step 0");
  if (const std::optional<Shape> known = known_shape(s)) {
    rma_slice_attrs a{};
    for (size_t i = 0; i < known->size(); ++i) {
      a.start[i] = 0;
      a.step[i] = 1;
      a.size[i] = (*known)[i];
    }
    const detail::SliceAxis r = detail::resolve_slice((*known)[d], start, end, step);
    a.start[d] = r.start;
    a.step[d] = r.step;
    a.size[d] = r.size;
    return node(RMA_OP_SLICE, {x}, bytes_of(a))[0];
  }
  const Var starts = constant_ints({start}, {1});
  const Var ends = constant_ints({end}, {1});
  const Var axes = constant_ints({d}, {1});
  const Var steps = constant_ints({step}, {1});
  return node(CoreOp::kSliceDynamic, {x, starts, ends, axes, steps})[0];
}

Var GraphBuilder::transpose(Var x, const std::vector<int64_t>& perm) {
  const size_t rank = shape(x).size();
  if (perm.size() != rank)
    fail("transpose", "perm has " + std::to_string(perm.size()) + " entries, x has " +
                          std::to_string(rank) + " dims");
  rma_transpose_attrs a{};
  for (size_t i = 0; i < rank; ++i)
    a.perm[i] = static_cast<int32_t>(normalize_axis("transpose", perm[i], rank));
  return node(RMA_OP_TRANSPOSE, {x}, bytes_of(a))[0];
}

Var GraphBuilder::expand(Var x, const std::vector<int64_t>& target) {
  if (const std::optional<Shape> known = known_shape(shape(x))) {
    const size_t n = std::max(known->size(), target.size());
    if (n > RMA_MAX_DIMS) fail("expand", "more than 8 dims");
    rma_shape_attrs a{};
    a.ndim = static_cast<int32_t>(n);
    for (size_t i = 1; i <= n; ++i) {
      const int64_t dx = i <= known->size() ? (*known)[known->size() - i] : 1;
      const int64_t dt = i <= target.size() ? target[target.size() - i] : 1;
      if (dx != dt && dx != 1 && dt != 1)
        fail("expand",
             "shape " + to_string(*known) + " does not broadcast to " + to_string(Shape(target)));
      a.shape[n - i] = dx == 1 ? dt : dx;
    }
    return node(RMA_OP_EXPAND, {x}, bytes_of(a))[0];
  }
  const Var s = constant_ints(target, {static_cast<int64_t>(target.size())});
  return node(CoreOp::kExpandDynamic, {x, s})[0];
}

Var GraphBuilder::conv2d(Var x, Var w, Var bias, const rma_conv2d_attrs& attrs) {
  return node(RMA_OP_CONV2D, {x, w, bias}, abi_bytes(attrs))[0];
}

Var GraphBuilder::pool2d(Var x, const rma_pool2d_attrs& attrs) {
  return node(RMA_OP_POOL2D, {x}, abi_bytes(attrs))[0];
}

// ----------------------------------------------------------------- views

Var GraphBuilder::reshape(Var x, const std::vector<int64_t>& target) {
  return node(CoreOp::kReshape, {x}, {}, {{"shape", target}})[0];
}

Var GraphBuilder::reshape_to(Var x, Var target) { return node(CoreOp::kReshape, {x, target})[0]; }

Var GraphBuilder::squeeze(Var x, const std::vector<int64_t>& axes) {
  return node(CoreOp::kSqueeze, {x}, {}, {{"axes", axes}})[0];
}

Var GraphBuilder::unsqueeze(Var x, const std::vector<int64_t>& axes) {
  return node(CoreOp::kUnsqueeze, {x}, {}, {{"axes", axes}})[0];
}

Var GraphBuilder::flatten(Var x, int64_t axis) {
  return node(CoreOp::kFlatten, {x}, {}, {{"axis", axis}})[0];
}

Var GraphBuilder::shape_of(Var x, std::optional<int64_t> start, std::optional<int64_t> end) {
  Attributes attrs;
  if (start) attrs["start"] = *start;
  if (end) attrs["end"] = *end;
  return node(CoreOp::kShape, {x}, {}, std::move(attrs))[0];
}

}  // namespace rma::graph
