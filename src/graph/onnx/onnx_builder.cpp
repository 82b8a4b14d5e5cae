// NodeBuilder: what an op lowering sees of its ONNX node (inputs, typed
// attributes, constant inputs) and how it adds IR nodes and constants.
#include <cstring>

#include "../graph_internal.h"
#include "onnx_internal.h"
#include "rma/half.h"

namespace rma::graph::onnx_import {
namespace {

bool is_int_dtype(DType d) {
  return d == DType::kI32 || d == DType::kI64 || d == DType::kI8 || d == DType::kBool;
}

std::string attr_type_name(int32_t t) {
  if (pb::AttributeProto_AttributeType_IsValid(t))
    return pb::AttributeProto_AttributeType_Name(static_cast<pb::AttributeProto_AttributeType>(t));
  return "type " + std::to_string(t);
}

template <class T>
T load_at(const uint8_t* p, int64_t i) {
  T v;
  std::memcpy(&v, p + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return v;
}

template <class T>
void store_at(uint8_t* p, int64_t i, T v) {
  std::memcpy(p + i * static_cast<int64_t>(sizeof(T)), &v, sizeof(T));
}

}  // namespace

std::vector<double> tensor_doubles(const Tensor& t) {
  const std::vector<uint8_t> bytes = t.to_host_bytes();
  const uint8_t* p = bytes.data();
  std::vector<double> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (t.dtype()) {
      case DType::kF32:
        out[i] = load_at<float>(p, i);
        break;
      case DType::kF16:
        out[i] = f16_to_f32(load_at<uint16_t>(p, i));
        break;
      case DType::kBF16:
        out[i] = bf16_to_f32(load_at<uint16_t>(p, i));
        break;
      case DType::kI8:
        out[i] = load_at<int8_t>(p, i);
        break;
      case DType::kBool:
        out[i] = p[i] != 0;
        break;
      case DType::kI32:
        out[i] = load_at<int32_t>(p, i);
        break;
      case DType::kI64:
        out[i] = static_cast<double>(load_at<int64_t>(p, i));
        break;
      default:
        throw Error(ErrorCode::kInvalidArgument, "a constant of dtype " +
                                                     std::string(rma::name(t.dtype())) +
                                                     " cannot be read as numbers");
    }
  }
  return out;
}

std::vector<int64_t> tensor_ints(const Tensor& t) {
  if (t.dtype() == DType::kI64) {
    const std::vector<uint8_t> bytes = t.to_host_bytes();
    std::vector<int64_t> out(static_cast<size_t>(t.numel()));
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * 8);
    return out;
  }
  std::vector<int64_t> out;
  for (double d : tensor_doubles(t)) out.push_back(static_cast<int64_t>(d));
  return out;
}

Tensor host_tensor(const std::vector<double>& v, const Shape& shape, DType dtype,
                   const Device& host) {
  const auto n = static_cast<int64_t>(v.size());
  std::vector<uint8_t> bytes(static_cast<size_t>(bytes_for(dtype, n)));
  uint8_t* p = bytes.data();
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::kF32:
        store_at(p, i, static_cast<float>(v[i]));
        break;
      case DType::kF16:
        store_at(p, i, f32_to_f16(static_cast<float>(v[i])));
        break;
      case DType::kBF16:
        store_at(p, i, f32_to_bf16(static_cast<float>(v[i])));
        break;
      case DType::kI8:
        store_at(p, i, static_cast<int8_t>(v[i]));
        break;
      case DType::kBool:
        p[i] = v[i] != 0;
        break;
      case DType::kI32:
        store_at(p, i, static_cast<int32_t>(v[i]));
        break;
      case DType::kI64:
        store_at(p, i, static_cast<int64_t>(v[i]));
        break;
      default:
        throw Error(ErrorCode::kInvalidArgument,
                    "cannot make a constant of dtype " + std::string(rma::name(dtype)));
    }
  }
  return Tensor::from_host(bytes.data(), shape, dtype, host);
}

int64_t normalize_axis(const NodeBuilder& b, int64_t axis, int64_t rank, const std::string& what) {
  if (axis < -rank || axis >= rank)
    b.fail(what + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

NodeBuilder::NodeBuilder(Model& model, const pb::NodeProto& node, std::string name)
    : model_(model), node_(node), name_(std::move(name)) {}

void NodeBuilder::fail(const std::string& message) const {
  throw Error(ErrorCode::kInvalidArgument, message);
}

void NodeBuilder::unsupported(const std::string& message) const {
  throw Error(ErrorCode::kUnsupported, message);
}

// ---------------------------------------------------------------- inputs

bool NodeBuilder::has_input(int i) const {
  return i >= 0 && i < node_.input_size() && !node_.input(i).empty();
}

ValueId NodeBuilder::input(int i) const {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is required but not given");
  return model_.values.at(node_.input(i));
}

ValueId NodeBuilder::optional_input(int i) const {
  return has_input(i) ? model_.values.at(node_.input(i)) : kNoValue;
}

std::vector<ValueId> NodeBuilder::inputs() const {
  std::vector<ValueId> out;
  for (int i = 0; i < node_.input_size(); ++i)
    if (has_input(i)) out.push_back(model_.values.at(node_.input(i)));
  return out;
}

std::optional<std::vector<int64_t>> NodeBuilder::constant_ints(ValueId v) const {
  const Value& val = value(v);
  if (!val.constant) return std::nullopt;
  if (!is_int_dtype(val.dtype))
    fail("'" + val.name + "' is " + std::string(rma::name(val.dtype)) + ", expected integers");
  return tensor_ints(*val.constant);
}

std::optional<std::vector<double>> NodeBuilder::constant_doubles(ValueId v) const {
  const Value& val = value(v);
  if (!val.constant) return std::nullopt;
  return tensor_doubles(*val.constant);
}

std::vector<int64_t> NodeBuilder::required_constant_ints(int i, const std::string& what) const {
  const ValueId v = input(i);
  auto ints = constant_ints(v);
  if (!ints)  // a valid model, but the importer needs the value at import
    unsupported(what + " (input " + std::to_string(i) + ", '" + value(v).name +
                "') must be a constant, but the graph computes it");
  return *ints;
}

// ------------------------------------------------------------ attributes

const pb::AttributeProto* NodeBuilder::find_attr(const std::string& key) const {
  for (const auto& a : node_.attribute())
    if (a.name() == key) return &a;
  return nullptr;
}

bool NodeBuilder::has_attr(const std::string& key) const { return find_attr(key) != nullptr; }

namespace {
// Old models may leave `type` unset; then the field that is set decides.
bool attr_is(const pb::AttributeProto& a, pb::AttributeProto_AttributeType t, bool field_set) {
  return a.type() == t || (a.type() == pb::AttributeProto_AttributeType_UNDEFINED && field_set);
}
}  // namespace

int64_t NodeBuilder::attr_int(const std::string& key, std::optional<int64_t> fallback) const {
  const pb::AttributeProto* a = find_attr(key);
  if (!a) {
    if (!fallback) fail("attribute '" + key + "' is required");
    return *fallback;
  }
  if (!attr_is(*a, pb::AttributeProto_AttributeType_INT, a->has_i()))
    fail("attribute '" + key + "' is " + attr_type_name(a->type()) + ", expected INT");
  return a->i();
}

float NodeBuilder::attr_float(const std::string& key, std::optional<float> fallback) const {
  const pb::AttributeProto* a = find_attr(key);
  if (!a) {
    if (!fallback) fail("attribute '" + key + "' is required");
    return *fallback;
  }
  if (!attr_is(*a, pb::AttributeProto_AttributeType_FLOAT, a->has_f()))
    fail("attribute '" + key + "' is " + attr_type_name(a->type()) + ", expected FLOAT");
  return a->f();
}

std::string NodeBuilder::attr_string(const std::string& key,
                                     std::optional<std::string> fallback) const {
  const pb::AttributeProto* a = find_attr(key);
  if (!a) {
    if (!fallback) fail("attribute '" + key + "' is required");
    return *fallback;
  }
  if (!attr_is(*a, pb::AttributeProto_AttributeType_STRING, a->has_s()))
    fail("attribute '" + key + "' is " + attr_type_name(a->type()) + ", expected STRING");
  return a->s();
}

std::vector<int64_t> NodeBuilder::attr_ints(const std::string& key,
                                            std::optional<std::vector<int64_t>> fallback) const {
  const pb::AttributeProto* a = find_attr(key);
  if (!a) {
    if (!fallback) fail("attribute '" + key + "' is required");
    return *fallback;
  }
  if (!attr_is(*a, pb::AttributeProto_AttributeType_INTS, a->ints_size() > 0))
    fail("attribute '" + key + "' is " + attr_type_name(a->type()) + ", expected INTS");
  return {a->ints().begin(), a->ints().end()};
}

std::vector<float> NodeBuilder::attr_floats(const std::string& key) const {
  const pb::AttributeProto* a = find_attr(key);
  if (!a) fail("attribute '" + key + "' is required");
  if (!attr_is(*a, pb::AttributeProto_AttributeType_FLOATS, a->floats_size() > 0))
    fail("attribute '" + key + "' is " + attr_type_name(a->type()) + ", expected FLOATS");
  return {a->floats().begin(), a->floats().end()};
}

const pb::TensorProto* NodeBuilder::attr_tensor(const std::string& key) const {
  const pb::AttributeProto* a = find_attr(key);
  if (!a) return nullptr;
  if (!attr_is(*a, pb::AttributeProto_AttributeType_TENSOR, a->has_t()))
    fail("attribute '" + key + "' is " + attr_type_name(a->type()) + ", expected TENSOR");
  return &a->t();
}

Tensor NodeBuilder::read_tensor(const pb::TensorProto& t, const std::string& what) const {
  return model_.tensors->read(t, what);
}

// --------------------------------------------------------------- outputs

bool NodeBuilder::has_output(int i) const {
  return i >= 0 && i < node_.output_size() && !node_.output(i).empty();
}

void NodeBuilder::skip_output(int i, const std::string& reason) {
  if (has_output(i))
    model_.unavailable[node_.output(i)] =
        "output " + std::to_string(i) + " of node '" + name_ + "' (" + op_type() + "): " + reason;
}

// -------------------------------------------------------------- building

// Results up to this size are folded at import; larger ones (transposed
// weights, say) are left to the optimisation passes.
constexpr uint64_t kMaxFoldBytes = 64 * 1024;

std::optional<std::vector<Tensor>> NodeBuilder::fold(const std::string& node, const OpKind& op,
                                                     const std::vector<ValueId>& inputs,
                                                     const std::vector<uint8_t>& abi,
                                                     const Attributes& attrs,
                                                     const std::vector<std::string>& names) const {
  const Graph& g = model_.graph;
  const CoreOp* core = std::get_if<CoreOp>(&op);
  const bool shape_op = core && (*core == CoreOp::kShape || *core == CoreOp::kSize);
  if (inputs.empty() || inputs[0] == kNoValue) return std::nullopt;
  if (shape_op) {
    if (!known_shape(g.value(inputs[0]).shape)) return std::nullopt;
  } else {
    for (ValueId v : inputs)
      if (v != kNoValue && !g.value(v).constant) return std::nullopt;
  }
  try {
    const std::vector<detail::ValueType> types =
        detail::infer_node(g, node, op, inputs, abi, attrs, names);
    uint64_t bytes = 0;
    for (const detail::ValueType& t : types) {
      const auto shape = known_shape(t.shape);
      if (!shape) return std::nullopt;
      bytes += bytes_for(t.dtype, rma::numel(*shape));
    }
    if (bytes > kMaxFoldBytes) return std::nullopt;
    Node n;
    n.name = node;
    n.op = op;
    n.abi_attrs = abi;
    n.attrs = attrs;
    n.inputs = inputs;
    if (shape_op)
      return std::vector<Tensor>{
          detail::shape_op_result(n, *known_shape(g.value(inputs[0]).shape))};
    std::vector<Tensor> in;
    for (ValueId v : inputs) in.push_back(v == kNoValue ? Tensor{} : *g.value(v).constant);
    return detail::eval_node(n, in, types, host());
  } catch (const Error&) {
    // Not evaluable here (or an error the graph reports the same way when
    // the node is added or run): keep the node.
    return std::nullopt;
  }
}

std::vector<ValueId> NodeBuilder::emit(const std::string& what, const OpKind& op,
                                       const std::vector<ValueId>& inputs, std::vector<uint8_t> abi,
                                       Attributes attrs) {
  Graph& g = model_.graph;
  const std::string node = g.fresh_node_name(name_ + "/" + what);
  const std::string value_name = g.fresh_value_name(node + ":0");
  if (auto folded = fold(node, op, inputs, abi, attrs, {value_name}))
    return {g.add_constant(value_name, std::move(folded->at(0)))};
  return g.add_node(node, op, inputs, std::move(abi), std::move(attrs), {value_name});
}

std::vector<ValueId> NodeBuilder::emit_outputs(const OpKind& op, const std::vector<ValueId>& inputs,
                                               std::vector<uint8_t> abi, Attributes attrs,
                                               int num_ir_outputs) {
  Graph& g = model_.graph;
  std::vector<std::string> names;
  for (int i = 0; i < num_ir_outputs; ++i)
    names.push_back(has_output(i) ? node_.output(i)
                                  : g.fresh_value_name(name_ + ":" + std::to_string(i)));
  std::vector<ValueId> out;
  if (auto folded = fold(name_, op, inputs, abi, attrs, names);
      folded && folded->size() == names.size()) {
    for (size_t i = 0; i < names.size(); ++i)
      out.push_back(g.add_constant(names[i], std::move((*folded)[i])));
  } else {
    out = g.add_node(name_, op, inputs, std::move(abi), std::move(attrs), names);
  }
  for (int i = 0; i < num_ir_outputs && i < static_cast<int>(out.size()); ++i)
    if (has_output(i)) model_.values[node_.output(i)] = out[i];
  return out;
}

void NodeBuilder::set_output(int i, ValueId v) {
  if (!has_output(i)) return;
  Graph& g = model_.graph;
  if (g.value(v).name != node_.output(i)) {
    const std::string node = g.fresh_node_name(name_ + "/output" + std::to_string(i));
    v = g.add_node(node, CoreOp::kIdentity, {v}, {}, {}, {node_.output(i)}).at(0);
  }
  model_.values[node_.output(i)] = v;
}

void NodeBuilder::define_constant_output(Tensor host_tensor) {
  if (!has_output(0)) return;
  model_.values[node_.output(0)] =
      model_.graph.add_constant(node_.output(0), std::move(host_tensor));
}

ValueId NodeBuilder::constant(const std::string& what, Tensor host_tensor) {
  Graph& g = model_.graph;
  return g.add_constant(g.fresh_value_name(name_ + "/" + what), std::move(host_tensor));
}

ValueId NodeBuilder::scalar(const std::string& what, double v, DType dtype) {
  return constant(what, host_tensor({v}, {}, dtype, host()));
}

ValueId NodeBuilder::ints(const std::string& what, const std::vector<int64_t>& v) {
  return constant(
      what, Tensor::from_host(v.data(), {static_cast<int64_t>(v.size())}, DType::kI64, host()));
}

}  // namespace rma::graph::onnx_import
