// The multi-device plan executor: arenas and constants set up once, then
// each run walks the placement's steps (ops, copies, views) in order.
#include "rma/graph/executor.h"

#include <algorithm>
#include <set>

#include "rma/error.h"
#include "rma/ops.h"
#include "rma/prepared.h"

namespace rma::graph {
namespace {

Shape concrete_shape(const Value& v) { return *known_shape(v.shape); }

std::string dtype_name(DType dt) { return std::string(name(dt)); }

}  // namespace

Plan::Plan(Graph graph, Placement placement, MemoryPlan memory)
    : graph_(std::move(graph)), placement_(std::move(placement)), memory_(std::move(memory)) {
  check_consistent();
  allocate_arenas();
  prepare_static_buffers();
}

Plan Plan::create(const Graph& specialized, const std::vector<Device>& devices,
                  const PartitionOptions& options) {
  Placement placement = partition(specialized, devices, options);
  MemoryPlan memory = plan_memory(specialized, placement);
  return Plan(specialized, std::move(placement), std::move(memory));
}

void Plan::check_consistent() const {
  const auto bad = [](const std::string& what) {
    throw Error(ErrorCode::kInvalidArgument, "plan: " + what);
  };
  if (placement_.nodes.size() != graph_.nodes().size() ||
      placement_.value_device.size() != graph_.values().size())
    bad("the placement was made for another graph (" + std::to_string(placement_.nodes.size()) +
        " nodes placed, the graph has " + std::to_string(graph_.nodes().size()) + ")");
  if (memory_.arenas.size() != placement_.devices.size())
    bad("the memory plan was made for another placement (" + std::to_string(memory_.arenas.size()) +
        " arenas for " + std::to_string(placement_.devices.size()) + " devices)");
  for (const ValueBuffer& b : memory_.buffers)
    if (b.value < 0 || b.value >= static_cast<ValueId>(graph_.values().size()) || b.device < 0 ||
        b.device >= static_cast<int>(placement_.devices.size()))
      bad("the memory plan names a value or device the graph and placement lack");
  for (const Step& s : placement_.steps) {
    if (s.kind != Step::Kind::kNode) continue;
    const Node& n = graph_.nodes().at(s.index);
    const int d = placement_.nodes[s.index].device;
    if (!n.is_interface_op()) continue;
    const Device& dev = placement_.devices.at(d);
    if (!dev.api().op_run)
      throw Error(ErrorCode::kUnsupported,
                  "node '" + n.name + "' is placed on " + dev.name() +
                      ", which compiles whole subgraphs and runs no single ops; a plan runs "
                      "ops one by one (compile the graph for that target instead)",
                  op_kind_name(n.op), dev.name());
    for (ValueId v : n.inputs)
      if (v != kNoValue && memory_.find(v, d) < 0)
        bad("node '" + n.name + "' reads '" + graph_.value(v).name +
            "', which the memory plan "
            "has no buffer for on " +
            dev.name());
  }
}

void Plan::allocate_arenas() {
  arenas_.resize(placement_.devices.size());
  for (size_t d = 0; d < placement_.devices.size(); ++d) {
    const ArenaSummary& a = memory_.arenas[d];
    if (a.buffers == 0) continue;
    const uint64_t bytes = std::max<uint64_t>(a.planned_bytes, MemoryPlan::kAlignment);
    arenas_[d] = Tensor::empty({static_cast<int64_t>(bytes)}, DType::kI8, placement_.devices[d]);
  }
}

void Plan::prepare_static_buffers() {
  // Buffers come in dependency order (a view after what it aliases), so one
  // pass fills arena slots, uploaded constants and the views of both.
  static_buffers_.resize(memory_.buffers.size());
  for (size_t i = 0; i < memory_.buffers.size(); ++i) {
    const ValueBuffer& b = memory_.buffers[i];
    const Value& v = graph_.value(b.value);
    const Device& dev = placement_.devices[b.device];
    switch (b.kind) {
      case BufferKind::kArena:
        static_buffers_[i] = arenas_[b.device].view_bytes(b.offset, concrete_shape(v), v.dtype);
        break;
      case BufferKind::kConstant: {
        if (!v.constant)
          throw Error(ErrorCode::kInvalidArgument,
                      "plan: '" + v.name + "' is planned as a constant but has no value");
        const Tensor c = v.constant->contiguous();
        // Read in place where the constant already lives, else one upload
        // shared by every node on that device.
        static_buffers_[i] = c.device() == dev ? c : c.to(dev);
        break;
      }
      case BufferKind::kView:
        if (static_buffers_.at(b.alias_of).defined())
          static_buffers_[i] = static_buffers_[b.alias_of].reshape(concrete_shape(v));
        break;
      case BufferKind::kInput:
      case BufferKind::kOutput:
        break;  // per run
    }
  }

  // A graph input passed on another device is moved to the host only when
  // something on the host reads it (copies read it wherever it is).
  input_needed_on_host_.assign(graph_.inputs().size(), false);
  for (const Step& s : placement_.steps) {
    if (s.kind != Step::Kind::kNode) continue;
    const Node& n = graph_.nodes()[s.index];
    const int d = placement_.nodes[s.index].device;
    if (d != placement_.host || !n.is_interface_op()) continue;
    for (ValueId v : n.inputs) {
      if (v == kNoValue) continue;
      const int root = memory_.root(memory_.find(v, d));
      for (size_t i = 0; i < graph_.inputs().size(); ++i)
        if (memory_.find(graph_.inputs()[i], placement_.host) == root)
          input_needed_on_host_[i] = true;
    }
  }
}

std::vector<uint64_t> Plan::arena_bytes() const {
  std::vector<uint64_t> bytes;
  for (const Tensor& a : arenas_) bytes.push_back(a.defined() ? a.nbytes() : 0);
  return bytes;
}

std::vector<Tensor> Plan::checked_inputs(const std::vector<Tensor>& inputs) const {
  const auto& ids = graph_.inputs();
  if (inputs.size() != ids.size()) {
    std::string names;
    for (ValueId v : ids) names += (names.empty() ? "" : ", ") + graph_.value(v).name;
    throw Error(ErrorCode::kInvalidArgument, "the graph takes " + std::to_string(ids.size()) +
                                                 " inputs (" + names + "), got " +
                                                 std::to_string(inputs.size()));
  }
  std::vector<Tensor> checked;
  for (size_t i = 0; i < ids.size(); ++i) {
    const Value& v = graph_.value(ids[i]);
    const Tensor& t = inputs[i];
    const std::string who = "input '" + v.name + "' (#" + std::to_string(i) + ")";
    if (!t.defined()) throw Error(ErrorCode::kInvalidArgument, who + " is an undefined tensor");
    if (t.dtype() != v.dtype)
      throw Error(ErrorCode::kInvalidArgument, who + ": expected dtype " + dtype_name(v.dtype) +
                                                   ", got " + dtype_name(t.dtype()));
    const Shape expected = concrete_shape(v);
    if (t.shape() != expected)
      throw Error(ErrorCode::kInvalidArgument,
                  who + ": expected shape " + rma::to_string(expected) + ", got " +
                      rma::to_string(t.shape()) +
                      " (the plan is specialized for fixed shapes; specialize the graph again "
                      "for others)");
    Tensor c = t.contiguous();
    if (input_needed_on_host_[i] && c.device() != placement_.devices[placement_.host])
      c = c.to(placement_.devices[placement_.host]);
    checked.push_back(std::move(c));
  }
  return checked;
}

Tensor Plan::fresh_output(ValueId value, int device) const {
  const Value& v = graph_.value(value);
  return Tensor::empty(concrete_shape(v), v.dtype, placement_.devices[device]);
}

int Plan::prepare_ops(const std::map<int, std::span<const uint8_t>>& stored,
                      ops::PreparedCache* cache) {
  std::lock_guard<std::mutex> lock(*run_mutex_);
  prepared_.assign(graph_.nodes().size(), nullptr);
  int count = 0;
  for (const Step& s : placement_.steps) {
    if (s.kind != Step::Kind::kNode) continue;
    const Node& node = graph_.nodes()[s.index];
    const int d = placement_.nodes[s.index].device;
    const Device& dev = placement_.devices[d];
    if (!node.is_interface_op() || !ops::supports_prepare(dev)) continue;
    std::vector<ops::PrepareArg> args;
    bool any_constant = false;
    for (ValueId v : node.inputs) {
      ops::PrepareArg a;
      if (v == kNoValue) {
        a.absent = true;
      } else {
        const Value& val = graph_.value(v);
        a.desc = {concrete_shape(val), val.dtype};
        const int b = memory_.find(v, d);
        if (memory_.buffers[memory_.root(b)].kind == BufferKind::kConstant &&
            static_buffers_[b].defined()) {
          a.constant = static_buffers_[b];
          any_constant = true;
        }
      }
      args.push_back(std::move(a));
    }
    if (!any_constant) continue;
    std::vector<TensorDesc> outs;
    for (ValueId o : node.outputs)
      outs.push_back({concrete_shape(graph_.value(o)), graph_.value(o).dtype});
    const auto it = stored.find(s.index);
    try {
      const rma_op op = std::get<rma_op>(node.op);
      const void* attrs = node.abi_attrs.empty() ? nullptr : node.abi_attrs.data();
      if (it != stored.end())
        prepared_[s.index] = ops::prepare(dev, op, args, attrs, outs, it->second);
      else if (cache)
        prepared_[s.index] = cache->get(dev, op, args, attrs, node.abi_attrs.size(), outs);
      else
        prepared_[s.index] = ops::prepare(dev, op, args, attrs, outs);
    } catch (const Error& e) {
      throw Error(e.code(), "node '" + node.name + "': " + e.message(), e.op(), e.device());
    }
    if (prepared_[s.index]) ++count;
  }
  return count;
}

std::map<int, std::vector<uint8_t>> Plan::export_prepared() const {
  std::map<int, std::vector<uint8_t>> out;
  for (size_t i = 0; i < prepared_.size(); ++i)
    if (prepared_[i]) out.emplace(static_cast<int>(i), prepared_[i]->export_bytes());
  return out;
}

int Plan::prepared_count() const {
  return static_cast<int>(std::count_if(prepared_.begin(), prepared_.end(),
                                        [](const auto& p) { return p != nullptr; }));
}

void Plan::run_node(int node_index, int device, std::vector<Tensor>& live) const {
  const Node& node = graph_.nodes()[node_index];
  const auto buffer_of = [&](ValueId v) { return memory_.find(v, device); };
  if (!node.is_interface_op()) {  // a view: reshape what it aliases (unless made at build)
    for (ValueId o : node.outputs) {
      const int b = buffer_of(o);
      if (!live[b].defined())
        live[b] = live[memory_.buffers[b].alias_of].reshape(concrete_shape(graph_.value(o)));
    }
    return;
  }
  std::vector<Tensor> ins;
  for (ValueId v : node.inputs) ins.push_back(v == kNoValue ? Tensor{} : live[buffer_of(v)]);
  std::vector<Tensor> outs;
  for (ValueId o : node.outputs) {
    const int b = buffer_of(o);
    if (memory_.buffers[b].kind == BufferKind::kOutput) live[b] = fresh_output(o, device);
    outs.push_back(live[b]);
  }
  const void* attrs = node.abi_attrs.empty() ? nullptr : node.abi_attrs.data();
  try {
    const ops::PreparedOp* prepared = prepared_.empty() ? nullptr : prepared_[node_index].get();
    if (prepared)
      ops::run_prepared(*prepared, ins, attrs, std::move(outs));
    else
      ops::run(std::get<rma_op>(node.op), ins, attrs, std::move(outs));
  } catch (const Error& e) {
    throw Error(e.code(), "node '" + node.name + "': " + e.message(), e.op(), e.device());
  }
}

std::vector<Tensor> Plan::run(const std::vector<Tensor>& inputs) {
  std::lock_guard<std::mutex> lock(*run_mutex_);
  const std::vector<Tensor> given = checked_inputs(inputs);
  std::vector<Tensor> live = static_buffers_;
  for (size_t i = 0; i < given.size(); ++i)
    live[memory_.find(graph_.inputs()[i], placement_.host)] = given[i];

  std::set<int> used_devices;
  for (const Step& s : placement_.steps) {
    if (s.kind == Step::Kind::kCopy) {
      const Transfer& t = placement_.copies[s.index];
      const Tensor& src = live[memory_.find(t.value, t.from)];
      const int dst = memory_.find(t.value, t.to);
      const Device& to = placement_.devices[t.to];
      // An input passed on the destination device already needs no copy.
      if (src.device() == to && memory_.buffers[dst].kind == BufferKind::kArena) {
        live[dst] = src;
        continue;
      }
      if (memory_.buffers[dst].kind == BufferKind::kOutput) live[dst] = fresh_output(t.value, t.to);
      live[dst].copy_from(src);
      used_devices.insert(t.from);
      used_devices.insert(t.to);
      continue;
    }
    const int d = placement_.nodes[s.index].device;
    run_node(s.index, d, live);
    used_devices.insert(d);
  }
  for (int d : used_devices) placement_.devices[d].synchronize();

  // Results: in buffers of their own, else copied out of what they alias.
  std::vector<Tensor> outputs;
  for (ValueId v : graph_.outputs()) {
    const int home = placement_.value_device[v];
    const int d = placement_.outputs_on_host || home < 0 ? placement_.host : home;
    const int b = memory_.find(v, d);
    const Tensor& t = live.at(b);
    outputs.push_back(memory_.buffers[b].kind == BufferKind::kOutput ? t
                                                                     : t.to(placement_.devices[d]));
  }
  return outputs;
}

}  // namespace rma::graph
