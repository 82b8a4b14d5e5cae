// rma/graph/ir.h — the graph IR: one representation for everything compiled
// (imported ONNX models, graphs built in C++, later the LLM model builder).
//
// A Graph is a list of nodes in topological order over values. A value is a
// typed tensor whose dimensions are sizes or named symbols ("batch", "seq")
// bound when the graph runs. A node is either an op of the op interface
// (an rma_op with its ABI attribute struct, run by a device plugin) or a
// core op: a view (reshape) or a small host computation on shapes (shape,
// range...) that the core evaluates itself and never sends to a plugin.
//
// Life of a graph: import or build -> passes (src/graph/passes.h: constant
// folding, dead code, fusion) -> specialize() for concrete input shapes
// (binds symbols, evaluates shape computations, leaving only interface ops
// and views with static attributes) -> partition and plan -> run.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "rma/dtype.h"
#include "rma/plugin.h"
#include "rma/tensor.h"

namespace rma::graph {

// ------------------------------------------------------------------ shapes
// A dimension: a known size (value >= 0) or a symbol bound at run time.
struct Dim {
  int64_t value = -1;
  std::string symbol;  // set when value < 0

  static Dim of(int64_t v) { return Dim{v, {}}; }
  static Dim sym(std::string s) { return Dim{-1, std::move(s)}; }
  bool known() const { return value >= 0; }
  bool operator==(const Dim& o) const { return value == o.value && symbol == o.symbol; }
};
using SymShape = std::vector<Dim>;

using rma::to_string;  // Shape's, beside the overloads below

std::string to_string(const Dim& d);                  // "128" or "batch"
std::string to_string(const SymShape& s);             // "[batch, 128]"
SymShape sym_shape(const Shape& s);                   // all known
std::optional<Shape> known_shape(const SymShape& s);  // nullopt if any symbol

// Symbol -> size, from concrete input shapes.
using Bindings = std::map<std::string, int64_t>;

// --------------------------------------------------------------- core ops
// Ops the core evaluates itself. Views alias their input when it is
// contiguous; host ops compute small integer tensors (shapes) on the host.
enum class CoreOp : int32_t {
  // x, shape? (i64) -> y. attrs "shape" (ints, ONNX rules: 0 copies, -1 infers) unless input 1
  // is given; "allowzero" (default 0): 1 makes 0 a literal size, as in ONNX.
  kReshape,
  kSqueeze,          // x -> y. attrs "axes" (ints; empty: every 1-sized axis)
  kUnsqueeze,        // x -> y. attrs "axes"
  kFlatten,          // x -> y [prod(dims < axis), prod(dims >= axis)]. attrs "axis"
  kIdentity,         // x -> x (also ONNX Dropout in inference)
  kShape,            // x -> i64[ndim] (host). attrs "start", "end" (optional ints)
  kSize,             // x -> i64 scalar (host)
  kConstantOfShape,  // shape (i64) -> y filled with attrs "value" (tensor, 1 element)
  kRange,            // start, limit, delta (scalars) -> 1-D
  // Dynamic-parameter forms: interface ops whose parameters arrive as
  // tensors (ONNX inputs); specialize() lowers them to the rma_op once the
  // parameter tensors are constants.
  kSliceDynamic,   // x, starts, ends, axes?, steps? -> y       (ONNX Slice rules)
  kExpandDynamic,  // x, shape (i64) -> y                       (ONNX Expand rules)
  kReduceDynamic,  // x, axes? (i64) -> y. attrs "kind" (an rma_reduce_kind, or its name
                   // "sum", "mean", "max", "min", "prod", "sum_square", "argmax", "argmin"),
                   // "keepdims" (default 1), "noop_with_empty_axes" (default 0)
  kSplit,          // x, split? (i64) -> y0, y1, ... attrs "axis", "num_outputs" (lowered to slices)
  kTile,           // x, repeats (i64) -> y (lowered to expand + reshape)
};
std::string_view core_op_name(CoreOp op);
// Views (reshape, squeeze, unsqueeze, flatten, identity): what a specialized
// graph may keep besides interface ops.
bool is_view(CoreOp op);

// The op a node runs.
using OpKind = std::variant<rma_op, CoreOp>;
std::string op_kind_name(const OpKind& op);  // "linear", "core.reshape"

// A core-op attribute value.
using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>,
                               std::vector<double>, Tensor /* host tensor */>;
using Attributes = std::map<std::string, AttrValue>;

// ------------------------------------------------------------------ values
using ValueId = int32_t;
using NodeId = int32_t;
constexpr ValueId kNoValue = -1;  // an absent optional input

struct Value {
  std::string name;  // unique in the graph
  DType dtype = DType::kF32;
  SymShape shape;
  NodeId producer = -1;  // -1: a graph input or a constant
  // Constants (weights, folded results): a host tensor, possibly a view of
  // an mmapped file kept alive by the tensor.
  std::optional<Tensor> constant;
};

struct Node {
  std::string name;  // unique in the graph; from the source model when imported
  OpKind op;
  // Interface ops: the ABI attribute struct's bytes (op_attrs_size(op) of
  // them, struct_size/abi_version filled); empty for ops without attributes.
  std::vector<uint8_t> abi_attrs;
  Attributes attrs;  // core ops
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;

  bool is_interface_op() const { return std::holds_alternative<rma_op>(op); }
  template <class T>
  const T& attrs_as() const {  // the ABI struct (checked size)
    return *reinterpret_cast<const T*>(checked_attrs(sizeof(T)));
  }

 private:
  const uint8_t* checked_attrs(size_t size) const;
};

// ------------------------------------------------------------------- graph
class Graph {
 public:
  // Values and nodes. Adding a node checks its inputs exist and infers its
  // outputs' dtypes and (symbolic) shapes; an inconsistency is an Error
  // naming the node and the op.
  ValueId add_input(const std::string& name, DType dtype, SymShape shape);
  ValueId add_constant(const std::string& name, Tensor host_tensor);
  // Adds `op` reading `inputs`; returns its outputs (named "<node>:<i>"
  // unless `output_names` are given).
  std::vector<ValueId> add_node(const std::string& name, OpKind op,
                                const std::vector<ValueId>& inputs,
                                std::vector<uint8_t> abi_attrs = {}, Attributes attrs = {},
                                const std::vector<std::string>& output_names = {});
  void mark_output(ValueId v);

  const std::vector<Value>& values() const { return values_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  // Direct access for passes; the name index is rebuilt on the next lookup.
  std::vector<Value>& mutable_values() {
    index_dirty_ = true;
    return values_;
  }
  std::vector<Node>& mutable_nodes() {
    index_dirty_ = true;
    return nodes_;
  }
  const std::vector<ValueId>& inputs() const { return inputs_; }
  const std::vector<ValueId>& outputs() const { return outputs_; }
  const Value& value(ValueId v) const;
  std::optional<ValueId> find_value(const std::string& name) const;
  std::optional<NodeId> find_node(const std::string& name) const;
  // `base`, or `base` with a numeric suffix, unused by any value (node).
  std::string fresh_value_name(const std::string& base) const;
  std::string fresh_node_name(const std::string& base) const;
  // For each value, the nodes reading it (in node order).
  std::vector<std::vector<NodeId>> consumers() const;
  bool is_output(ValueId v) const;

  // Rewiring for passes. replace_uses points every node input (except the
  // node producing `to`) and graph output reading `from` at `to`; when
  // `from` is a graph output and `to` is an intermediate value, `to` takes
  // over `from`'s name so the output keeps its name. sort_nodes() restores
  // topological order after nodes were appended out of place (stable:
  // untouched nodes keep their order).
  void replace_uses(ValueId from, ValueId to);
  void sort_nodes();

  // Re-derives every node's output dtype and shape from its inputs, in
  // order (after a pass rewrote nodes). Throws naming the first bad node.
  void infer_shapes();
  // Checks the invariants: topological order, unique names, every input
  // defined, outputs produced. Throws naming what is wrong.
  void validate() const;
  // Removes nodes and values nothing reachable from the outputs uses;
  // renumbers ids. Returns how many nodes were removed.
  int remove_dead_nodes();

  // A copy with every symbol bound from `input_shapes` (one per graph input,
  // in order), shape computations evaluated, dynamic-parameter core ops
  // lowered and constants folded: only interface ops and views remain,
  // every shape known. A shape that contradicts the graph is an Error naming
  // the input, the dimension and both sizes.
  Graph specialize(const std::vector<Shape>& input_shapes) const;
  // The symbol bindings `input_shapes` imply (the first step of specialize),
  // with the same checks and errors.
  Bindings bind_symbols(const std::vector<Shape>& input_shapes) const;
  // Every shape known and only interface ops and views: what specialize()
  // returns and what the interpreter runs.
  bool is_static() const;

  std::string summary() const;  // one line per node: "name: op(inputs) -> outputs"

 private:
  void check_new_value_name(const std::string& name) const;
  void index_names() const;

  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<ValueId> inputs_;
  std::vector<ValueId> outputs_;
  // Name -> id, for lookups and uniqueness checks; rebuilt lazily after
  // mutable access.
  mutable std::unordered_map<std::string, ValueId> value_index_;
  mutable std::unordered_map<std::string, NodeId> node_index_;
  mutable bool index_dirty_ = false;
};

// Bytes of an ABI attribute struct, for Graph::add_node.
template <class T>
std::vector<uint8_t> abi_bytes(const T& attrs) {
  const auto* p = reinterpret_cast<const uint8_t*>(&attrs);
  return std::vector<uint8_t>(p, p + sizeof(T));
}

}  // namespace rma::graph
