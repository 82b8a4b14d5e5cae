// The graph IR: values, nodes, checks, dead-code removal and printing.
// Shape inference lives in shape_inference.cpp, specialization in
// specialize.cpp.
#include "rma/graph/ir.h"

#include <algorithm>
#include <queue>
#include <set>
#include <sstream>

#include "graph_internal.h"
#include "rma/error.h"
#include "rma/ops.h"

namespace rma::graph {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, message);
}

}  // namespace

// ------------------------------------------------------------------ shapes

std::string to_string(const Dim& d) { return d.known() ? std::to_string(d.value) : d.symbol; }

std::string to_string(const SymShape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + to_string(s[i]);
  return out + "]";
}

SymShape sym_shape(const Shape& s) {
  SymShape out;
  out.reserve(s.size());
  for (int64_t d : s) out.push_back(Dim::of(d));
  return out;
}

std::optional<Shape> known_shape(const SymShape& s) {
  Shape out;
  out.reserve(s.size());
  for (const Dim& d : s) {
    if (!d.known()) return std::nullopt;
    out.push_back(d.value);
  }
  return out;
}

// ---------------------------------------------------------------- op names

std::string_view core_op_name(CoreOp op) {
  switch (op) {
    case CoreOp::kReshape:
      return "reshape";
    case CoreOp::kSqueeze:
      return "squeeze";
    case CoreOp::kUnsqueeze:
      return "unsqueeze";
    case CoreOp::kFlatten:
      return "flatten";
    case CoreOp::kIdentity:
      return "identity";
    case CoreOp::kShape:
      return "shape";
    case CoreOp::kSize:
      return "size";
    case CoreOp::kConstantOfShape:
      return "constant_of_shape";
    case CoreOp::kRange:
      return "range";
    case CoreOp::kSliceDynamic:
      return "slice_dynamic";
    case CoreOp::kExpandDynamic:
      return "expand_dynamic";
    case CoreOp::kReduceDynamic:
      return "reduce_dynamic";
    case CoreOp::kSplit:
      return "split";
    case CoreOp::kTile:
      return "tile";
  }
  return "unknown";
}

bool is_view(CoreOp op) {
  return op == CoreOp::kReshape || op == CoreOp::kSqueeze || op == CoreOp::kUnsqueeze ||
         op == CoreOp::kFlatten || op == CoreOp::kIdentity;
}

std::string op_kind_name(const OpKind& op) {
  if (const rma_op* iop = std::get_if<rma_op>(&op)) {
    const std::string_view name = rma::op_name(*iop);
    if (name.empty() || name == "unknown_op") return "op" + std::to_string(static_cast<int>(*iop));
    return std::string(name);
  }
  return "core." + std::string(core_op_name(std::get<CoreOp>(op)));
}

const uint8_t* Node::checked_attrs(size_t size) const {
  if (abi_attrs.size() < size)
    throw Error(ErrorCode::kInvalidArgument,
                "node '" + name + "': attributes are " + std::to_string(abi_attrs.size()) +
                    " bytes, expected at least " + std::to_string(size),
                op_kind_name(op));
  return abi_attrs.data();
}

// ------------------------------------------------------------------- graph

void Graph::index_names() const {
  if (!index_dirty_) return;
  value_index_.clear();
  node_index_.clear();
  for (size_t i = 0; i < values_.size(); ++i)
    value_index_.emplace(values_[i].name, static_cast<ValueId>(i));
  for (size_t i = 0; i < nodes_.size(); ++i)
    node_index_.emplace(nodes_[i].name, static_cast<NodeId>(i));
  index_dirty_ = false;
}

void Graph::check_new_value_name(const std::string& name) const {
  if (name.empty()) fail("a value needs a name");
  if (find_value(name)) fail("value name '" + name + "' is already used in the graph");
}

ValueId Graph::add_input(const std::string& name, DType dtype, SymShape shape) {
  check_new_value_name(name);
  if (shape.size() > RMA_MAX_DIMS)
    fail("input '" + name + "': " + std::to_string(shape.size()) + " dims, at most " +
         std::to_string(RMA_MAX_DIMS) + " are supported");
  for (size_t i = 0; i < shape.size(); ++i)
    if (!shape[i].known() && shape[i].symbol.empty())
      fail("input '" + name + "': dim " + std::to_string(i) +
           " is neither a size >= 0 nor a named symbol");
  Value v;
  v.name = name;
  v.dtype = dtype;
  v.shape = std::move(shape);
  const auto id = static_cast<ValueId>(values_.size());
  values_.push_back(std::move(v));
  if (!index_dirty_) value_index_.emplace(name, id);
  inputs_.push_back(id);
  return id;
}

ValueId Graph::add_constant(const std::string& name, Tensor host_tensor) {
  check_new_value_name(name);
  if (!host_tensor.defined()) fail("constant '" + name + "': the tensor is undefined");
  if (host_tensor.ndim() > RMA_MAX_DIMS)
    fail("constant '" + name + "': " + std::to_string(host_tensor.ndim()) + " dims, at most " +
         std::to_string(RMA_MAX_DIMS) + " are supported");
  Value v;
  v.name = name;
  v.dtype = host_tensor.dtype();
  v.shape = sym_shape(host_tensor.shape());
  v.constant = detail::to_host(host_tensor);
  const auto id = static_cast<ValueId>(values_.size());
  values_.push_back(std::move(v));
  if (!index_dirty_) value_index_.emplace(name, id);
  return id;
}

std::vector<ValueId> Graph::add_node(const std::string& name, OpKind op,
                                     const std::vector<ValueId>& inputs,
                                     std::vector<uint8_t> abi_attrs, Attributes attrs,
                                     const std::vector<std::string>& output_names) {
  const std::string opname = op_kind_name(op);
  if (name.empty()) throw Error(ErrorCode::kInvalidArgument, "a node needs a name", opname);
  if (find_node(name))
    throw Error(ErrorCode::kInvalidArgument,
                "node name '" + name + "' is already used in the graph", opname);
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i] != kNoValue && (inputs[i] < 0 || inputs[i] >= ValueId(values_.size())))
      detail::fail_node(name, op,
                        "input " + std::to_string(i) + " is value id " + std::to_string(inputs[i]) +
                            ", which is not in the graph");
  if (const rma_op* iop = std::get_if<rma_op>(&op)) {
    if (*iop < 0 || *iop >= RMA_OP_COUNT)
      detail::fail_node(name, op, "unknown op id " + std::to_string(static_cast<int>(*iop)));
    const size_t want = op_attrs_size(*iop);
    if (abi_attrs.size() != want)
      detail::fail_node(name, op,
                        "attributes are " + std::to_string(abi_attrs.size()) + " bytes, expected " +
                            std::to_string(want) + " (the op's ABI attribute struct)");
  }

  const int n_out = detail::num_outputs(*this, name, op, inputs, attrs);
  std::vector<std::string> names = output_names;
  if (!names.empty() && static_cast<int>(names.size()) != n_out)
    detail::fail_node(name, op,
                      std::to_string(names.size()) + " output names given, the op has " +
                          std::to_string(n_out) + " outputs");
  for (int i = static_cast<int>(names.size()); i < n_out; ++i)
    names.push_back(name + ":" + std::to_string(i));
  for (size_t i = 0; i < names.size(); ++i) {
    if (find_value(names[i]) ||
        std::find(names.begin(), names.begin() + i, names[i]) != names.begin() + i)
      detail::fail_node(name, op, "output name '" + names[i] + "' is already used in the graph");
  }

  const std::vector<detail::ValueType> types =
      detail::infer_node(*this, name, op, inputs, abi_attrs, attrs, names);

  const auto node_id = static_cast<NodeId>(nodes_.size());
  Node node;
  node.name = name;
  node.op = op;
  node.abi_attrs = std::move(abi_attrs);
  node.attrs = std::move(attrs);
  node.inputs = inputs;
  for (size_t i = 0; i < types.size(); ++i) {
    Value v;
    v.name = names[i];
    v.dtype = types[i].dtype;
    v.shape = types[i].shape;
    v.producer = node_id;
    const auto id = static_cast<ValueId>(values_.size());
    values_.push_back(std::move(v));
    if (!index_dirty_) value_index_.emplace(names[i], id);
    node.outputs.push_back(id);
  }
  nodes_.push_back(std::move(node));
  if (!index_dirty_) node_index_.emplace(name, node_id);
  return nodes_.back().outputs;
}

void Graph::mark_output(ValueId v) {
  if (v < 0 || v >= ValueId(values_.size()))
    fail("mark_output: value id " + std::to_string(v) + " is not in the graph");
  outputs_.push_back(v);
}

const Value& Graph::value(ValueId v) const {
  if (v < 0 || v >= ValueId(values_.size()))
    fail("value id " + std::to_string(v) + " is not in the graph (it has " +
         std::to_string(values_.size()) + " values)");
  return values_[v];
}

std::optional<ValueId> Graph::find_value(const std::string& name) const {
  index_names();
  const auto it = value_index_.find(name);
  if (it == value_index_.end()) return std::nullopt;
  return it->second;
}

std::optional<NodeId> Graph::find_node(const std::string& name) const {
  index_names();
  const auto it = node_index_.find(name);
  if (it == node_index_.end()) return std::nullopt;
  return it->second;
}

std::string Graph::fresh_value_name(const std::string& base) const {
  if (!find_value(base)) return base;
  for (int i = 1;; ++i) {
    std::string name = base + "_" + std::to_string(i);
    if (!find_value(name)) return name;
  }
}

std::string Graph::fresh_node_name(const std::string& base) const {
  if (!find_node(base)) return base;
  for (int i = 1;; ++i) {
    std::string name = base + "_" + std::to_string(i);
    if (!find_node(name)) return name;
  }
}

std::vector<std::vector<NodeId>> Graph::consumers() const {
  std::vector<std::vector<NodeId>> out(values_.size());
  for (size_t n = 0; n < nodes_.size(); ++n)
    for (ValueId v : nodes_[n].inputs)
      if (v >= 0 && v < ValueId(values_.size()) && (out[v].empty() || out[v].back() != NodeId(n)))
        out[v].push_back(static_cast<NodeId>(n));
  return out;
}

bool Graph::is_output(ValueId v) const {
  return std::find(outputs_.begin(), outputs_.end(), v) != outputs_.end();
}

void Graph::replace_uses(ValueId from, ValueId to) {
  value(from);
  value(to);
  if (from == to) return;
  const NodeId to_producer = values_[to].producer;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (static_cast<NodeId>(n) == to_producer) continue;  // it computes `to` from `from`
    for (ValueId& v : nodes_[n].inputs)
      if (v == from) v = to;
  }
  if (!is_output(from)) return;
  // Keep the output's name when `to` is an anonymous intermediate (not an
  // input, constant or output of its own).
  const bool to_is_intermediate =
      values_[to].producer >= 0 && !values_[to].constant && !is_output(to);
  for (ValueId& v : outputs_)
    if (v == from) v = to;
  if (to_is_intermediate) {
    std::string old = values_[from].name;
    values_[from].name = fresh_value_name(old + ".replaced");
    values_[to].name = std::move(old);
    index_dirty_ = true;
  }
}

void Graph::sort_nodes() {
  // Kahn's algorithm, always taking the ready node that came first, so an
  // already ordered graph is unchanged.
  const size_t n = nodes_.size();
  std::vector<NodeId> producer(values_.size(), -1);
  for (size_t i = 0; i < n; ++i)
    for (ValueId v : nodes_[i].outputs) producer.at(v) = static_cast<NodeId>(i);
  std::vector<int> pending(n, 0);
  std::vector<std::vector<NodeId>> users(n);
  for (size_t i = 0; i < n; ++i) {
    std::set<NodeId> deps;
    for (ValueId v : nodes_[i].inputs)
      if (v >= 0 && producer.at(v) >= 0) deps.insert(producer[v]);
    pending[i] = static_cast<int>(deps.size());
    for (NodeId d : deps) users[d].push_back(static_cast<NodeId>(i));
  }
  std::priority_queue<NodeId, std::vector<NodeId>, std::greater<>> ready;
  for (size_t i = 0; i < n; ++i)
    if (pending[i] == 0) ready.push(static_cast<NodeId>(i));
  std::vector<NodeId> order;
  while (!ready.empty()) {
    const NodeId i = ready.top();
    ready.pop();
    order.push_back(i);
    for (NodeId u : users[i])
      if (--pending[u] == 0) ready.push(u);
  }
  if (order.size() != n) {
    for (size_t i = 0; i < n; ++i)
      if (pending[i] > 0) fail("the graph has a cycle through node '" + nodes_[i].name + "'");
  }
  std::vector<Node> sorted;
  sorted.reserve(n);
  for (NodeId i : order) sorted.push_back(std::move(nodes_[i]));
  nodes_ = std::move(sorted);
  for (Value& v : values_) v.producer = -1;
  for (size_t i = 0; i < n; ++i)
    for (ValueId v : nodes_[i].outputs) values_[v].producer = static_cast<NodeId>(i);
  index_dirty_ = true;
}

void Graph::infer_shapes() {
  for (size_t n = 0; n < nodes_.size(); ++n) {
    Node& node = nodes_[n];
    std::vector<std::string> names;
    for (ValueId v : node.outputs) names.push_back(values_.at(v).name);
    const int want = detail::num_outputs(*this, node.name, node.op, node.inputs, node.attrs);
    if (want != static_cast<int>(node.outputs.size()))
      detail::fail_node(node.name, node.op,
                        "has " + std::to_string(node.outputs.size()) + " outputs, the op gives " +
                            std::to_string(want));
    const auto types = detail::infer_node(*this, node.name, node.op, node.inputs, node.abi_attrs,
                                          node.attrs, names);
    for (size_t i = 0; i < types.size(); ++i) {
      Value& v = values_[node.outputs[i]];
      v.dtype = types[i].dtype;
      v.shape = types[i].shape;
    }
  }
}

void Graph::validate() const {
  const auto nv = static_cast<ValueId>(values_.size());
  std::set<std::string> value_names, node_names;
  for (const Value& v : values_)
    if (!value_names.insert(v.name).second) fail("value name '" + v.name + "' is used twice");
  std::vector<bool> defined(values_.size(), false);
  for (ValueId v : inputs_) {
    if (v < 0 || v >= nv) fail("graph input id " + std::to_string(v) + " is not a value");
    if (values_[v].constant || values_[v].producer >= 0)
      fail("graph input '" + values_[v].name + "' is a constant or produced by a node");
    defined[v] = true;
  }
  for (ValueId v = 0; v < nv; ++v)
    if (values_[v].constant) {
      if (values_[v].producer >= 0)
        fail("constant '" + values_[v].name + "' also has a producer node");
      defined[v] = true;
    }
  for (size_t n = 0; n < nodes_.size(); ++n) {
    const Node& node = nodes_[n];
    const std::string opname = op_kind_name(node.op);
    if (!node_names.insert(node.name).second)
      throw Error(ErrorCode::kInvalidArgument, "node name '" + node.name + "' is used twice",
                  opname);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const ValueId v = node.inputs[i];
      if (v == kNoValue) continue;
      if (v < 0 || v >= nv)
        detail::fail_node(
            node.name, node.op,
            "input " + std::to_string(i) + " is id " + std::to_string(v) + ", not a value");
      if (!defined[v])
        detail::fail_node(node.name, node.op,
                          "input " + std::to_string(i) + " '" + values_[v].name +
                              "' is not defined before the node (not a graph input, constant or "
                              "output of an earlier node)");
    }
    for (ValueId v : node.outputs) {
      if (v < 0 || v >= nv) detail::fail_node(node.name, node.op, "an output id is not a value");
      if (defined[v])
        detail::fail_node(node.name, node.op,
                          "output '" + values_[v].name + "' is already defined elsewhere");
      if (values_[v].producer != NodeId(n))
        detail::fail_node(node.name, node.op,
                          "output '" + values_[v].name + "' records producer " +
                              std::to_string(values_[v].producer) + ", expected " +
                              std::to_string(n));
      defined[v] = true;
    }
  }
  for (ValueId v : outputs_) {
    if (v < 0 || v >= nv) fail("graph output id " + std::to_string(v) + " is not a value");
    if (!defined[v]) fail("graph output '" + values_[v].name + "' is never produced");
  }
  for (ValueId v = 0; v < nv; ++v)
    if (values_[v].producer >= 0 && !defined[v])
      fail("value '" + values_[v].name + "' names producer " + std::to_string(values_[v].producer) +
           ", which does not output it");
}

int Graph::remove_dead_nodes() {
  // Mark what the outputs need, walking nodes backwards.
  std::vector<bool> live_value(values_.size(), false);
  for (ValueId v : outputs_) live_value.at(v) = true;
  std::vector<bool> live_node(nodes_.size(), false);
  for (size_t k = nodes_.size(); k-- > 0;) {
    const Node& node = nodes_[k];
    bool needed = false;
    for (ValueId v : node.outputs) needed = needed || live_value[v];
    if (!needed) continue;
    live_node[k] = true;
    for (ValueId v : node.inputs)
      if (v >= 0) live_value[v] = true;
    // Every output of a live node stays (the node produces them anyway).
    for (ValueId v : node.outputs) live_value[v] = true;
  }
  for (ValueId v : inputs_) live_value[v] = true;

  const int removed = static_cast<int>(std::count(live_node.begin(), live_node.end(), false));
  const bool values_removed = std::count(live_value.begin(), live_value.end(), false) > 0;
  if (removed == 0 && !values_removed) return 0;

  std::vector<ValueId> new_id(values_.size(), kNoValue);
  std::vector<Value> values;
  for (size_t v = 0; v < values_.size(); ++v)
    if (live_value[v]) {
      new_id[v] = static_cast<ValueId>(values.size());
      values.push_back(std::move(values_[v]));
    }
  std::vector<Node> nodes;
  for (size_t k = 0; k < nodes_.size(); ++k) {
    if (!live_node[k]) continue;
    Node node = std::move(nodes_[k]);
    for (ValueId& v : node.inputs)
      if (v >= 0) v = new_id[v];
    for (ValueId& v : node.outputs) {
      v = new_id[v];
      values[v].producer = static_cast<NodeId>(nodes.size());
    }
    nodes.push_back(std::move(node));
  }
  for (ValueId& v : inputs_) v = new_id[v];
  for (ValueId& v : outputs_) v = new_id[v];
  values_ = std::move(values);
  nodes_ = std::move(nodes);
  index_dirty_ = true;
  return removed;
}

bool Graph::is_static() const {
  for (const Value& v : values_)
    if (!known_shape(v.shape)) return false;
  for (const Node& n : nodes_)
    if (const CoreOp* op = std::get_if<CoreOp>(&n.op); op && !is_view(*op)) return false;
  return true;
}

std::string Graph::summary() const {
  std::ostringstream out;
  auto describe = [&](ValueId v) {
    if (v == kNoValue) return std::string("-");
    const Value& val = values_.at(v);
    return val.name + ":" + std::string(rma::name(val.dtype)) + to_string(val.shape);
  };
  out << "inputs:";
  for (ValueId v : inputs_) out << " " << describe(v);
  out << "\n";
  for (const Node& n : nodes_) {
    out << n.name << ": " << op_kind_name(n.op) << "(";
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (i) out << ", ";
      const ValueId v = n.inputs[i];
      out << (v == kNoValue ? std::string("-") : values_.at(v).name);
    }
    out << ") -> ";
    for (size_t i = 0; i < n.outputs.size(); ++i) out << (i ? ", " : "") << describe(n.outputs[i]);
    out << "\n";
  }
  out << "outputs:";
  for (ValueId v : outputs_) out << " " << describe(v);
  out << "\n";
  return out.str();
}

}  // namespace rma::graph
