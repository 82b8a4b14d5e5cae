// The single-device graph interpreter (rma/graph/interpreter.h).
#include "rma/graph/interpreter.h"

#include <map>
#include <mutex>
#include <tuple>

#include "graph_internal.h"
#include "rma/error.h"
#include "rma/ops.h"

namespace rma::graph {
namespace {

// Why a graph cannot be run as is ("" when it can).
std::string not_static_reason(const Graph& g) {
  for (const Node& n : g.nodes())
    if (const CoreOp* op = std::get_if<CoreOp>(&n.op); op && !is_view(*op))
      return "node '" + n.name + "' is " + op_kind_name(n.op) + ", a shape computation";
  for (const Value& v : g.values())
    if (!known_shape(v.shape)) return "value '" + v.name + "' has shape " + to_string(v.shape);
  return "";
}

void check_runnable(const Graph& g) {
  const std::string why = not_static_reason(g);
  if (!why.empty())
    throw Error(ErrorCode::kInvalidArgument,
                "run_graph needs a specialized graph (Graph::specialize), but " + why);
}

// Device copies of host constants, shared by run_graph calls while the host
// tensor lives (keyed by its storage, checked through a weak reference).
class ConstantCache {
 public:
  Tensor get(const Tensor& host, const Device& dev) {
    if (host.device() == dev) return host;
    const Key key{host.buffer().get(), host.offset(), dev.impl().get(),
                  static_cast<int32_t>(host.dtype()), host.shape()};
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.host.lock() == host.buffer()) return it->second.copy;
    purge_expired();
    Tensor copy = host.to(dev);
    entries_[key] = Entry{host.buffer(), copy};
    return copy;
  }

 private:
  using Key = std::tuple<const void*, uint64_t, const void*, int32_t, Shape>;
  struct Entry {
    std::weak_ptr<Buffer> host;
    Tensor copy;
  };
  void purge_expired() {
    for (auto it = entries_.begin(); it != entries_.end();)
      it = it->second.host.expired() ? entries_.erase(it) : std::next(it);
  }
  std::mutex mu_;
  std::map<Key, Entry> entries_;
};

ConstantCache& constant_cache() {
  static ConstantCache cache;
  return cache;
}

// Inputs checked against the graph and placed on `dev`.
std::vector<Tensor> prepare_inputs(const Graph& g, const Device& dev,
                                   const std::vector<Tensor>& inputs) {
  if (inputs.size() != g.inputs().size()) {
    std::string names;
    for (ValueId v : g.inputs()) names += (names.empty() ? "" : ", ") + g.value(v).name;
    throw Error(ErrorCode::kInvalidArgument, "expected " + std::to_string(g.inputs().size()) +
                                                 " input(s) (" + names + "), got " +
                                                 std::to_string(inputs.size()));
  }
  std::vector<Tensor> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value& v = g.value(g.inputs()[i]);
    const Tensor& t = inputs[i];
    if (!t.defined())
      throw Error(ErrorCode::kInvalidArgument, "input '" + v.name + "' is undefined");
    if (t.dtype() != v.dtype)
      throw Error(ErrorCode::kInvalidArgument, "input '" + v.name + "': expected dtype " +
                                                   std::string(name(v.dtype)) + ", got " +
                                                   std::string(name(t.dtype())));
    const std::optional<Shape> want = known_shape(v.shape);
    if (!want || *want != t.shape())
      throw Error(ErrorCode::kInvalidArgument, "input '" + v.name + "': expected shape " +
                                                   to_string(v.shape) + ", got " +
                                                   rma::to_string(t.shape()));
    out.push_back((t.device() == dev ? t : t.to(dev)).contiguous());
  }
  return out;
}

// Runs the nodes; `constant(v)` gives a constant value's device tensor.
template <class ConstantFn>
std::vector<Tensor> execute(const Graph& g, const Device& dev, const std::vector<Tensor>& inputs,
                            ConstantFn constant) {
  const std::vector<Tensor> in = prepare_inputs(g, dev, inputs);
  const size_t nv = g.values().size();
  std::vector<Tensor> values(nv);
  for (size_t i = 0; i < in.size(); ++i) values[g.inputs()[i]] = in[i];

  // Last node reading each value; graph outputs are kept to the end.
  std::vector<int64_t> last_use(nv, -1);
  for (size_t n = 0; n < g.nodes().size(); ++n)
    for (ValueId v : g.nodes()[n].inputs)
      if (v != kNoValue) last_use[v] = static_cast<int64_t>(n);
  for (ValueId v : g.outputs()) last_use[v] = INT64_MAX;

  auto get = [&](ValueId v) -> Tensor {
    if (v == kNoValue) return Tensor{};
    if (!values[v].defined() && g.value(v).constant) return constant(v);
    return values[v];
  };

  for (size_t n = 0; n < g.nodes().size(); ++n) {
    const Node& node = g.nodes()[n];
    std::vector<Tensor> args;
    for (ValueId v : node.inputs) args.push_back(get(v));
    std::vector<Tensor> results;
    if (const rma_op* op = std::get_if<rma_op>(&node.op)) {
      try {
        results = ops::run(*op, args, node.abi_attrs.empty() ? nullptr : node.abi_attrs.data());
      } catch (const Error& e) {
        throw Error(e.code(), "node '" + node.name + "': " + e.message(), e.op(), e.device());
      }
    } else {
      const Shape shape = *known_shape(g.value(node.outputs.at(0)).shape);
      results = {args.at(0).contiguous().reshape(shape)};
    }
    for (size_t i = 0; i < node.outputs.size(); ++i) values[node.outputs[i]] = results.at(i);
    for (ValueId v : node.inputs)
      if (v != kNoValue && last_use[v] == static_cast<int64_t>(n)) values[v] = Tensor{};
  }

  std::vector<Tensor> out;
  for (ValueId v : g.outputs()) out.push_back(get(v));
  return out;
}

}  // namespace

std::vector<Tensor> run_graph(const Graph& specialized, const Device& dev,
                              const std::vector<Tensor>& inputs) {
  check_runnable(specialized);
  return execute(specialized, dev, inputs, [&](ValueId v) {
    return constant_cache().get(*specialized.value(v).constant, dev);
  });
}

std::vector<Tensor> specialize_and_run(const Graph& g, const Device& dev,
                                       const std::vector<Tensor>& inputs) {
  if (g.is_static()) return run_graph(g, dev, inputs);
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.defined() ? t.shape() : Shape{});
  return run_graph(g.specialize(shapes), dev, inputs);
}

Interpreter::Interpreter(Graph specialized, Device dev)
    : graph_(std::move(specialized)), device_(std::move(dev)) {
  check_runnable(graph_);
  constants_.resize(graph_.values().size());
  for (size_t v = 0; v < graph_.values().size(); ++v)
    if (graph_.values()[v].constant) {
      const Tensor& host = *graph_.values()[v].constant;
      constants_[v] = host.device() == device_ ? host : host.to(device_);
    }
}

std::vector<Tensor> Interpreter::run(const std::vector<Tensor>& inputs) const {
  return execute(graph_, device_, inputs, [&](ValueId v) { return constants_[v]; });
}

}  // namespace rma::graph
