// Helpers shared by the graph library's sources (not installed): attribute
// access, host tensors, symbolic dimension arithmetic, per-node shape
// inference and host evaluation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rma/error.h"
#include "rma/graph/ir.h"
#include "rma/tensor.h"

namespace rma::graph::detail {

// ------------------------------------------------------------------ errors
// "node 'fc1': <message>", with the op name as the Error's op.
[[noreturn]] void fail_node(const std::string& node, const OpKind& op, const std::string& message);
// The same as a kUnsupported Error: a valid graph asks for something the
// graph library does not do (shapes that depend on input values).
[[noreturn]] void unsupported_node(const std::string& node, const OpKind& op,
                                   const std::string& message);

// -------------------------------------------------------------- attributes
// Typed reads of core-op attributes; a missing required attribute or a value
// of the wrong type is an Error naming the node and the attribute.
struct AttrReader {
  const std::string& node;
  const OpKind& op;
  const Attributes& attrs;

  bool has(const std::string& key) const { return attrs.count(key) != 0; }
  int64_t integer(const std::string& key, std::optional<int64_t> fallback = std::nullopt) const;
  double real(const std::string& key, std::optional<double> fallback = std::nullopt) const;
  std::vector<int64_t> ints(const std::string& key,
                            std::optional<std::vector<int64_t>> fallback = std::nullopt) const;
  std::string text(const std::string& key,
                   std::optional<std::string> fallback = std::nullopt) const;
  std::optional<Tensor> tensor(const std::string& key) const;
};

// rma_reduce_kind from kReduceDynamic's "kind" attribute (int or name).
int32_t reduce_kind_attr(const AttrReader& a);
std::string_view reduce_kind_name(int32_t kind);

// ------------------------------------------------------------ host tensors
// The host CPU device: where constants live and folding runs.
const Device& host_device();
// A dense host copy of `t` (t itself when it already is one).
Tensor to_host(const Tensor& t);
// Elements of an integer (or bool) tensor / any numeric tensor.
std::vector<int64_t> tensor_ints(const Tensor& t);
std::vector<double> tensor_doubles(const Tensor& t);
Tensor host_ints(const std::vector<int64_t>& v, const Shape& shape, DType dtype = DType::kI64);
// A tensor of `dtype` from doubles (rounded to the dtype).
Tensor host_values(const std::vector<double>& v, const Shape& shape, DType dtype);
// One element, as double, when `t` holds exactly one element.
std::optional<double> scalar_value(const Tensor& t);

// --------------------------------------------------------- symbolic dims
// Dims as products of symbols with an integer coefficient ("64*seq"), so a
// reshape that merges [batch, seq] into one dim and splits it again keeps
// its symbols. Sums come out as "(a+b)"; anything else is a fresh symbol.
Dim dim_mul(const Dim& a, const Dim& b);
Dim dim_add(const Dim& a, const Dim& b);
// a / b when it divides exactly (symbolically or numerically), else nullopt.
std::optional<Dim> dim_div(const Dim& a, const Dim& b);
Dim dim_product(const SymShape& s, size_t begin, size_t end);
// A symbol standing for a size only known once the graph is specialized.
Dim fresh_dim(const std::string& value_name, int axis);
// Whether two dims are certainly different (both known and unequal).
bool dims_conflict(const Dim& a, const Dim& b);

// -------------------------------------------------------- shape inference
struct ValueType {
  DType dtype = DType::kF32;
  SymShape shape;
};

// Output types of a node that reads `inputs` of graph `g` (kNoValue for an
// absent optional input). `output_names` name the outputs (for fresh
// symbols). Uses the op schemas when every input shape is known.
std::vector<ValueType> infer_node(const Graph& g, const std::string& node, const OpKind& op,
                                  const std::vector<ValueId>& inputs,
                                  const std::vector<uint8_t>& abi_attrs, const Attributes& attrs,
                                  const std::vector<std::string>& output_names);
// How many outputs a node of `op` has (kSplit: from its attributes/inputs).
int num_outputs(const Graph& g, const std::string& node, const OpKind& op,
                const std::vector<ValueId>& inputs, const Attributes& attrs);

// ---------------------------------------------------------- host evaluation
// Runs one node on `device` (interface ops through rma::ops::run, core ops
// here) with concrete inputs (undefined Tensor for an absent one) and the
// node's output types; views alias their input.
std::vector<Tensor> eval_node(const Node& node, const std::vector<Tensor>& inputs,
                              const std::vector<ValueType>& outputs, const Device& device);

// The result of a core.shape or core.size node for an input of shape `x`.
Tensor shape_op_result(const Node& node, const Shape& x);

// Runs an interface op on the host with librma's reference implementation
// (checked by the op's schema first). Inputs on other devices are copied.
std::vector<Tensor> host_run(rma_op op, const std::vector<Tensor>& inputs,
                             const std::vector<uint8_t>& abi_attrs);

// Lowers a dynamic-parameter core op (kSliceDynamic, kExpandDynamic,
// kReduceDynamic) whose parameter inputs are constants and whose input
// shape is known, into the interface op and its ABI attributes. nullopt when
// the parameters are not (yet) constants or needed shapes are unknown.
struct Lowered {
  rma_op op;
  std::vector<uint8_t> abi_attrs;
};
std::optional<Lowered> lower_dynamic(const Graph& g, const Node& node);

// ONNX Slice parameter resolution for one axis of extent `dim`: returns
// (start, step, size) with start clamped so every index read is in range.
struct SliceAxis {
  int64_t start, step, size;
};
SliceAxis resolve_slice(int64_t dim, int64_t start, int64_t end, int64_t step);

}  // namespace rma::graph::detail
