// Encoding and checked decoding of graphs and placements for the .rmx plan
// (plan_format.h; docs/compiler.md has the layout).
#include "plan_format.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>

#include "rma/error.h"
#include "rma/ops.h"

namespace rma::compile::detail {
namespace {

using graph::CoreOp;
using graph::Dim;
using graph::Graph;
using graph::Node;
using graph::NodeId;
using graph::OpKind;
using graph::SymShape;
using graph::Value;
using graph::ValueId;

// Tags of the AttrValue alternatives, in the variant's order.
enum AttrTag : uint8_t { kInt = 0, kDouble, kString, kInts, kDoubles, kTensor, kTagCount };
static_assert(std::variant_size_v<graph::AttrValue> == kTagCount);

constexpr CoreOp kLastCoreOp = CoreOp::kTile;
// Sizes that no sane plan exceeds; they keep a damaged count from asking for
// absurd allocations before the bounds check catches it.
constexpr size_t kMaxDevices = 64;
constexpr int64_t kMaxElements = int64_t(1) << 50;

Device host_cpu() { return Runtime::get().device("cpu"); }

// ------------------------------------------------------------- op kinds
std::optional<OpKind> parse_op_kind(const std::string& name) {
  if (name.rfind("core.", 0) == 0) {
    for (int i = 0; i <= static_cast<int>(kLastCoreOp); ++i)
      if ("core." + std::string(graph::core_op_name(static_cast<CoreOp>(i))) == name)
        return OpKind{static_cast<CoreOp>(i)};
    return std::nullopt;
  }
  if (const std::optional<rma_op> op = parse_op(name)) return OpKind{*op};
  return std::nullopt;
}

// ------------------------------------------------------------- shapes
void write_sym_shape(ByteWriter& w, const SymShape& s) {
  w.count(s.size());
  for (const Dim& d : s) {
    w.i64(d.known() ? d.value : -1);
    if (!d.known()) w.str(d.symbol);
  }
}

SymShape read_sym_shape(ByteReader& r) {
  const size_t at = r.offset();
  const size_t rank = r.count("shape rank", 8);
  if (rank > RMA_MAX_DIMS)
    r.fail("shape rank " + std::to_string(rank) + ", at most " + std::to_string(RMA_MAX_DIMS), at);
  SymShape s;
  for (size_t i = 0; i < rank; ++i) {
    const size_t dim_at = r.offset();
    const int64_t v = r.i64("dimension");
    if (v >= 0) {
      s.push_back(Dim::of(v));
    } else if (v == -1) {
      std::string symbol = r.str("dimension symbol");
      if (symbol.empty()) r.fail("a symbolic dimension without a name", dim_at);
      s.push_back(Dim::sym(std::move(symbol)));
    } else {
      r.fail("dimension " + std::to_string(v) + " is neither a size nor -1 (a symbol)", dim_at);
    }
  }
  return s;
}

void write_shape(ByteWriter& w, const Shape& s) {
  w.count(s.size());
  for (int64_t d : s) w.i64(d);
}

// A concrete shape with its element count checked against overflow.
Shape read_shape(ByteReader& r, int64_t* elements) {
  const size_t at = r.offset();
  const size_t rank = r.count("shape rank", 8);
  if (rank > RMA_MAX_DIMS)
    r.fail("shape rank " + std::to_string(rank) + ", at most " + std::to_string(RMA_MAX_DIMS), at);
  Shape s;
  int64_t n = 1;
  for (size_t i = 0; i < rank; ++i) {
    const int64_t d = r.i64("dimension");
    if (d < 0 || (d > 0 && n > kMaxElements / d))
      r.fail("dimension " + std::to_string(d) + " of a tensor shape is out of range", at);
    n *= d;
    s.push_back(d);
  }
  *elements = n;
  return s;
}

DType read_dtype(ByteReader& r) {
  const size_t at = r.offset();
  const uint32_t dt = r.u32("dtype");
  if (!is_valid(static_cast<int32_t>(dt))) r.fail("unknown dtype " + std::to_string(dt), at);
  return static_cast<DType>(dt);
}

// Bytes a dense `dtype`[`shape`] occupies, or fails when the shape does not
// fit the dtype's blocks.
uint64_t dense_bytes(ByteReader& r, DType dtype, const Shape& shape, int64_t elements, size_t at) {
  if (is_quantized(dtype) && (shape.empty() || shape.back() % block_elems(dtype) != 0))
    r.fail(std::string(name(dtype)) + " tensor of shape " + rma::to_string(shape) +
               ": the last dimension must be a multiple of " + std::to_string(block_elems(dtype)),
           at);
  return static_cast<uint64_t>(bytes_for(dtype, elements));
}

// ------------------------------------------------------------- attributes
void write_attrs(ByteWriter& w, const graph::Attributes& attrs) {
  w.count(attrs.size());
  for (const auto& [key, value] : attrs) {
    w.str(key);
    w.u8(static_cast<uint8_t>(value.index()));
    switch (value.index()) {
      case kInt:
        w.i64(std::get<int64_t>(value));
        break;
      case kDouble:
        w.f64(std::get<double>(value));
        break;
      case kString:
        w.str(std::get<std::string>(value));
        break;
      case kInts: {
        const auto& v = std::get<std::vector<int64_t>>(value);
        w.count(v.size());
        for (int64_t x : v) w.i64(x);
        break;
      }
      case kDoubles: {
        const auto& v = std::get<std::vector<double>>(value);
        w.count(v.size());
        for (double x : v) w.f64(x);
        break;
      }
      case kTensor: {
        const Tensor& t = std::get<Tensor>(value);
        w.u32(static_cast<uint32_t>(t.dtype()));
        write_shape(w, t.shape());
        w.bytes(t.to_host_bytes());
        break;
      }
    }
  }
}

graph::Attributes read_attrs(ByteReader& r) {
  graph::Attributes attrs;
  const size_t n = r.count("attribute count", 5);
  for (size_t i = 0; i < n; ++i) {
    const size_t at = r.offset();
    std::string key = r.str("attribute name");
    if (attrs.count(key)) r.fail("attribute '" + key + "' appears twice", at);
    const size_t tag_at = r.offset();
    const uint8_t tag = r.u8("attribute type");
    graph::AttrValue value;
    switch (tag) {
      case kInt:
        value = r.i64("int attribute");
        break;
      case kDouble:
        value = r.f64("float attribute");
        break;
      case kString:
        value = r.str("string attribute");
        break;
      case kInts: {
        std::vector<int64_t> v(r.count("int list length", 8));
        for (int64_t& x : v) x = r.i64("int list element");
        value = std::move(v);
        break;
      }
      case kDoubles: {
        std::vector<double> v(r.count("float list length", 8));
        for (double& x : v) x = r.f64("float list element");
        value = std::move(v);
        break;
      }
      case kTensor: {
        const size_t tensor_at = r.offset();
        const DType dtype = read_dtype(r);
        int64_t elements = 0;
        const Shape shape = read_shape(r, &elements);
        const uint64_t want = dense_bytes(r, dtype, shape, elements, tensor_at);
        const std::span<const uint8_t> data = r.bytes("tensor attribute data");
        if (data.size() != want)
          r.fail("tensor attribute '" + key + "' holds " + std::to_string(data.size()) +
                     " bytes, its " + std::string(name(dtype)) + rma::to_string(shape) + " needs " +
                     std::to_string(want),
                 tensor_at);
        value = Tensor::from_host(data.data(), shape, dtype, host_cpu());
        break;
      }
      default:
        r.fail("attribute '" + key + "' has unknown type tag " + std::to_string(tag), tag_at);
    }
    attrs.emplace(std::move(key), std::move(value));
  }
  return attrs;
}

// Runs a Graph call that checks its arguments, naming where in the plan the
// record it rebuilds starts when it refuses.
template <class F>
auto rebuild(ByteReader& r, size_t at, const std::string& what, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    r.fail(what + ": " + e.what(), at);
  }
}

}  // namespace

// ------------------------------------------------------------- writer
void ByteWriter::u32(uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void ByteWriter::u64(uint64_t v) {
  for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void ByteWriter::f64(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  u64(bits);
}

void ByteWriter::count(size_t n) {
  if (n > UINT32_MAX)
    throw Error(ErrorCode::kInvalidArgument,
                "plan: " + std::to_string(n) + " elements do not fit a plan list");
  u32(static_cast<uint32_t>(n));
}

void ByteWriter::str(const std::string& s) {
  count(s.size());
  bytes_.insert(bytes_.end(), s.begin(), s.end());
}

void ByteWriter::bytes(std::span<const uint8_t> b) {
  u64(b.size());
  bytes_.insert(bytes_.end(), b.begin(), b.end());
}

// ------------------------------------------------------------- reader
ByteReader::ByteReader(std::span<const uint8_t> data, std::string artifact, std::string section)
    : data_(data), artifact_(std::move(artifact)), section_(std::move(section)) {}

void ByteReader::fail(const std::string& what, size_t at) const {
  throw Error(ErrorCode::kInvalidArgument,
              artifact_ + ": section '" + section_ + "', byte " + std::to_string(at) + ": " + what);
}

const uint8_t* ByteReader::take(size_t n, const char* what) {
  if (n > data_.size() - pos_)
    fail(std::string(what) + " needs " + std::to_string(n) + " bytes, only " +
         std::to_string(data_.size() - pos_) + " remain (truncated)");
  const uint8_t* p = data_.data() + pos_;
  pos_ += n;
  return p;
}

uint8_t ByteReader::u8(const char* what) { return *take(1, what); }

uint32_t ByteReader::u32(const char* what) {
  const uint8_t* p = take(4, what);
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(p[i]) << (8 * i);
  return v;
}

uint64_t ByteReader::u64(const char* what) {
  const uint8_t* p = take(8, what);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

double ByteReader::f64(const char* what) {
  const uint64_t bits = u64(what);
  double v;
  std::memcpy(&v, &bits, 8);
  return v;
}

size_t ByteReader::count(const char* what, size_t min_element_bytes) {
  const size_t at = pos_;
  const size_t n = u32(what);
  const size_t remaining = data_.size() - pos_;
  if (min_element_bytes > 0 && n > remaining / min_element_bytes)
    fail(std::string(what) + " " + std::to_string(n) + " cannot fit the " +
             std::to_string(remaining) + " bytes that remain",
         at);
  return n;
}

std::string ByteReader::str(const char* what) {
  const size_t n = count(what, 1);
  const uint8_t* p = take(n, what);
  return std::string(reinterpret_cast<const char*>(p), n);
}

std::span<const uint8_t> ByteReader::bytes(const char* what) {
  const size_t at = pos_;
  const uint64_t n = u64(what);
  if (n > data_.size() - pos_)
    fail(std::string(what) + ": " + std::to_string(n) + " bytes, only " +
             std::to_string(data_.size() - pos_) + " remain (truncated)",
         at);
  const uint8_t* p = take(static_cast<size_t>(n), what);
  return {p, static_cast<size_t>(n)};
}

// ------------------------------------------------------------- weights
uint64_t WeightsLayout::add(const Tensor& constant) {
  const Tensor t = constant.is_contiguous() ? constant : constant.contiguous();
  const uint64_t nbytes = t.nbytes();
  const void* address = t.host_data();
  if (address) {
    const auto it = by_address_.find({address, nbytes});
    if (it != by_address_.end()) return it->second;
  }
  const uint64_t offset = (size_ + kWeightAlignment - 1) / kWeightAlignment * kWeightAlignment;
  slots_.push_back({t, offset});
  if (address) by_address_.emplace(std::make_pair(address, nbytes), offset);
  size_ = offset + nbytes;
  return offset;
}

std::vector<uint8_t> WeightsLayout::bytes() const {
  std::vector<uint8_t> out(size_, 0);
  for (const Slot& s : slots_) {
    if (s.tensor.nbytes() == 0) continue;
    if (const void* p = s.tensor.host_data())
      std::memcpy(out.data() + s.offset, p, s.tensor.nbytes());
    else
      s.tensor.copy_to_host(out.data() + s.offset);
  }
  return out;
}

// ------------------------------------------------------------- graphs
// Layout: inputs (name, dtype, shape), constants (name, dtype, shape,
// weights offset, size), nodes (name, op, ABI attributes, core attributes,
// input ids, outputs as name, dtype, shape), output ids. Ids count inputs,
// then constants, then node outputs in order.
void write_graph(ByteWriter& w, const Graph& g, WeightsLayout& weights) {
  const std::vector<Value>& values = g.values();
  std::vector<ValueId> id(values.size(), graph::kNoValue);
  ValueId next = 0;
  const auto mapped = [&](ValueId v) {
    if (v == graph::kNoValue) return graph::kNoValue;
    if (id.at(v) == graph::kNoValue)
      throw Error(ErrorCode::kInternal,
                  "plan: value '" + values.at(v).name + "' is read before it is defined");
    return id[v];
  };

  w.count(g.inputs().size());
  for (ValueId v : g.inputs()) {
    id.at(v) = next++;
    w.str(values[v].name);
    w.u32(static_cast<uint32_t>(values[v].dtype));
    write_sym_shape(w, values[v].shape);
  }
  size_t constants = 0;
  for (const Value& v : values) constants += v.constant.has_value();
  w.count(constants);
  for (size_t v = 0; v < values.size(); ++v) {
    if (!values[v].constant) continue;
    id[v] = next++;
    const Tensor& t = *values[v].constant;
    w.str(values[v].name);
    w.u32(static_cast<uint32_t>(t.dtype()));
    write_shape(w, t.shape());
    w.u64(weights.add(t));
    w.u64(t.nbytes());
  }
  w.count(g.nodes().size());
  for (const Node& n : g.nodes()) {
    w.str(n.name);
    w.str(graph::op_kind_name(n.op));
    w.bytes(n.abi_attrs);
    write_attrs(w, n.attrs);
    w.count(n.inputs.size());
    for (ValueId v : n.inputs) w.i32(mapped(v));
    w.count(n.outputs.size());
    for (ValueId v : n.outputs) {
      id.at(v) = next++;
      w.str(values[v].name);
      w.u32(static_cast<uint32_t>(values[v].dtype));
      write_sym_shape(w, values[v].shape);
    }
  }
  if (next != static_cast<ValueId>(values.size()))
    throw Error(ErrorCode::kInternal,
                "plan: the graph has values that are neither inputs, "
                "constants nor node outputs");
  w.count(g.outputs().size());
  for (ValueId v : g.outputs()) w.i32(mapped(v));
}

Graph read_graph(ByteReader& r, const WeightsSource& weights) {
  Graph g;
  const Device host = host_cpu();
  // Shapes as stored (symbols named as at compile time), applied once at
  // the end: setting them one by one would re-index the graph every node.
  std::vector<std::pair<ValueId, SymShape>> stored_shapes;

  const size_t inputs = r.count("input count", 12);
  for (size_t i = 0; i < inputs; ++i) {
    const size_t at = r.offset();
    std::string name = r.str("input name");
    const DType dtype = read_dtype(r);
    SymShape shape = read_sym_shape(r);
    rebuild(r, at, "input '" + name + "'", [&] { return g.add_input(name, dtype, shape); });
  }

  const size_t constants = r.count("constant count", 28);
  for (size_t i = 0; i < constants; ++i) {
    const size_t at = r.offset();
    std::string name = r.str("constant name");
    const DType dtype = read_dtype(r);
    int64_t elements = 0;
    const Shape shape = read_shape(r, &elements);
    const uint64_t offset = r.u64("constant offset");
    const uint64_t size = r.u64("constant size");
    const uint64_t want = dense_bytes(r, dtype, shape, elements, at);
    if (size != want)
      r.fail("constant '" + name + "' is " + std::to_string(size) + " bytes, its " +
                 std::string(rma::name(dtype)) + rma::to_string(shape) + " needs " +
                 std::to_string(want),
             at);
    if (offset > weights.bytes.size() || size > weights.bytes.size() - offset)
      r.fail("constant '" + name + "' spans weights bytes " + std::to_string(offset) + " to " +
                 std::to_string(offset + size) + ", but the weights section has " +
                 std::to_string(weights.bytes.size()),
             at);
    // A read-only mapping: constants are inputs of ops, never written.
    void* data = const_cast<uint8_t*>(weights.bytes.data() + offset);
    rebuild(r, at, "constant '" + name + "'", [&] {
      return g.add_constant(name, Tensor::wrap_host(data, shape, dtype, host, weights.keep_alive));
    });
  }

  const size_t nodes = r.count("node count", 25);
  for (size_t i = 0; i < nodes; ++i) {
    const size_t at = r.offset();
    std::string name = r.str("node name");
    const std::string op_name = r.str("op name");
    const std::optional<OpKind> op = parse_op_kind(op_name);
    if (!op) r.fail("node '" + name + "': unknown op '" + op_name + "'", at);
    const std::span<const uint8_t> abi = r.bytes("ABI attributes");
    graph::Attributes attrs = read_attrs(r);
    std::vector<ValueId> ins(r.count("node input count", 4));
    for (ValueId& v : ins) {
      v = r.i32("node input id");
      if (v != graph::kNoValue && (v < 0 || v >= static_cast<ValueId>(g.values().size())))
        r.fail("node '" + name + "' reads value id " + std::to_string(v) + ", which is not " +
                   "defined before it",
               at);
    }
    const size_t outputs = r.count("node output count", 12);
    std::vector<std::string> names;
    std::vector<std::pair<DType, SymShape>> types;
    for (size_t o = 0; o < outputs; ++o) {
      names.push_back(r.str("output name"));
      const DType dtype = read_dtype(r);
      types.emplace_back(dtype, read_sym_shape(r));
    }
    const std::vector<ValueId> ids = rebuild(r, at, "node '" + name + "'", [&] {
      return g.add_node(name, *op, ins, std::vector<uint8_t>(abi.begin(), abi.end()),
                        std::move(attrs), names);
    });
    if (ids.size() != names.size())
      r.fail("node '" + name + "' has " + std::to_string(names.size()) +
                 " outputs stored, its op " + op_name + " gives " + std::to_string(ids.size()),
             at);
    for (size_t o = 0; o < ids.size(); ++o) {
      const Value& v = g.values()[ids[o]];
      if (v.dtype != types[o].first)
        r.fail("node '" + name + "' output '" + v.name + "' is stored as " +
                   std::string(rma::name(types[o].first)) + ", but the op gives " +
                   std::string(rma::name(v.dtype)),
               at);
      const std::optional<Shape> inferred = graph::known_shape(v.shape);
      if (inferred && graph::sym_shape(*inferred) != types[o].second)
        r.fail("node '" + name + "' output '" + v.name + "' is stored as " +
                   graph::to_string(types[o].second) + ", but the op gives " +
                   rma::to_string(*inferred),
               at);
      stored_shapes.emplace_back(ids[o], std::move(types[o].second));
    }
  }

  const size_t outputs = r.count("output count", 4);
  for (size_t i = 0; i < outputs; ++i) {
    const size_t at = r.offset();
    const ValueId v = r.i32("output id");
    if (v < 0 || v >= static_cast<ValueId>(g.values().size()))
      r.fail("graph output id " + std::to_string(v) + " is not a value", at);
    g.mark_output(v);
  }
  if (!stored_shapes.empty()) {
    std::vector<Value>& values = g.mutable_values();
    for (auto& [v, shape] : stored_shapes) values[v].shape = std::move(shape);
  }
  rebuild(r, r.offset(), "graph", [&] {
    g.validate();
    return 0;
  });
  return g;
}

Graph canonical(const Graph& g) {
  Graph out;
  const std::vector<Value>& values = g.values();
  std::vector<ValueId> id(values.size(), graph::kNoValue);
  const auto mapped = [&](ValueId v) { return v == graph::kNoValue ? v : id.at(v); };
  for (ValueId v : g.inputs())
    id[v] = out.add_input(values[v].name, values[v].dtype, values[v].shape);
  for (size_t v = 0; v < values.size(); ++v)
    if (values[v].constant) id[v] = out.add_constant(values[v].name, *values[v].constant);
  for (const Node& n : g.nodes()) {
    std::vector<ValueId> ins;
    for (ValueId v : n.inputs) ins.push_back(mapped(v));
    std::vector<std::string> names;
    for (ValueId v : n.outputs) names.push_back(values[v].name);
    const std::vector<ValueId> outs = out.add_node(n.name, n.op, ins, n.abi_attrs, n.attrs, names);
    for (size_t i = 0; i < outs.size(); ++i) id[n.outputs[i]] = outs[i];
  }
  for (ValueId v : g.outputs()) out.mark_output(mapped(v));
  std::vector<Value>& copied = out.mutable_values();
  for (size_t v = 0; v < values.size(); ++v)
    if (id[v] != graph::kNoValue) copied[id[v]].shape = values[v].shape;
  return out;
}

// ------------------------------------------------------------- placement
// Layout: device names, host index, outputs_on_host, per node (node id,
// name, op, device, fallback, reason, cost, subgraph, declined), value
// devices, copies (value, name, from, to, bytes), steps (kind, index),
// constant upload bytes per device, estimated time, warning.
void write_placement(ByteWriter& w, const graph::Placement& p) {
  w.count(p.devices.size());
  for (const Device& d : p.devices) w.str(d.name());
  w.i32(p.host);
  w.u8(p.outputs_on_host ? 1 : 0);
  w.count(p.nodes.size());
  for (const graph::NodePlacement& n : p.nodes) {
    w.i32(n.node);
    w.str(n.name);
    w.str(n.op);
    w.i32(n.device);
    w.u8(n.fallback ? 1 : 0);
    w.str(n.reason);
    w.f64(n.cost_us);
    w.i32(n.subgraph);
    w.count(n.declined.size());
    for (const std::string& s : n.declined) w.str(s);
  }
  w.count(p.value_device.size());
  for (int d : p.value_device) w.i32(d);
  w.count(p.copies.size());
  for (const graph::Transfer& t : p.copies) {
    w.i32(t.value);
    w.str(t.value_name);
    w.i32(t.from);
    w.i32(t.to);
    w.u64(t.bytes);
  }
  w.count(p.steps.size());
  for (const graph::Step& s : p.steps) {
    w.u8(static_cast<uint8_t>(s.kind));
    w.i32(s.index);
  }
  w.count(p.constant_upload_bytes.size());
  for (uint64_t b : p.constant_upload_bytes) w.u64(b);
  w.f64(p.estimated_us);
  w.str(p.warning);
}

namespace {

// Re-derives the value homes, copies and steps partition() makes from the
// node assignments and fails at the first difference from what was stored.
void check_placement(ByteReader& r, size_t at, const Graph& g, const graph::Placement& p) {
  const auto bad = [&](const std::string& what) { r.fail("placement: " + what, at); };
  const auto& values = g.values();
  const auto& nodes = g.nodes();
  const int num_devices = static_cast<int>(p.devices.size());
  if (p.nodes.size() != nodes.size())
    bad(std::to_string(p.nodes.size()) + " nodes placed, the graph has " +
        std::to_string(nodes.size()));
  if (p.value_device.size() != values.size())
    bad(std::to_string(p.value_device.size()) + " value homes, the graph has " +
        std::to_string(values.size()) + " values");
  if (p.constant_upload_bytes.size() != p.devices.size())
    bad("upload sizes for " + std::to_string(p.constant_upload_bytes.size()) + " devices, " +
        std::to_string(num_devices) + " devices listed");

  std::vector<int> home(values.size(), -1);
  std::vector<std::vector<bool>> available(values.size(), std::vector<bool>(num_devices, false));
  for (size_t v = 0; v < values.size(); ++v)
    if (values[v].constant) home[v] = graph::kStatic;
  for (ValueId v : g.inputs()) {
    home[v] = p.host;
    available[v][p.host] = true;
  }
  const std::set<ValueId> graph_outputs(g.outputs().begin(), g.outputs().end());
  std::vector<graph::Transfer> copies;
  std::vector<graph::Step> steps;
  const auto add_copy = [&](ValueId v, int from, int to) {
    steps.push_back({graph::Step::Kind::kCopy, static_cast<int>(copies.size())});
    copies.push_back({v, values[v].name, from, to, 0});
    available[v][to] = true;
  };
  const auto copy_results_home = [&](const Node& n, int d) {
    if (!p.outputs_on_host || d == p.host) return;
    for (ValueId o : n.outputs)
      if (graph_outputs.count(o) && !available[o][p.host]) add_copy(o, d, p.host);
  };

  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    const graph::NodePlacement& np = p.nodes[i];
    const std::string who = "node " + std::to_string(i) + " ('" + n.name + "')";
    if (np.node != static_cast<NodeId>(i) || np.name != n.name)
      bad(who + " is stored as node " + std::to_string(np.node) + " ('" + np.name + "')");
    if (!n.is_interface_op()) {
      if (!graph::is_view_op(n.op) || n.inputs.empty() || n.inputs[0] == graph::kNoValue)
        bad(who + " is " + graph::op_kind_name(n.op) + ", which a static plan cannot run");
      const int d = home[n.inputs[0]];
      for (ValueId o : n.outputs) home[o] = d;
      if (d == graph::kStatic) {
        if (np.device != -1) bad(who + ": a view of a constant runs on no device");
        continue;
      }
      if (np.device != d)
        bad(who + ": a view runs where its input is (device " + std::to_string(d) +
            "), not on device " + std::to_string(np.device));
      steps.push_back({graph::Step::Kind::kNode, static_cast<int>(i)});
      for (ValueId o : n.outputs) available[o][d] = true;
      copy_results_home(n, d);
      continue;
    }
    const int d = np.device;
    if (d < 0 || d >= num_devices)
      bad(who + " is on device " + std::to_string(d) + ", but " + std::to_string(num_devices) +
          " devices are listed");
    std::set<ValueId> seen;
    for (ValueId v : n.inputs)
      if (v != graph::kNoValue && home[v] != graph::kStatic && seen.insert(v).second &&
          !available[v][d])
        add_copy(v, home[v], d);
    steps.push_back({graph::Step::Kind::kNode, static_cast<int>(i)});
    for (ValueId o : n.outputs) {
      home[o] = d;
      available[o][d] = true;
    }
    copy_results_home(n, d);
  }

  for (size_t v = 0; v < values.size(); ++v)
    if (p.value_device[v] != home[v])
      bad("value '" + values[v].name + "' is stored on device " +
          std::to_string(p.value_device[v]) + ", its producer puts it on " +
          std::to_string(home[v]));
  if (p.copies.size() != copies.size())
    bad(std::to_string(p.copies.size()) + " copies stored, the node assignments need " +
        std::to_string(copies.size()));
  for (size_t c = 0; c < copies.size(); ++c) {
    const graph::Transfer& s = p.copies[c];
    const graph::Transfer& e = copies[c];
    const Shape shape = *graph::known_shape(values[e.value].shape);
    if (s.value != e.value || s.from != e.from || s.to != e.to || s.value_name != e.value_name ||
        s.bytes != static_cast<uint64_t>(bytes_for(values[e.value].dtype, numel(shape))))
      bad("copy " + std::to_string(c) + " differs from the copy of '" + e.value_name +
          "' from device " + std::to_string(e.from) + " to " + std::to_string(e.to) +
          " the node assignments need");
  }
  if (p.steps.size() != steps.size())
    bad(std::to_string(p.steps.size()) + " steps stored, the node assignments give " +
        std::to_string(steps.size()));
  for (size_t s = 0; s < steps.size(); ++s)
    if (p.steps[s].kind != steps[s].kind || p.steps[s].index != steps[s].index)
      bad("step " + std::to_string(s) + " differs from the order the node assignments give");
}

}  // namespace

graph::Placement read_placement(ByteReader& r, const Graph& specialized, const Device& target) {
  const size_t start = r.offset();
  graph::Placement p;
  const size_t num_devices = r.count("device count", 4);
  if (num_devices == 0 || num_devices > kMaxDevices)
    r.fail("placement lists " + std::to_string(num_devices) + " devices, expected 1 to " +
               std::to_string(kMaxDevices),
           start);
  std::vector<std::string> names;
  for (size_t i = 0; i < num_devices; ++i) names.push_back(r.str("device name"));
  const size_t host_at = r.offset();
  p.host = r.i32("host device index");
  if (p.host < 0 || p.host >= static_cast<int>(num_devices))
    r.fail("host device index " + std::to_string(p.host) + " is not one of the " +
               std::to_string(num_devices) + " devices",
           host_at);
  // The compile target is device 0; the host CPU and any other device are
  // looked up by name here.
  const Device host = host_cpu();
  for (size_t i = 0; i < num_devices; ++i) {
    Device d;
    if (i == 0) {
      d = target;
    } else if (static_cast<int>(i) == p.host) {
      d = host;
    } else {
      try {
        d = Runtime::get().device(names[i]);
      } catch (const Error& e) {
        r.fail("the plan runs on device '" + names[i] + "': " + e.what(), start);
      }
    }
    if (static_cast<int>(i) == p.host && d != host)
      r.fail("device " + std::to_string(i) + " ('" + names[i] + "') is the host CPU in the plan, " +
                 "but it is bound to " + d.name(),
             start);
    for (const Device& other : p.devices)
      if (other == d) r.fail("device " + d.name() + " appears twice in the placement", start);
    p.devices.push_back(d);
  }
  p.outputs_on_host = r.u8("outputs_on_host") != 0;

  const size_t nodes = r.count("placed node count", 26);
  for (size_t i = 0; i < nodes; ++i) {
    graph::NodePlacement n;
    n.node = r.i32("node id");
    n.name = r.str("node name");
    n.op = r.str("node op");
    n.device = r.i32("node device");
    n.fallback = r.u8("fallback") != 0;
    n.reason = r.str("reason");
    n.cost_us = r.f64("cost");
    n.subgraph = r.i32("subgraph");
    const size_t declined = r.count("declined count", 4);
    for (size_t k = 0; k < declined; ++k) n.declined.push_back(r.str("declined reason"));
    p.nodes.push_back(std::move(n));
  }
  p.value_device.resize(r.count("value device count", 4));
  for (int& d : p.value_device) d = r.i32("value device");
  const size_t copies = r.count("copy count", 24);
  for (size_t i = 0; i < copies; ++i) {
    graph::Transfer t;
    t.value = r.i32("copied value");
    t.value_name = r.str("copied value name");
    t.from = r.i32("copy source");
    t.to = r.i32("copy destination");
    t.bytes = r.u64("copy bytes");
    p.copies.push_back(std::move(t));
  }
  const size_t steps = r.count("step count", 5);
  for (size_t i = 0; i < steps; ++i) {
    const size_t at = r.offset();
    const uint8_t kind = r.u8("step kind");
    if (kind > static_cast<uint8_t>(graph::Step::Kind::kCopy))
      r.fail("unknown step kind " + std::to_string(kind), at);
    p.steps.push_back({static_cast<graph::Step::Kind>(kind), r.i32("step index")});
  }
  p.constant_upload_bytes.resize(r.count("upload size count", 8));
  for (uint64_t& b : p.constant_upload_bytes) b = r.u64("upload bytes");
  p.estimated_us = r.f64("estimated time");
  p.warning = r.str("warning");
  check_placement(r, start, specialized, p);
  return p;
}

}  // namespace rma::compile::detail
