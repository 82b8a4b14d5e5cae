// Partitioning: ask each device about each node, place nodes by estimated
// cost (op time plus input copies), fall back to the host CPU, and list the
// execution steps with the copies between devices.
#include "rma/graph/partition.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "rma/error.h"
#include "rma/log.h"
#include "rma/ops.h"

namespace rma::graph {
namespace {

const std::string& value_name(const Graph& g, ValueId v) { return g.value(v).name; }

Shape concrete_shape(const Value& v) { return *known_shape(v.shape); }

uint64_t value_bytes(const Value& v) {
  return static_cast<uint64_t>(bytes_for(v.dtype, numel(concrete_shape(v))));
}

// Descriptor of a value as a capability query sees it: dense, no data.
rma_tensor descriptor(const Value& v) {
  rma_tensor t = absent_tensor();
  const Shape shape = concrete_shape(v);
  const Shape strides = contiguous_strides(shape);
  t.dtype = static_cast<int32_t>(v.dtype);
  t.ndim = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    t.shape[i] = shape[i];
    t.strides[i] = strides[i];
  }
  return t;
}

// The inputs a node reads as data: a view reads only its first input (a
// reshape's shape tensor is an attribute by now).
std::vector<ValueId> data_inputs(const Node& node) {
  if (!node.is_interface_op()) return {node.inputs.at(0)};
  std::vector<ValueId> ins;
  for (ValueId v : node.inputs)
    if (v != kNoValue) ins.push_back(v);
  return ins;
}

// Refuses graphs partition() cannot place: unspecialized ones.
void check_specialized(const Graph& g) {
  for (const Value& v : g.values())
    for (const Dim& d : v.shape)
      if (!d.known())
        throw Error(ErrorCode::kInvalidArgument,
                    "value '" + v.name + "' has the symbolic dimension '" + d.symbol + "' in " +
                        to_string(v.shape) + "; specialize() the graph for its input shapes first");
  for (const Node& n : g.nodes()) {
    if (!n.is_interface_op() && !is_view_op(n.op))
      throw Error(ErrorCode::kInvalidArgument,
                  "node '" + n.name + "' is the core op " + op_kind_name(n.op) +
                      ", which only an unspecialized graph holds; specialize() the graph first",
                  op_kind_name(n.op));
    if (!n.is_interface_op() && (n.inputs.empty() || n.inputs[0] == kNoValue))
      throw Error(ErrorCode::kInvalidArgument, "view node '" + n.name + "' has no input",
                  op_kind_name(n.op));
  }
}

// ------------------------------------------------------------- cost model
struct OpWork {
  double flops = 0;
  double bytes = 0;
};

OpWork op_work(const Graph& g, const Node& n) {
  OpWork w;
  for (ValueId v : n.inputs)
    if (v != kNoValue) w.bytes += static_cast<double>(value_bytes(g.value(v)));
  for (ValueId v : n.outputs) w.bytes += static_cast<double>(value_bytes(g.value(v)));
  const auto elems = [&](ValueId v) {
    return static_cast<double>(numel(concrete_shape(g.value(v))));
  };
  const auto dim_back = [&](ValueId v, int from_back) {
    const Shape s = concrete_shape(g.value(v));
    return s.size() >= static_cast<size_t>(from_back) ? static_cast<double>(s[s.size() - from_back])
                                                      : 1.0;
  };
  const double out_elems = n.outputs.empty() ? 0 : elems(n.outputs[0]);
  switch (std::get<rma_op>(n.op)) {
    case RMA_OP_LINEAR:
    case RMA_OP_QUANT_LINEAR:  // x holds T*K elements, y ends in N
      w.flops = 2 * elems(n.inputs[0]) * dim_back(n.outputs[0], 1);
      break;
    case RMA_OP_MATMUL:  // y[..., M, N], K = a's last dim
      w.flops = 2 * out_elems * dim_back(n.inputs[0], 1);
      break;
    case RMA_OP_PREFILL_ATTENTION: {  // q[T, H, D]: QK^T and PV, T x T each
      const double t = static_cast<double>(concrete_shape(g.value(n.inputs[0])).at(0));
      w.flops = 4 * t * elems(n.inputs[0]);
      if (n.attrs_as<rma_attention_attrs>().causal) w.flops /= 2;
      break;
    }
    case RMA_OP_PAGED_DECODE_ATTENTION:  // every cached key and value touched once
      w.flops = 2 * (elems(n.inputs[1]) + elems(n.inputs[2]));
      break;
    default:  // elementwise-like: a few operations per output element
      w.flops = 4 * out_elems;
      break;
  }
  return w;
}

double op_time_us(const OpWork& w, const DeviceThroughput& t) {
  const double compute = t.gflops > 0 ? w.flops / (t.gflops * 1e3) : 0;
  const double memory = t.mem_gbps > 0 ? w.bytes / (t.mem_gbps * 1e3) : 0;
  return t.launch_us + std::max(compute, memory);
}

// ------------------------------------------------- compiling devices
// What a compiling device's graph_partition claimed, per node.
struct CompileClaims {
  bool asked = false;
  std::string error;              // graph_partition failed: why
  std::vector<int32_t> subgraph;  // per graph node: >= 0 claimed
  std::vector<float> cost_us;     // per graph node
};

// Hands the interface nodes of `g` to the device's graph_partition. Views
// are not part of the ABI graph: a view's output is a tensor no node there
// produces, which the backend sees as an input.
CompileClaims ask_graph_partition(const Graph& g, const Device& d) {
  CompileClaims claims;
  const rma_plugin_api& api = d.api();
  if (!(d.info().capabilities & RMA_CAP_GRAPH_COMPILE) || !api.graph_partition) return claims;
  claims.asked = true;
  std::vector<rma_tensor> tensors;
  for (const Value& v : g.values()) tensors.push_back(descriptor(v));
  std::vector<std::vector<int32_t>> ins, outs;
  std::vector<rma_graph_node> abi_nodes;
  std::vector<NodeId> graph_node_of;  // ABI node index -> graph node
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    if (!n.is_interface_op()) continue;
    ins.emplace_back(n.inputs.begin(), n.inputs.end());
    outs.emplace_back(n.outputs.begin(), n.outputs.end());
    graph_node_of.push_back(static_cast<NodeId>(i));
  }
  for (size_t k = 0; k < graph_node_of.size(); ++k) {
    const Node& n = g.nodes()[graph_node_of[k]];
    rma_graph_node an{};
    an.struct_size = sizeof(an);
    an.abi_version = RMA_ABI_VERSION;
    an.op = std::get<rma_op>(n.op);
    an.attrs = n.abi_attrs.empty() ? nullptr : n.abi_attrs.data();
    an.num_inputs = static_cast<int32_t>(ins[k].size());
    an.inputs = ins[k].data();
    an.num_outputs = static_cast<int32_t>(outs[k].size());
    an.outputs = outs[k].data();
    abi_nodes.push_back(an);
  }
  rma_graph graph{};
  graph.struct_size = sizeof(graph);
  graph.abi_version = RMA_ABI_VERSION;
  graph.num_tensors = static_cast<int32_t>(tensors.size());
  graph.tensors = tensors.data();
  graph.num_nodes = static_cast<int32_t>(abi_nodes.size());
  graph.nodes = abi_nodes.data();

  std::vector<int32_t> subgraph(abi_nodes.size(), -1);
  std::vector<float> cost(abi_nodes.size(), 0.f);
  rma_partition part{};
  part.struct_size = sizeof(part);
  part.abi_version = RMA_ABI_VERSION;
  part.subgraph_of_node = subgraph.data();
  part.cost_of_node = cost.data();
  rma_error err{sizeof(rma_error), RMA_ABI_VERSION, {0}};
  if (api.graph_partition(d.handle(), &graph, &part, &err) != RMA_STATUS_OK) {
    claims.error = "graph_partition failed: " + std::string(err.message);
    return claims;
  }
  claims.subgraph.assign(g.nodes().size(), -1);
  claims.cost_us.assign(g.nodes().size(), 0.f);
  for (size_t k = 0; k < graph_node_of.size(); ++k) {
    claims.subgraph[graph_node_of[k]] = subgraph[k];
    claims.cost_us[graph_node_of[k]] = cost[k];
  }
  return claims;
}

// Whether `d` runs node `n` as the op_supported query describes it; the
// plugin's reason when not.
bool op_supported(const Graph& g, const Node& n, const Device& d, std::string* reason) {
  const rma_op op = std::get<rma_op>(n.op);
  const size_t num_in = op_is_variadic(op) ? n.inputs.size() : op_input_names(op).size();
  std::vector<rma_tensor> ins;
  for (size_t i = 0; i < num_in; ++i)
    ins.push_back(i < n.inputs.size() && n.inputs[i] != kNoValue ? descriptor(g.value(n.inputs[i]))
                                                                 : absent_tensor());
  std::vector<rma_tensor> outs;
  for (ValueId v : n.outputs) outs.push_back(descriptor(g.value(v)));
  rma_op_call call{};
  call.struct_size = sizeof(call);
  call.abi_version = RMA_ABI_VERSION;
  call.op = op;
  call.num_inputs = static_cast<int32_t>(ins.size());
  call.inputs = ins.data();
  call.num_outputs = static_cast<int32_t>(outs.size());
  call.outputs = outs.data();
  call.attrs = n.abi_attrs.empty() ? nullptr : n.abi_attrs.data();
  const bool ok = d.supports(call, reason);
  if (!ok && reason && reason->empty()) *reason = "declined without a reason";
  return ok;
}

std::string format_us(double us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), us < 10 ? "%.2f us" : "%.1f us", us);
  return buf;
}

std::string format_bytes(uint64_t b) {
  char buf[32];
  if (b < 1024)
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(b));
  else if (b < (1ull << 20))
    std::snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(b) / 1024);
  else
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(b) / (1 << 20));
  return buf;
}

// The host CPU device (where graph inputs arrive and fallback nodes run).
Device host_cpu() { return Runtime::get().device("cpu"); }

}  // namespace

bool is_view_op(const OpKind& op) {
  const CoreOp* core = std::get_if<CoreOp>(&op);
  return core && is_view(*core);
}

DeviceThroughput default_throughput(const Device& device) {
  const rma_device_info info = device.info();
  const double units = std::max(1, info.compute_units);
  // Rough sustained figures per compute unit (a core, an SM / CU, an NPU
  // engine): enough to rank devices, not to predict times.
  switch (info.type) {
    case RMA_DEVICE_GPU:
      return {100 * units, 200, 8};
    case RMA_DEVICE_NPU:
      return {500 * units, 50, 20};
    case RMA_DEVICE_CPU:
    default:
      return {25 * units, 20, 2};
  }
}

Placement partition(const Graph& graph, const std::vector<Device>& devices,
                    const PartitionOptions& options) {
  if (devices.empty())
    throw Error(ErrorCode::kInvalidArgument, "partition needs at least one device");
  for (size_t i = 0; i < devices.size(); ++i) {
    if (!devices[i].valid())
      throw Error(ErrorCode::kInvalidArgument,
                  "partition: device " + std::to_string(i) + " is not a valid device");
    for (size_t j = 0; j < i; ++j)
      if (devices[j] == devices[i])
        throw Error(ErrorCode::kInvalidArgument,
                    "partition: device " + devices[i].name() + " is listed twice");
  }
  check_specialized(graph);

  Placement p;
  p.outputs_on_host = options.outputs_on_host;
  p.devices = devices;
  const int requested = static_cast<int>(devices.size());
  const Device host = host_cpu();
  const auto host_it = std::find(devices.begin(), devices.end(), host);
  p.host = static_cast<int>(host_it - devices.begin());
  if (host_it == devices.end()) p.devices.push_back(host);
  const int num_devices = static_cast<int>(p.devices.size());

  std::vector<DeviceThroughput> throughput;
  std::vector<CompileClaims> claims;
  for (const Device& d : p.devices) {
    const auto it = options.throughput.find(d.name());
    throughput.push_back(it != options.throughput.end() ? it->second : default_throughput(d));
    claims.push_back(ask_graph_partition(graph, d));
  }
  const auto copy_us = [&](uint64_t bytes, int from, int to) {
    const int hops = (from == p.host || to == p.host) ? 1 : 2;
    const double link =
        options.link_gbps > 0 ? static_cast<double>(bytes) / (options.link_gbps * 1e3) : 0;
    return hops * (options.copy_latency_us + link);
  };

  const auto& values = graph.values();
  const auto& nodes = graph.nodes();
  p.value_device.assign(values.size(), -1);
  std::vector<ValueId> static_root(values.size(), kNoValue);  // the constant a static value views
  for (size_t v = 0; v < values.size(); ++v)
    if (values[v].constant) {
      p.value_device[v] = kStatic;
      static_root[v] = static_cast<ValueId>(v);
    }
  for (ValueId v : graph.inputs()) p.value_device[v] = p.host;
  std::set<ValueId> graph_outputs(graph.outputs().begin(), graph.outputs().end());
  // available[v][d]: value v has a copy on device d this run.
  std::vector<std::vector<bool>> available(values.size(), std::vector<bool>(num_devices, false));
  for (ValueId v : graph.inputs()) available[v][p.host] = true;
  std::vector<std::set<ValueId>> uploaded(num_devices);  // constants each device reads
  p.constant_upload_bytes.assign(num_devices, 0);

  const auto add_copy = [&](ValueId v, int from, int to) {
    Transfer t{v, value_name(graph, v), from, to, value_bytes(values[v])};
    p.steps.push_back({Step::Kind::kCopy, static_cast<int>(p.copies.size())});
    p.copies.push_back(std::move(t));
    available[v][to] = true;
  };
  const auto note_constants = [&](const Node& n, int d) {
    for (ValueId v : data_inputs(n)) {
      if (p.value_device[v] != kStatic) continue;
      const ValueId root = static_root[v];
      if (!uploaded[d].insert(root).second) continue;
      if (values[root].constant->device() != p.devices[d])
        p.constant_upload_bytes[d] += value_bytes(values[root]);
    }
  };
  // Copies a node's outputs to the host right away when they are results.
  const auto copy_results_home = [&](const Node& n, int d) {
    if (!options.outputs_on_host || d == p.host) return;
    for (ValueId o : n.outputs)
      if (graph_outputs.count(o) && !available[o][p.host]) add_copy(o, d, p.host);
  };

  std::vector<int> fallback_nodes;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    NodePlacement np;
    np.node = static_cast<NodeId>(i);
    np.name = n.name;
    np.op = op_kind_name(n.op);

    if (!n.is_interface_op()) {  // a view: where its input is, no compute
      const ValueId in = n.inputs[0];
      const int d = p.value_device[in];
      for (ValueId o : n.outputs) {
        p.value_device[o] = d;
        if (d == kStatic) static_root[o] = static_root[in];
      }
      if (d == kStatic) {
        np.reason = "view of a constant (made once at plan build)";
      } else {
        np.device = d;
        np.reason = "view (aliases its input)";
        p.steps.push_back({Step::Kind::kNode, np.node});
        for (ValueId o : n.outputs) available[o][d] = true;
        copy_results_home(n, d);
      }
      p.nodes.push_back(std::move(np));
      continue;
    }

    const OpWork work = op_work(graph, n);
    // Cost on device d: the op, plus copying in what is not there yet, plus
    // copying results home.
    const auto cost_on = [&](int d, double op_us) {
      double us = op_us;
      std::set<ValueId> seen;
      for (ValueId v : data_inputs(n))
        if (p.value_device[v] != kStatic && seen.insert(v).second && !available[v][d])
          us += copy_us(value_bytes(values[v]), p.value_device[v], d);
      if (options.outputs_on_host && d != p.host)
        for (ValueId o : n.outputs)
          if (graph_outputs.count(o)) us += copy_us(value_bytes(values[o]), d, p.host);
      return us;
    };
    const auto try_device = [&](int d, double* cost, int* subgraph) {
      std::string reason;
      const CompileClaims& c = claims[d];
      if (c.asked && c.error.empty() && c.subgraph[i] >= 0) {
        *subgraph = c.subgraph[i];
        const double claimed = c.cost_us[i];
        *cost = cost_on(d, claimed > 0 ? claimed : op_time_us(work, throughput[d]));
        return true;
      }
      if (op_supported(graph, n, p.devices[d], &reason)) {
        *cost = cost_on(d, op_time_us(work, throughput[d]));
        return true;
      }
      if (c.asked)
        reason = !c.error.empty() ? c.error
                                  : "not claimed by its graph_partition" +
                                        (reason.empty() ? "" : " (per op: " + reason + ")");
      np.declined.push_back(p.devices[d].name() + ": " + reason);
      return false;
    };

    int best = -1;
    double best_cost = 0;
    std::vector<std::pair<int, double>> costs;
    for (int d = 0; d < requested; ++d) {
      double cost = 0;
      int subgraph = -1;
      if (!try_device(d, &cost, &subgraph)) continue;
      costs.emplace_back(d, cost);
      // Strictly cheaper wins, so a tie keeps the earlier device.
      if (best < 0 || cost < best_cost * (1 - 1e-9)) {
        best = d;
        best_cost = cost;
        np.subgraph = subgraph;
      }
    }
    if (best < 0) {
      std::string why;
      for (const std::string& s : np.declined) why += (why.empty() ? "" : "; ") + s;
      if (p.host < requested)
        throw Error(ErrorCode::kUnsupported,
                    "node '" + n.name + "' (" + np.op + "): no device runs it: " + why, np.op);
      if (options.strict)
        throw Error(ErrorCode::kUnsupported,
                    "node '" + n.name + "' (" + np.op + ") would fall back to " +
                        p.devices[p.host].name() + ", which strict mode forbids: " + why,
                    np.op);
      int subgraph = -1;
      if (!try_device(p.host, &best_cost, &subgraph))
        throw Error(ErrorCode::kUnsupported,
                    "node '" + n.name + "' (" + np.op + "): no device runs it: " + why +
                        "; and the fallback " + np.declined.back(),
                    np.op);
      best = p.host;
      np.fallback = true;
      np.reason = "fallback: " + why;
    } else if (costs.size() == 1) {
      np.reason = "only " + p.devices[best].name() + " runs it (" + format_us(best_cost) + ")";
      if (!np.declined.empty()) {
        std::string why;
        for (const std::string& s : np.declined) why += "; " + s;
        np.reason += why;
      }
    } else {
      np.reason = "cost " + format_us(best_cost) + " (";
      bool first = true;
      for (const auto& [d, c] : costs) {
        if (d == best) continue;
        np.reason += (first ? "" : ", ") + p.devices[d].name() + " " + format_us(c);
        first = false;
      }
      np.reason += ")";
    }
    np.device = best;
    np.cost_us = best_cost;
    p.estimated_us += best_cost;

    // Steps: copies of inputs that live elsewhere, the node, results home.
    std::set<ValueId> seen;
    for (ValueId v : data_inputs(n))
      if (p.value_device[v] != kStatic && seen.insert(v).second && !available[v][best])
        add_copy(v, p.value_device[v], best);
    note_constants(n, best);
    p.steps.push_back({Step::Kind::kNode, np.node});
    for (ValueId o : n.outputs) {
      p.value_device[o] = best;
      available[o][best] = true;
    }
    copy_results_home(n, best);
    if (np.fallback) fallback_nodes.push_back(static_cast<int>(i));
    p.nodes.push_back(std::move(np));
  }
  // Views on the host of values produced elsewhere never happen (a view
  // runs where its input is), so every step's inputs are now available.

  if (!fallback_nodes.empty()) {
    // One warning for the whole graph: each op that fell back, its nodes and
    // the first reason given.
    std::map<std::string, std::vector<int>> by_op;
    for (int i : fallback_nodes) by_op[p.nodes[i].op].push_back(i);
    const bool one = fallback_nodes.size() == 1;
    std::string text = "graph: " + std::to_string(fallback_nodes.size()) +
                       (one ? " node falls back to " : " nodes fall back to ") +
                       p.devices[p.host].name() + ":";
    for (const auto& [op, idx] : by_op) {
      text += " " + op + " (";
      for (size_t k = 0; k < idx.size() && k < 3; ++k)
        text += (k ? ", " : "") + std::string("'") + p.nodes[idx[k]].name + "'";
      if (idx.size() > 3) text += " and " + std::to_string(idx.size() - 3) + " more";
      text += "): " + p.nodes[idx[0]].reason.substr(std::string("fallback: ").size()) + ".";
    }
    p.warning = text;
    log::warn(text);
  }
  return p;
}

// ---------------------------------------------------------------- report
uint64_t Placement::bytes_moved() const {
  uint64_t b = 0;
  for (const Transfer& t : copies) b += t.bytes;
  return b;
}

std::vector<int> Placement::nodes_per_device() const {
  std::vector<int> counts(devices.size(), 0);
  for (const NodePlacement& n : nodes)
    if (n.device >= 0) ++counts[n.device];
  return counts;
}

int Placement::fallback_count() const {
  return static_cast<int>(
      std::count_if(nodes.begin(), nodes.end(), [](const NodePlacement& n) { return n.fallback; }));
}

std::string Placement::to_text() const {
  const auto device_name = [&](int d) {
    return d >= 0 ? devices[d].name() : std::string("(constant)");
  };
  size_t wname = 4, wop = 2, wdev = 6;
  for (const NodePlacement& n : nodes) {
    wname = std::max(wname, n.name.size());
    wop = std::max(wop, n.op.size());
    wdev = std::max(wdev, device_name(n.device).size());
  }
  const auto pad = [](std::string s, size_t w) {
    s.resize(std::max(s.size(), w), ' ');
    return s;
  };
  std::string out = "placement: " + std::to_string(nodes.size()) + " nodes;";
  const std::vector<int> counts = nodes_per_device();
  for (size_t d = 0; d < devices.size(); ++d)
    out += (d ? ", " : " ") + devices[d].name() + " " + std::to_string(counts[d]);
  out += "; " + std::to_string(fallback_count()) + " fallback; estimated " +
         format_us(estimated_us) + " per run\n";
  out +=
      "  " + pad("node", wname) + "  " + pad("op", wop) + "  " + pad("device", wdev) + "  reason\n";
  for (const NodePlacement& n : nodes)
    out += "  " + pad(n.name, wname) + "  " + pad(n.op, wop) + "  " +
           pad(device_name(n.device), wdev) + "  " + n.reason + "\n";
  out += "copies: " + std::to_string(copies.size()) + ", " + format_bytes(bytes_moved()) +
         " per run\n";
  for (const Transfer& t : copies)
    out += "  " + t.value_name + ": " + devices[t.from].name() + " -> " + devices[t.to].name() +
           " (" + format_bytes(t.bytes) + ")\n";
  for (size_t d = 0; d < devices.size(); ++d)
    if (constant_upload_bytes[d])
      out += "constants uploaded once to " + devices[d].name() + ": " +
             format_bytes(constant_upload_bytes[d]) + "\n";
  return out;
}

std::string Placement::to_json() const {
  nlohmann::ordered_json j;
  j["devices"] = nlohmann::ordered_json::array();
  for (const Device& d : devices) j["devices"].push_back(d.name());
  j["host"] = devices[host].name();
  j["outputs_on_host"] = outputs_on_host;
  j["nodes"] = nlohmann::ordered_json::array();
  for (const NodePlacement& n : nodes) {
    nlohmann::ordered_json jn = {
        {"node", n.name},
        {"op", n.op},
        {"device", n.device >= 0 ? nlohmann::ordered_json(devices[n.device].name())
                                 : nlohmann::ordered_json(nullptr)},
        {"fallback", n.fallback},
        {"reason", n.reason},
        {"cost_us", n.cost_us},
        {"declined", n.declined}};
    if (n.subgraph >= 0) jn["subgraph"] = n.subgraph;
    j["nodes"].push_back(std::move(jn));
  }
  j["copies"] = nlohmann::ordered_json::array();
  for (const Transfer& t : copies)
    j["copies"].push_back({{"value", t.value_name},
                           {"from", devices[t.from].name()},
                           {"to", devices[t.to].name()},
                           {"bytes", t.bytes}});
  j["bytes_moved"] = bytes_moved();
  j["nodes_per_device"] = nlohmann::ordered_json::object();
  j["constant_upload_bytes"] = nlohmann::ordered_json::object();
  const std::vector<int> counts = nodes_per_device();
  for (size_t d = 0; d < devices.size(); ++d) {
    j["nodes_per_device"][devices[d].name()] = counts[d];
    j["constant_upload_bytes"][devices[d].name()] = constant_upload_bytes[d];
  }
  j["fallbacks"] = fallback_count();
  j["estimated_us"] = estimated_us;
  if (!warning.empty()) j["warning"] = warning;
  return j.dump(2);
}

}  // namespace rma::graph
