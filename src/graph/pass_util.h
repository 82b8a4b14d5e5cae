// Pattern-matching helpers for the passes (not installed).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "graph_internal.h"
#include "rma/graph/ir.h"

namespace rma::graph::pass {

// A read-only view of a graph for matching: producers and consumers.
class Matcher {
 public:
  explicit Matcher(const Graph& g) : g_(g), users_(g.consumers()) {}

  const Graph& graph() const { return g_; }
  // The node producing `v`, or nullptr for inputs and constants.
  const Node* producer(ValueId v) const;
  const std::vector<NodeId>& users(ValueId v) const { return users_.at(v); }
  // `v` is read by exactly one node and is not a graph output.
  bool single_use(ValueId v) const;
  // Every reader of `v` is one of `nodes` and `v` is not a graph output.
  bool used_only_by(ValueId v, const std::vector<const Node*>& nodes) const;
  // The one node reading `v` (nullptr unless single_use).
  const Node* only_user(ValueId v) const;

  // Op tests. Binary add/mul also match the Tier-1 add and mul.
  static bool is_binary(const Node& n, rma_binary_kind kind);
  static bool is_unary(const Node& n, rma_unary_kind kind);
  static bool is_op(const Node& n, rma_op op);
  // For a commutative binary node reading `v`: its other operand.
  static std::optional<ValueId> other_operand(const Node& n, ValueId v);

  // The single element of a constant (any shape with one element).
  std::optional<double> scalar(ValueId v) const;
  bool is_scalar(ValueId v, double want, double rel_tol = 1e-6) const;
  // A mean reduction over the last axis with keepdims (reduce or
  // reduce_dynamic with constant axes); returns its input.
  std::optional<ValueId> mean_over_last(const Node& n) const;

 private:
  const Graph& g_;
  std::vector<std::vector<NodeId>> users_;
};

// Bytes of an ABI attribute struct with struct_size/abi_version filled.
template <class T>
std::vector<uint8_t> attrs_bytes(T a) {
  a.struct_size = sizeof(T);
  a.abi_version = RMA_ABI_VERSION;
  return abi_bytes(a);
}

// Adds a node named after `base` (made unique); returns its first output.
ValueId add(Graph& g, const std::string& base, OpKind op, const std::vector<ValueId>& inputs,
            std::vector<uint8_t> abi = {}, Attributes attrs = {});
ValueId add_constant(Graph& g, const std::string& base, const Tensor& t);
ValueId add_unary(Graph& g, const std::string& base, rma_unary_kind kind, ValueId x,
                  float param0 = 0.f);
ValueId add_transpose(Graph& g, const std::string& base, ValueId x,
                      const std::vector<int32_t>& perm);

// After a pass: restore topological order, drop what became dead, and
// re-check the graph.
void finish(Graph& g);

// A reshape target that turns `from` into `to` (ONNX rules: 0 copies,
// -1 infers), or nullopt when `to` cannot be written statically.
std::optional<std::vector<int64_t>> reshape_spec(const SymShape& from, const SymShape& to);

}  // namespace rma::graph::pass
