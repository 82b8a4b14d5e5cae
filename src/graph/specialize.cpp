// Graph::specialize: a static copy of a graph for concrete input shapes.
//
// Walks the nodes in order, building a new graph: every value's shape is
// concrete, so shape computations (shape, size, range, constant_of_shape)
// and nodes whose inputs are all constants are evaluated on the host into
// constants (up to a size cap), dynamic-parameter core ops are lowered to
// their interface op (slice, expand, reduce; split to slices; tile to
// expand + reshape), views become reshapes with a static target, and
// interface ops are re-checked by their schemas.
#include <algorithm>

#include "graph_internal.h"
#include "rma/log.h"
#include "rma/ops.h"

namespace rma::graph {
namespace {

using detail::ValueType;

// Folded results may be this large, or as large as the constants they
// replace: folding a weight's transpose is fine, broadcasting a scalar into
// a huge tensor is not.
constexpr uint64_t kFoldMinBytes = uint64_t{1} << 20;

uint64_t bytes_of(const ValueType& t) {
  const std::optional<Shape> s = known_shape(t.shape);
  return s ? static_cast<uint64_t>(bytes_for(t.dtype, numel(*s))) : UINT64_MAX;
}

std::string join_input_names(const Graph& g) {
  std::string s;
  for (ValueId v : g.inputs()) s += (s.empty() ? "" : ", ") + g.value(v).name;
  return s;
}

template <class T>
std::vector<uint8_t> attrs_bytes(T a) {
  a.struct_size = sizeof(T);
  a.abi_version = RMA_ABI_VERSION;
  return abi_bytes(a);
}

// Builds the specialized graph node by node.
class Specializer {
 public:
  explicit Specializer(const Graph& src) : src_(src), map_(src.values().size(), kNoValue) {}

  Graph run(const std::vector<Shape>& input_shapes) {
    for (size_t i = 0; i < src_.inputs().size(); ++i) {
      const Value& v = src_.value(src_.inputs()[i]);
      map_[src_.inputs()[i]] = out_.add_input(v.name, v.dtype, sym_shape(input_shapes[i]));
    }
    for (size_t v = 0; v < src_.values().size(); ++v)
      if (src_.values()[v].constant)
        map_[v] = out_.add_constant(src_.values()[v].name, *src_.values()[v].constant);
    for (const Node& node : src_.nodes()) lower(node);
    for (ValueId v : src_.outputs()) out_.mark_output(map_.at(v));
    out_.remove_dead_nodes();
    return std::move(out_);
  }

 private:
  std::vector<ValueId> mapped_inputs(const Node& node) const {
    std::vector<ValueId> in;
    for (ValueId v : node.inputs) in.push_back(v == kNoValue ? kNoValue : map_.at(v));
    return in;
  }

  std::string out_name(const Node& node, size_t i) const {
    return src_.value(node.outputs.at(i)).name;
  }

  // Names for helper nodes and values, unused in both graphs.
  std::string helper_name(const Node& node, const std::string& suffix) const {
    std::string name = out_.fresh_node_name(node.name + "/" + suffix);
    for (int i = 1; src_.find_node(name); ++i)
      name = out_.fresh_node_name(node.name + "/" + suffix + std::to_string(i));
    return name;
  }
  std::string helper_value(const std::string& base) const {
    std::string name = out_.fresh_value_name(base);
    for (int i = 1; src_.find_value(name); ++i)
      name = out_.fresh_value_name(base + std::to_string(i));
    return name;
  }

  void bind(const Node& node, const std::vector<ValueId>& results) {
    for (size_t i = 0; i < node.outputs.size(); ++i) map_[node.outputs[i]] = results.at(i);
  }

  // Evaluates `node` on the host from constant inputs; each output becomes a
  // constant with the source value's name.
  void fold(const Node& node, const Node& eval, const std::vector<ValueType>& types) {
    std::vector<Tensor> in;
    for (ValueId v : eval.inputs) in.push_back(v == kNoValue ? Tensor{} : *out_.value(v).constant);
    const std::vector<Tensor> results = detail::eval_node(eval, in, types, detail::host_device());
    std::vector<ValueId> ids;
    for (size_t i = 0; i < results.size(); ++i)
      ids.push_back(out_.add_constant(out_name(node, i), results[i]));
    bind(node, ids);
  }

  bool all_constant(const std::vector<ValueId>& inputs) const {
    for (ValueId v : inputs)
      if (v != kNoValue && !out_.value(v).constant) return false;
    return true;
  }

  uint64_t constant_bytes(const std::vector<ValueId>& inputs) const {
    uint64_t total = 0;
    for (ValueId v : inputs)
      if (v != kNoValue && out_.value(v).constant) total += out_.value(v).constant->nbytes();
    return total;
  }

  // Adds a node with the source node's output names (when `names` is set).
  std::vector<ValueId> add(const std::string& name, OpKind op, const std::vector<ValueId>& inputs,
                           std::vector<uint8_t> abi = {}, Attributes attrs = {},
                           const std::vector<std::string>& names = {}) {
    return out_.add_node(name, op, inputs, std::move(abi), std::move(attrs), names);
  }

  std::vector<std::string> names_of(const Node& node) const {
    std::vector<std::string> names;
    for (size_t i = 0; i < node.outputs.size(); ++i) names.push_back(out_name(node, i));
    return names;
  }

  // Types of `node`'s outputs over the specialized inputs.
  std::vector<ValueType> infer(const Node& node, const std::vector<ValueId>& inputs) const {
    return detail::infer_node(out_, node.name, node.op, inputs, node.abi_attrs, node.attrs,
                              names_of(node));
  }

  void require_constant_params(const Node& node, const std::vector<ValueId>& inputs,
                               size_t first_param) const {
    for (size_t i = first_param; i < inputs.size(); ++i)
      if (inputs[i] != kNoValue && !out_.value(inputs[i]).constant)
        detail::unsupported_node(node.name, node.op,
                                 "parameter input " + std::to_string(i) + " ('" +
                                     out_.value(inputs[i]).name +
                                     "') depends on the values of graph inputs, not only on their "
                                     "shapes, so the graph cannot be specialized");
  }

  void lower(const Node& node) {
    const std::vector<ValueId> inputs = mapped_inputs(node);
    if (const rma_op* op = std::get_if<rma_op>(&node.op)) {
      const std::vector<ValueType> types = infer(node, inputs);
      uint64_t out_bytes = 0;
      for (const ValueType& t : types) out_bytes += bytes_of(t);
      if (all_constant(inputs) && out_bytes <= std::max(kFoldMinBytes, constant_bytes(inputs)) &&
          try_fold(node, inputs, types))
        return;
      bind(node, add(node.name, *op, inputs, node.abi_attrs, {}, names_of(node)));
      return;
    }
    lower_core(node, std::get<CoreOp>(node.op), inputs);
  }

  // Folds on the host; a device that cannot run the op leaves it in place.
  bool try_fold(const Node& node, const std::vector<ValueId>& inputs,
                const std::vector<ValueType>& types) {
    Node eval = node;
    eval.inputs = inputs;
    try {
      fold(node, eval, types);
      return true;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnsupported) throw;
      log::debug("specialize: not folding node '" + node.name + "': " + e.what());
      return false;
    }
  }

  void lower_core(const Node& node, CoreOp op, const std::vector<ValueId>& inputs) {
    switch (op) {
      case CoreOp::kShape:
      case CoreOp::kSize:
      case CoreOp::kRange:
      case CoreOp::kConstantOfShape: {
        if (op == CoreOp::kRange || op == CoreOp::kConstantOfShape)
          require_constant_params(node, inputs, 0);
        const std::vector<ValueType> types = infer(node, inputs);
        if (op == CoreOp::kConstantOfShape && bytes_of(types[0]) > kFoldMinBytes) {
          // A large fill: one element broadcast at run time.
          const std::optional<Tensor> value =
              detail::AttrReader{node.name, node.op, node.attrs}.tensor("value");
          const Tensor v = detail::host_values({value ? *detail::scalar_value(*value) : 0.0}, {},
                                               types[0].dtype);
          const ValueId c = out_.add_constant(helper_value(out_name(node, 0) + ".fill"), v);
          rma_shape_attrs a{};
          const Shape s = *known_shape(types[0].shape);
          a.ndim = static_cast<int32_t>(s.size());
          for (size_t d = 0; d < s.size(); ++d) a.shape[d] = s[d];
          bind(node, add(node.name, RMA_OP_EXPAND, {c}, attrs_bytes(a), {}, names_of(node)));
          return;
        }
        // shape and size read only their input's (now known) shape.
        if (op == CoreOp::kShape || op == CoreOp::kSize) {
          const Shape x = *known_shape(out_.value(inputs.at(0)).shape);
          bind(node, {out_.add_constant(out_name(node, 0), detail::shape_op_result(node, x))});
          return;
        }
        Node eval = node;
        eval.inputs = inputs;
        fold(node, eval, types);
        return;
      }
      case CoreOp::kReshape:
      case CoreOp::kSqueeze:
      case CoreOp::kUnsqueeze:
      case CoreOp::kFlatten:
      case CoreOp::kIdentity: {
        if (op == CoreOp::kReshape) require_constant_params(node, inputs, 1);
        const std::vector<ValueType> types = infer(node, inputs);
        if (out_.value(inputs.at(0)).constant) {
          Node eval = node;
          eval.inputs = inputs;
          fold(node, eval, types);
          return;
        }
        // A static reshape to the concrete shape, whatever the view was.
        const Shape s = *known_shape(types[0].shape);
        Attributes attrs{{"shape", std::vector<int64_t>(s.begin(), s.end())},
                         {"allowzero", int64_t{1}}};
        bind(node,
             add(node.name, CoreOp::kReshape, {inputs[0]}, {}, std::move(attrs), names_of(node)));
        return;
      }
      case CoreOp::kSliceDynamic:
      case CoreOp::kExpandDynamic:
      case CoreOp::kReduceDynamic: {
        require_constant_params(node, inputs, 1);
        Node probe = node;
        probe.inputs = inputs;
        const std::optional<detail::Lowered> low = detail::lower_dynamic(out_, probe);
        if (!low) detail::fail_node(node.name, node.op, "could not be lowered");
        if (low->op == RMA_OP_COUNT) {  // an identity (reduce over no axes)
          const Shape s = *known_shape(out_.value(inputs[0]).shape);
          Attributes attrs{{"shape", std::vector<int64_t>(s.begin(), s.end())},
                           {"allowzero", int64_t{1}}};
          bind(node,
               add(node.name, CoreOp::kReshape, {inputs[0]}, {}, std::move(attrs), names_of(node)));
          return;
        }
        Node lowered = node;
        lowered.op = low->op;
        lowered.abi_attrs = low->abi_attrs;
        lowered.attrs.clear();
        lowered.inputs = {inputs[0]};
        lower(lowered, {inputs[0]});
        return;
      }
      case CoreOp::kSplit: {
        require_constant_params(node, inputs, 1);
        const std::vector<ValueType> types = infer(node, inputs);
        const Value& x = out_.value(inputs[0]);
        const Shape xs = *known_shape(x.shape);
        int64_t axis = detail::AttrReader{node.name, node.op, node.attrs}.integer("axis", 0);
        if (axis < 0) axis += static_cast<int64_t>(xs.size());
        int64_t offset = 0;
        std::vector<ValueId> results;
        for (size_t i = 0; i < types.size(); ++i) {
          const int64_t size = known_shape(types[i].shape)->at(axis);
          rma_slice_attrs a{};
          for (size_t d = 0; d < xs.size(); ++d) {
            a.start[d] = 0;
            a.step[d] = 1;
            a.size[d] = xs[d];
          }
          a.start[axis] = offset;
          a.size[axis] = size;
          offset += size;
          Node slice = node;
          slice.name = i == 0 ? node.name : helper_name(node, "slice" + std::to_string(i));
          slice.op = RMA_OP_SLICE;
          slice.abi_attrs = attrs_bytes(a);
          slice.attrs.clear();
          results.push_back(lower_one(slice, {inputs[0]}, out_name(node, i)));
        }
        bind(node, results);
        return;
      }
      case CoreOp::kTile: {
        require_constant_params(node, inputs, 1);
        const std::vector<ValueType> types = infer(node, inputs);
        const Shape xs = *known_shape(out_.value(inputs[0]).shape);
        const std::vector<int64_t> reps = detail::tensor_ints(*out_.value(inputs[1]).constant);
        Shape split, expanded;
        for (size_t d = 0; d < xs.size(); ++d) {
          split.insert(split.end(), {1, xs[d]});
          expanded.insert(expanded.end(), {reps[d], xs[d]});
        }
        const ValueId r1 = add(helper_name(node, "split"), CoreOp::kReshape, {inputs[0]}, {},
                               {{"shape", std::vector<int64_t>(split.begin(), split.end())},
                                {"allowzero", int64_t{1}}})[0];
        rma_shape_attrs a{};
        a.ndim = static_cast<int32_t>(expanded.size());
        for (size_t d = 0; d < expanded.size(); ++d) a.shape[d] = expanded[d];
        Node expand = node;
        expand.name = helper_name(node, "expand");
        expand.op = RMA_OP_EXPAND;
        expand.abi_attrs = attrs_bytes(a);
        expand.attrs.clear();
        const ValueId e = lower_one(expand, {r1}, helper_value(out_name(node, 0) + ".expanded"));
        const Shape ys = *known_shape(types[0].shape);
        bind(node,
             add(node.name, CoreOp::kReshape, {e}, {},
                 {{"shape", std::vector<int64_t>(ys.begin(), ys.end())}, {"allowzero", int64_t{1}}},
                 names_of(node)));
        return;
      }
    }
  }

  // Lowers an interface-op node built here (folding it when it can).
  void lower(const Node& node, const std::vector<ValueId>& inputs) {
    const std::vector<ValueType> types = infer(node, inputs);
    uint64_t out_bytes = 0;
    for (const ValueType& t : types) out_bytes += bytes_of(t);
    if (all_constant(inputs) && out_bytes <= std::max(kFoldMinBytes, constant_bytes(inputs)) &&
        try_fold(node, inputs, types))
      return;
    bind(node, add(node.name, node.op, inputs, node.abi_attrs, {}, names_of(node)));
  }

  // One single-output interface node named `value_name`; returns its value.
  ValueId lower_one(const Node& node, const std::vector<ValueId>& inputs,
                    const std::string& value_name) {
    const std::vector<ValueType> types =
        detail::infer_node(out_, node.name, node.op, inputs, node.abi_attrs, {}, {value_name});
    if (all_constant(inputs) &&
        bytes_of(types[0]) <= std::max(kFoldMinBytes, constant_bytes(inputs))) {
      std::vector<Tensor> in;
      for (ValueId v : inputs) in.push_back(*out_.value(v).constant);
      try {
        const auto r = detail::eval_node(node, in, types, detail::host_device());
        return out_.add_constant(value_name, r[0]);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kUnsupported) throw;
      }
    }
    return add(node.name, node.op, inputs, node.abi_attrs, {}, {value_name})[0];
  }

  const Graph& src_;
  Graph out_;
  std::vector<ValueId> map_;  // source value -> specialized value
};

}  // namespace

Bindings Graph::bind_symbols(const std::vector<Shape>& input_shapes) const {
  if (input_shapes.size() != inputs_.size())
    throw Error(ErrorCode::kInvalidArgument,
                "specialize: expected " + std::to_string(inputs_.size()) + " input shape(s) (" +
                    join_input_names(*this) + "), got " + std::to_string(input_shapes.size()));
  Bindings bindings;
  std::map<std::string, std::string> bound_where;  // symbol -> "input 'x' dim 0"
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const Value& v = values_[inputs_[i]];
    const Shape& s = input_shapes[i];
    if (s.size() != v.shape.size())
      throw Error(ErrorCode::kInvalidArgument,
                  "input '" + v.name + "': expected " + std::to_string(v.shape.size()) + " dims " +
                      to_string(v.shape) + ", got shape " + rma::to_string(s));
    for (size_t d = 0; d < s.size(); ++d) {
      const Dim& want = v.shape[d];
      const std::string where = "input '" + v.name + "' dim " + std::to_string(d);
      if (s[d] < 0)
        throw Error(ErrorCode::kInvalidArgument,
                    where + ": got a negative size " + std::to_string(s[d]));
      if (want.known()) {
        if (want.value != s[d])
          throw Error(
              ErrorCode::kInvalidArgument,
              where + ": expected " + std::to_string(want.value) + ", got " + std::to_string(s[d]));
        continue;
      }
      const auto it = bindings.find(want.symbol);
      if (it == bindings.end()) {
        bindings[want.symbol] = s[d];
        bound_where[want.symbol] = where;
      } else if (it->second != s[d]) {
        throw Error(ErrorCode::kInvalidArgument,
                    where + " ('" + want.symbol + "'): got " + std::to_string(s[d]) + ", but '" +
                        want.symbol + "' is " + std::to_string(it->second) + " from " +
                        bound_where[want.symbol]);
      }
    }
  }
  return bindings;
}

Graph Graph::specialize(const std::vector<Shape>& input_shapes) const {
  bind_symbols(input_shapes);
  // Only what the outputs need (a dead node may not be specializable).
  Graph live = *this;
  live.remove_dead_nodes();
  Specializer s(live);
  return s.run(input_shapes);
}

}  // namespace rma::graph
