// Pieces shared by the ONNX importer's sources (not installed): the model
// being imported, tensor decoding (onnx_tensors.cpp) and the per-node
// builder the op lowerings use (onnx_ops.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "rma/error.h"
#include "rma/graph/ir.h"
#include "rma_onnx.pb.h"

namespace rma::graph::onnx_import {

namespace pb = rma::onnx_pb;

// ------------------------------------------------------------------ files
// A read-only memory mapping of a whole file; unmapped when the last copy of
// keep_alive goes. An empty file has data == nullptr.
struct MappedFile {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  std::shared_ptr<void> keep_alive;
};
// Throws Error (kNotFound when missing) naming the path and the reason.
MappedFile map_file(const std::string& path);

// ----------------------------------------------------------------- dtypes
// ONNX element type -> the IR dtype it is imported as: doubles become f32,
// unsigned and 16-bit integers widen to i32 (u8, u16, i16) or i64 (u32, u64).
// nullopt for types the IR cannot hold (strings, complex, float8...).
std::optional<DType> import_dtype(int32_t onnx_type);
std::string onnx_type_name(int32_t onnx_type);  // "FLOAT", "STRING", "type 42"

// --------------------------------------------------------------- tensors
// Decodes TensorProtos into host tensors. Raw data that already has the
// IR dtype is wrapped without a copy (kept alive by `model_keep_alive`, or
// by the external file's mapping); external files are mapped once each.
class TensorReader {
 public:
  TensorReader(std::string data_dir, std::shared_ptr<const void> model_keep_alive, Device host);
  // `what` names the tensor in errors ("model.onnx: initializer 'w'").
  Tensor read(const pb::TensorProto& t, const std::string& what);
  const Device& host() const { return host_; }

 private:
  const MappedFile& external_file(const std::string& location, const std::string& what);

  std::string data_dir_;
  std::shared_ptr<const void> model_keep_alive_;
  Device host_;
  std::map<std::string, MappedFile> files_;
};

// ---------------------------------------------------------------- import
// The state of one import: the graph built so far and the ONNX name of every
// value defined so far.
struct Model {
  std::string source;  // file name (or the caller's name for bytes) for messages
  int64_t opset = 0;   // of the default domain
  std::map<std::string, int64_t> domain_opsets;
  Graph graph;
  std::unordered_map<std::string, ValueId> values;  // ONNX value name -> IR value
  std::unique_ptr<TensorReader> tensors;
  // Outputs the model names but the importer does not compute (e.g.
  // LayerNormalization's Mean): name -> why. Using one is an Error.
  std::map<std::string, std::string> unavailable;
};

// Lowers one ONNX node; throws Error. Set up by onnx_ops.cpp.
class NodeBuilder;
using Lowering = std::function<void(NodeBuilder&)>;
struct OpEntry {
  Lowering lower;
  int64_t since = 1;  // first default-domain opset that has the op
};
const std::unordered_map<std::string, OpEntry>& op_table();
// `table` with the vision ops added (onnx_ops_vision.cpp): Conv, pools,
// BatchNormalization.
std::unordered_map<std::string, OpEntry> with_vision_ops(
    std::unordered_map<std::string, OpEntry> table);

// What a lowering sees of its node: inputs as IR values, typed attributes,
// constant inputs, and emit() to add IR nodes (the last one, through
// emit_outputs(), producing the ONNX outputs under their ONNX names).
class NodeBuilder {
 public:
  NodeBuilder(Model& model, const pb::NodeProto& node, std::string name);

  const std::string& name() const { return name_; }
  const std::string& op_type() const { return node_.op_type(); }
  int64_t opset() const { return model_.opset; }
  Graph& graph() { return model_.graph; }

  // ------------------------------------------------------------ inputs
  int num_inputs() const { return node_.input_size(); }
  bool has_input(int i) const;          // given and not ""
  ValueId input(int i) const;           // required: an Error if absent
  ValueId optional_input(int i) const;  // kNoValue if absent
  std::vector<ValueId> inputs() const;  // every given input, in order
  const Value& value(ValueId v) const { return model_.graph.value(v); }
  int rank(ValueId v) const { return static_cast<int>(value(v).shape.size()); }
  DType dtype(ValueId v) const { return value(v).dtype; }
  // A constant input's elements: nullopt when the value is computed.
  std::optional<std::vector<int64_t>> constant_ints(ValueId v) const;
  std::optional<std::vector<double>> constant_doubles(ValueId v) const;
  // The constant input `i` as integers; an Error naming the input otherwise.
  std::vector<int64_t> required_constant_ints(int i, const std::string& what) const;

  // -------------------------------------------------------- attributes
  bool has_attr(const std::string& key) const;
  int64_t attr_int(const std::string& key, std::optional<int64_t> fallback = std::nullopt) const;
  float attr_float(const std::string& key, std::optional<float> fallback = std::nullopt) const;
  std::string attr_string(const std::string& key,
                          std::optional<std::string> fallback = std::nullopt) const;
  std::vector<int64_t> attr_ints(const std::string& key,
                                 std::optional<std::vector<int64_t>> fallback = std::nullopt) const;
  std::vector<float> attr_floats(const std::string& key) const;
  const pb::TensorProto* attr_tensor(const std::string& key) const;  // nullptr if absent
  Tensor read_tensor(const pb::TensorProto& t, const std::string& what) const;

  // ------------------------------------------------------------ outputs
  int num_outputs() const { return node_.output_size(); }
  bool has_output(int i) const;  // requested (named) by the model
  const std::string& output_name(int i) const { return node_.output(i); }

  // ------------------------------------------------------------ building
  // Adds an intermediate IR node "<node>/<what>"; returns its outputs.
  std::vector<ValueId> emit(const std::string& what, const OpKind& op,
                            const std::vector<ValueId>& inputs, std::vector<uint8_t> abi = {},
                            Attributes attrs = {});
  ValueId emit1(const std::string& what, const OpKind& op, const std::vector<ValueId>& inputs,
                std::vector<uint8_t> abi = {}, Attributes attrs = {}) {
    return emit(what, op, inputs, std::move(abi), std::move(attrs)).at(0);
  }
  // Adds the node producing the ONNX outputs (named as the model names
  // them; unrequested ones get generated names) and records them.
  // `num_ir_outputs`: how many outputs the IR op has (ONNX output i is IR
  // output i).
  std::vector<ValueId> emit_outputs(const OpKind& op, const std::vector<ValueId>& inputs,
                                    std::vector<uint8_t> abi = {}, Attributes attrs = {},
                                    int num_ir_outputs = 1);
  // Records `v` as ONNX output `i` (for outputs made without a node, e.g.
  // Constant), or copies it through an identity node when `v` already has
  // another name.
  void set_output(int i, ValueId v);
  // Defines ONNX output 0 as a constant under its ONNX name (Constant).
  void define_constant_output(Tensor host_tensor);
  // Marks ONNX output i, if the model names it, as not computed: a later use
  // is an Error carrying `reason`.
  void skip_output(int i, const std::string& reason);
  // A new constant named after the node.
  ValueId constant(const std::string& what, Tensor host_tensor);
  ValueId scalar(const std::string& what, double v, DType dtype);        // 0-d
  ValueId ints(const std::string& what, const std::vector<int64_t>& v);  // i64 1-d
  const Device& host() const { return model_.tensors->host(); }

  // An Error about this node's attribute or input (the caller adds the node
  // and op type).
  [[noreturn]] void fail(const std::string& message) const;
  // A kUnsupported Error: the model is valid but asks for something the
  // importer does not do (an attribute value, a dtype of this op).
  [[noreturn]] void unsupported(const std::string& message) const;

 private:
  const pb::AttributeProto* find_attr(const std::string& key) const;
  // The outputs of `op` evaluated on the host when every input is a constant
  // (or, for core.shape/core.size, has a known shape) and the results are
  // small; nullopt otherwise (the node is added to the graph instead).
  std::optional<std::vector<Tensor>> fold(const std::string& node, const OpKind& op,
                                          const std::vector<ValueId>& inputs,
                                          const std::vector<uint8_t>& abi, const Attributes& attrs,
                                          const std::vector<std::string>& names) const;

  Model& model_;
  const pb::NodeProto& node_;
  std::string name_;
};

// ABI attribute structs with struct_size and abi_version filled in.
template <class T>
T abi_struct() {
  T a{};
  a.struct_size = sizeof(T);
  a.abi_version = RMA_ABI_VERSION;
  return a;
}

// Elements of a host tensor as numbers (any non-quantized dtype) / integers.
std::vector<double> tensor_doubles(const Tensor& t);
std::vector<int64_t> tensor_ints(const Tensor& t);
// A host tensor of `dtype` from numbers (rounded to the dtype).
Tensor host_tensor(const std::vector<double>& v, const Shape& shape, DType dtype,
                   const Device& host);

// Normalizes `axis` (may be negative) against `rank`; an Error naming
// `what` when out of [-rank, rank).
int64_t normalize_axis(const NodeBuilder& b, int64_t axis, int64_t rank, const std::string& what);

}  // namespace rma::graph::onnx_import
