// ONNX import: the model-level walk. Parses the ModelProto, checks the
// opset, turns initializers into constants and graph inputs into IR inputs
// (dynamic axes as symbols), lowers each node through the op table
// (onnx_ops.cpp), marks the outputs and reconciles value_info shapes.
#include <limits>
#include <set>

#include "onnx_internal.h"
#include "rma/graph/onnx.h"

namespace rma::graph {
namespace onnx_import {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, message);
}

bool is_default_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

// The declared element type and shape of a graph input; dynamic axes become
// symbols (the dim_param, or "<input>.<axis>" when unnamed).
std::pair<DType, SymShape> input_type(const Model& m, const pb::ValueInfoProto& info) {
  const std::string what = m.source + ": graph input '" + info.name() + "'";
  if (!info.has_type() || !info.type().has_tensor_type())
    throw Error(ErrorCode::kUnsupported,
                what + ": only tensor inputs are supported (not sequences, maps or optionals)");
  const auto& tt = info.type().tensor_type();
  const std::optional<DType> dtype = import_dtype(tt.elem_type());
  if (!dtype)
    throw Error(ErrorCode::kUnsupported,
                what + ": element type " + onnx_type_name(tt.elem_type()) + " is not supported");
  if (!tt.has_shape())
    fail(what + ": has no shape; the importer needs every input's rank (dims may be dynamic)");
  SymShape shape;
  for (int i = 0; i < tt.shape().dim_size(); ++i) {
    const auto& d = tt.shape().dim(i);
    if (d.has_dim_value()) {
      if (d.dim_value() < 0)
        fail(what + ": dim " + std::to_string(i) + " is " + std::to_string(d.dim_value()));
      shape.push_back(Dim::of(d.dim_value()));
    } else if (!d.dim_param().empty()) {
      shape.push_back(Dim::sym(d.dim_param()));
    } else {
      shape.push_back(Dim::sym(info.name() + "." + std::to_string(i)));
    }
  }
  return {*dtype, std::move(shape)};
}

// Checks a value's inferred type against the model's declaration (a graph
// output or value_info): a conflicting dtype, rank or size is an Error; dims
// the IR left symbolic take the declared sizes.
void reconcile(Model& m, ValueId v, const pb::ValueInfoProto& info, const std::string& kind) {
  if (!info.has_type() || !info.type().has_tensor_type()) return;
  const auto& tt = info.type().tensor_type();
  Value& value = m.graph.mutable_values()[v];
  const std::string what = m.source + ": " + kind + " '" + info.name() + "'";
  if (tt.elem_type() != pb::TensorProto_DataType_UNDEFINED) {
    const std::optional<DType> declared = import_dtype(tt.elem_type());
    if (declared && *declared != value.dtype)
      fail(what + ": the model declares " + onnx_type_name(tt.elem_type()) + " (imported as " +
           std::string(rma::name(*declared)) + "), the graph computes " +
           std::string(rma::name(value.dtype)));
  }
  if (!tt.has_shape()) return;
  const auto& shape = tt.shape();
  if (shape.dim_size() != static_cast<int>(value.shape.size()))
    fail(what + ": the model declares rank " + std::to_string(shape.dim_size()) +
         ", the graph computes shape " + to_string(value.shape));
  for (int i = 0; i < shape.dim_size(); ++i) {
    if (!shape.dim(i).has_dim_value()) continue;
    const int64_t declared = shape.dim(i).dim_value();
    Dim& ours = value.shape[i];
    if (ours.known() && ours.value != declared)
      fail(what + ": the model declares dim " + std::to_string(i) + " = " +
           std::to_string(declared) + ", the graph computes shape " + to_string(value.shape));
    if (!ours.known() && declared >= 0) ours = Dim::of(declared);
  }
}

// A node name unique in the graph: the model's, else "<OpType>_<index>".
std::string node_name(const Model& m, const pb::NodeProto& node, int index) {
  std::string base =
      node.name().empty() ? node.op_type() + "_" + std::to_string(index) : node.name();
  return m.graph.fresh_node_name(base);
}

std::string describe_node(const Model& m, const pb::NodeProto& node, const std::string& name) {
  return m.source + ": node '" + name + "' (" + node.op_type() + ", opset " +
         std::to_string(m.opset) + ")";
}

void import_node(Model& m, const pb::NodeProto& node, int index) {
  const std::string name = node_name(m, node, index);
  if (!is_default_domain(node.domain())) {
    const auto it = m.domain_opsets.find(node.domain());
    const std::string version =
        it == m.domain_opsets.end() ? "not imported" : std::to_string(it->second);
    throw Error(ErrorCode::kUnsupported, m.source + ": unsupported op " + node.domain() + "." +
                                             node.op_type() + " (domain " + node.domain() +
                                             " opset " + version + ") in node '" + name + "'");
  }
  const auto& table = op_table();
  const auto entry = table.find(node.op_type());
  if (entry == table.end() || m.opset < entry->second.since)
    throw Error(ErrorCode::kUnsupported, m.source + ": unsupported op " + node.op_type() +
                                             " (opset " + std::to_string(m.opset) + ") in node '" +
                                             name + "'");
  if (node.op_type() != "Constant")
    for (int i = 0; i < node.input_size(); ++i) {
      const std::string& in = node.input(i);
      if (const auto skipped = m.unavailable.find(in); skipped != m.unavailable.end())
        throw Error(ErrorCode::kUnsupported,
                    describe_node(m, node, name) + ": input '" + in + "' is " + skipped->second);
      if (!in.empty() && !m.values.count(in))
        fail(describe_node(m, node, name) + ": input '" + in +
             "' is not defined before the node (unknown name, or the nodes are not in "
             "topological order)");
    }
  NodeBuilder builder(m, node, name);
  try {
    entry->second.lower(builder);
  } catch (const Error& e) {
    throw Error(e.code(), describe_node(m, node, name) + ": " + e.what());
  }
  for (int i = 0; i < node.output_size(); ++i)
    if (!node.output(i).empty() && !m.values.count(node.output(i)) &&
        !m.unavailable.count(node.output(i)))
      throw Error(ErrorCode::kUnsupported, describe_node(m, node, name) + ": output " +
                                               std::to_string(i) + " ('" + node.output(i) +
                                               "') is not supported by the importer");
}

Graph import_model(std::shared_ptr<pb::ModelProto> proto, const std::string& source,
                   const std::string& data_dir, const OnnxImportOptions& options) {
  Model m;
  m.source = source;
  if (!proto->has_graph()) fail(source + ": the model has no graph");
  bool have_default = false;
  for (const auto& op : proto->opset_import()) {
    if (is_default_domain(op.domain())) {
      m.opset = op.version();
      have_default = true;
    } else {
      m.domain_opsets[op.domain()] = op.version();
    }
  }
  if (!have_default)
    throw Error(ErrorCode::kUnsupported,
                source +
                    ": the model imports no opset of the default ONNX domain (only that "
                    "domain is supported)");
  if (m.opset < kOnnxMinOpset || m.opset > kOnnxMaxOpset)
    throw Error(ErrorCode::kUnsupported, source + ": opset " + std::to_string(m.opset) +
                                             " is not supported (" + std::to_string(kOnnxMinOpset) +
                                             " to " + std::to_string(kOnnxMaxOpset) + ")");
  m.tensors = std::make_unique<TensorReader>(data_dir, proto, Runtime::get().device("cpu"));
  const pb::GraphProto& g = proto->graph();

  if (g.sparse_initializer_size() > 0)
    throw Error(ErrorCode::kUnsupported, source + ": sparse initializers are not supported ('" +
                                             g.sparse_initializer(0).values().name() + "')");
  std::set<std::string> initializer_names;
  for (const auto& init : g.initializer()) {
    if (init.name().empty()) fail(source + ": an initializer has no name");
    if (!initializer_names.insert(init.name()).second)
      fail(source + ": initializer '" + init.name() + "' is defined twice");
    Tensor t = m.tensors->read(init, source + ": initializer '" + init.name() + "'");
    m.values[init.name()] = m.graph.add_constant(init.name(), std::move(t));
  }
  // Inputs that are also initializers are constants (IR version < 4 lists
  // every weight as an input).
  for (const auto& in : g.input()) {
    if (initializer_names.count(in.name())) continue;
    if (m.values.count(in.name()))
      fail(source + ": graph input '" + in.name() + "' is listed twice");
    auto [dtype, shape] = input_type(m, in);
    try {
      m.values[in.name()] = m.graph.add_input(in.name(), dtype, std::move(shape));
    } catch (const Error& e) {
      throw Error(e.code(), source + ": " + e.what());
    }
  }

  for (int i = 0; i < g.node_size(); ++i) import_node(m, g.node(i), i);

  if (g.output_size() == 0) fail(source + ": the graph has no outputs");
  for (const auto& out : g.output()) {
    if (const auto skipped = m.unavailable.find(out.name()); skipped != m.unavailable.end())
      throw Error(ErrorCode::kUnsupported,
                  source + ": graph output '" + out.name() + "' is " + skipped->second);
    const auto it = m.values.find(out.name());
    if (it == m.values.end())
      fail(source + ": graph output '" + out.name() + "' is not produced by any node");
    m.graph.mark_output(it->second);
  }
  if (options.use_value_info) {
    for (const auto& info : g.value_info()) {
      const auto it = m.values.find(info.name());
      if (it != m.values.end()) reconcile(m, it->second, info, "value");
    }
    for (const auto& out : g.output()) reconcile(m, m.values.at(out.name()), out, "graph output");
  }
  m.graph.validate();
  return std::move(m.graph);
}

std::string parent_folder(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Graph import_bytes(const void* data, size_t size, const std::string& source,
                   const std::string& data_dir, const OnnxImportOptions& options) {
  if (size == 0) fail(source + ": empty file, not an ONNX model");
  if (size > static_cast<size_t>(std::numeric_limits<int>::max()))
    fail(source + ": " + std::to_string(size) +
         " bytes is over protobuf's 2 GiB limit (keep large weights as external data)");
  auto proto = std::make_shared<pb::ModelProto>();
  if (!proto->ParseFromArray(data, static_cast<int>(size)))
    fail(source + ": not a valid ONNX model (the protobuf is truncated or corrupt)");
  return import_model(std::move(proto), source, data_dir, options);
}

}  // namespace
}  // namespace onnx_import

Graph import_onnx(const std::string& path, const OnnxImportOptions& options) {
  const onnx_import::MappedFile file = onnx_import::map_file(path);
  const std::string dir = options.external_data_dir.empty() ? onnx_import::parent_folder(path)
                                                            : options.external_data_dir;
  return onnx_import::import_bytes(file.data, file.size, path, dir, options);
}

Graph import_onnx_bytes(const void* data, size_t size, const OnnxImportOptions& options,
                        const std::string& source_name) {
  return onnx_import::import_bytes(data, size, source_name, options.external_data_dir, options);
}

}  // namespace rma::graph
