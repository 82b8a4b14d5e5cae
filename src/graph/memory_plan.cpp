// The static memory planner: buffers per (value, device), lifetimes over the
// placement's steps, and offsets in one arena per device (greedy by size,
// best fit among the gaps left by buffers live at the same time).
#include "rma/graph/memory_plan.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "rma/error.h"

namespace rma::graph {
namespace {

uint64_t align_up(uint64_t n) {
  return (n + MemoryPlan::kAlignment - 1) / MemoryPlan::kAlignment * MemoryPlan::kAlignment;
}

uint64_t value_bytes(const Value& v) {
  return static_cast<uint64_t>(bytes_for(v.dtype, numel(*known_shape(v.shape))));
}

[[noreturn]] void inconsistent(const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument,
              "memory plan: the placement does not match the graph: " + what);
}

// Assigns offsets to one device's arena buffers; returns the arena size.
uint64_t place_arena(std::vector<ValueBuffer>& buffers, const std::vector<int>& arena) {
  std::vector<int> order = arena;
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    const ValueBuffer& x = buffers[a];
    const ValueBuffer& y = buffers[b];
    if (x.size != y.size) return x.size > y.size;
    if (x.first_step != y.first_step) return x.first_step < y.first_step;
    return a < b;
  });
  std::vector<int> placed;
  uint64_t arena_size = 0;
  for (int b : order) {
    ValueBuffer& buf = buffers[b];
    if (buf.size == 0) continue;
    // Buffers live at the same time as this one, by offset.
    std::vector<int> live;
    for (int o : placed)
      if (!(buffers[o].last_step < buf.first_step || buf.last_step < buffers[o].first_step))
        live.push_back(o);
    std::sort(live.begin(), live.end(),
              [&](int x, int y) { return buffers[x].offset < buffers[y].offset; });
    // The smallest gap between them that fits, else past the last one.
    uint64_t cursor = 0, best_gap = std::numeric_limits<uint64_t>::max();
    std::optional<uint64_t> best;
    for (int o : live) {
      if (buffers[o].offset >= cursor) {
        const uint64_t gap = buffers[o].offset - cursor;
        if (gap >= buf.size && gap < best_gap) {
          best = cursor;
          best_gap = gap;
        }
      }
      cursor = std::max(cursor, buffers[o].offset + buffers[o].size);
    }
    buf.offset = best.value_or(cursor);
    arena_size = std::max(arena_size, buf.offset + buf.size);
    placed.push_back(b);
  }
  return arena_size;
}

// The most bytes live at any one step.
uint64_t max_live(const std::vector<ValueBuffer>& buffers, const std::vector<int>& arena) {
  std::vector<std::pair<int, int64_t>> events;  // (step, +size at first / -size after last)
  for (int b : arena) {
    events.emplace_back(buffers[b].first_step, static_cast<int64_t>(buffers[b].size));
    events.emplace_back(buffers[b].last_step + 1, -static_cast<int64_t>(buffers[b].size));
  }
  std::sort(events.begin(), events.end());  // frees sort before allocations at a step
  int64_t live = 0, peak = 0;
  for (const auto& [step, delta] : events) {
    live += delta;
    peak = std::max(peak, live);
  }
  return static_cast<uint64_t>(peak);
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

}  // namespace

std::string_view buffer_kind_name(BufferKind kind) {
  switch (kind) {
    case BufferKind::kArena:
      return "arena";
    case BufferKind::kOutput:
      return "output";
    case BufferKind::kInput:
      return "input";
    case BufferKind::kConstant:
      return "constant";
    case BufferKind::kView:
      return "view";
  }
  return "?";
}

int MemoryPlan::find(ValueId value, int device) const {
  const auto it = index.find({value, device});
  return it == index.end() ? -1 : it->second;
}

int MemoryPlan::root(int buffer) const {
  while (buffers.at(buffer).kind == BufferKind::kView) buffer = buffers[buffer].alias_of;
  return buffer;
}

uint64_t MemoryPlan::planned_bytes() const {
  uint64_t b = 0;
  for (const ArenaSummary& a : arenas) b += a.planned_bytes;
  return b;
}

uint64_t MemoryPlan::naive_bytes() const {
  uint64_t b = 0;
  for (const ArenaSummary& a : arenas) b += a.naive_bytes;
  return b;
}

MemoryPlan plan_memory(const Graph& graph, const Placement& placement) {
  const auto& values = graph.values();
  const auto& nodes = graph.nodes();
  if (placement.nodes.size() != nodes.size())
    inconsistent(std::to_string(placement.nodes.size()) + " placed nodes for " +
                 std::to_string(nodes.size()) + " graph nodes");
  if (placement.value_device.size() != values.size())
    inconsistent(std::to_string(placement.value_device.size()) + " placed values for " +
                 std::to_string(values.size()) + " graph values");
  const int num_devices = static_cast<int>(placement.devices.size());
  const int end = static_cast<int>(placement.steps.size());

  MemoryPlan m;
  for (const Device& d : placement.devices) m.arenas.push_back({d.name()});

  const auto add = [&](ValueId v, int device, BufferKind kind, int alias, int first) {
    if (!m.index.emplace(std::make_pair(v, device), static_cast<int>(m.buffers.size())).second)
      inconsistent("value '" + values[v].name + "' is written twice on " +
                   placement.devices[device].name());
    ValueBuffer b;
    b.value = v;
    b.value_name = values[v].name;
    b.device = device;
    b.kind = kind;
    b.alias_of = alias;
    b.size = kind == BufferKind::kArena ? align_up(value_bytes(values[v])) : value_bytes(values[v]);
    b.first_step = first;
    b.last_step = first;
    m.buffers.push_back(std::move(b));
    return static_cast<int>(m.buffers.size()) - 1;
  };
  const auto use = [&](int buffer, int step) {
    ValueBuffer& r = m.buffers[m.root(buffer)];
    r.last_step = std::max(r.last_step, step);
  };
  // A constant, or a view of one, on `device`: made once, before the run.
  const std::function<int(ValueId, int)> static_buffer = [&](ValueId v, int device) -> int {
    if (const int b = m.find(v, device); b >= 0) return b;
    if (values[v].constant) return add(v, device, BufferKind::kConstant, -1, -1);
    const NodeId producer = values[v].producer;
    if (producer < 0 || placement.value_device[v] != kStatic)
      inconsistent("value '" + values[v].name + "' is neither a constant nor a view of one");
    const int alias = static_buffer(nodes[producer].inputs.at(0), device);
    return add(v, device, BufferKind::kView, alias, -1);
  };
  const auto existing = [&](ValueId v, int device, const std::string& reader) {
    if (placement.value_device.at(v) == kStatic) return static_buffer(v, device);
    const int b = m.find(v, device);
    if (b < 0)
      inconsistent(reader + " reads '" + values[v].name + "' on " +
                   placement.devices[device].name() + " before anything puts it there");
    return b;
  };

  const std::set<ValueId> outputs(graph.outputs().begin(), graph.outputs().end());
  const auto result_device = [&](ValueId v) {
    const int d = placement.value_device[v];
    return placement.outputs_on_host || d < 0 ? placement.host : d;
  };
  const auto written_kind = [&](ValueId v, int device) {
    return outputs.count(v) && device == result_device(v) ? BufferKind::kOutput
                                                          : BufferKind::kArena;
  };

  for (ValueId v : graph.inputs()) add(v, placement.host, BufferKind::kInput, -1, -1);
  for (int s = 0; s < end; ++s) {
    const Step& step = placement.steps[s];
    if (step.kind == Step::Kind::kCopy) {
      const Transfer& t = placement.copies.at(step.index);
      if (t.from < 0 || t.from >= num_devices || t.to < 0 || t.to >= num_devices)
        inconsistent("copy of '" + t.value_name + "' names a device outside the placement");
      use(existing(t.value, t.from, "a copy"), s);
      add(t.value, t.to, written_kind(t.value, t.to), -1, s);
      continue;
    }
    const Node& n = nodes.at(step.index);
    const int d = placement.nodes.at(step.index).device;
    if (d < 0 || d >= num_devices) inconsistent("node '" + n.name + "' has no device");
    if (!n.is_interface_op()) {  // a view aliases its input
      const int in = existing(n.inputs.at(0), d, "node '" + n.name + "'");
      use(in, s);
      for (ValueId o : n.outputs) add(o, d, BufferKind::kView, in, s);
      continue;
    }
    for (ValueId v : n.inputs)
      if (v != kNoValue) use(existing(v, d, "node '" + n.name + "'"), s);
    for (ValueId o : n.outputs) add(o, d, written_kind(o, d), -1, s);
  }
  // Results not written into buffers of their own are copied out at the
  // end, so what they alias lives until then.
  for (ValueId v : graph.outputs()) {
    const int d = result_device(v);
    const int b = placement.value_device[v] == kStatic ? static_buffer(v, d) : m.find(v, d);
    if (b < 0)
      inconsistent("output '" + values[v].name + "' never reaches " + placement.devices[d].name());
    if (m.buffers[b].kind != BufferKind::kOutput) use(b, end);
  }

  for (int d = 0; d < num_devices; ++d) {
    std::vector<int> arena;
    for (size_t b = 0; b < m.buffers.size(); ++b)
      if (m.buffers[b].device == d && m.buffers[b].kind == BufferKind::kArena)
        arena.push_back(static_cast<int>(b));
    ArenaSummary& a = m.arenas[d];
    a.buffers = static_cast<int>(arena.size());
    for (int b : arena) a.naive_bytes += m.buffers[b].size;
    a.planned_bytes = place_arena(m.buffers, arena);
    a.max_live_bytes = max_live(m.buffers, arena);
  }
  return m;
}

std::string MemoryPlan::to_text() const {
  std::string out = "memory plan (" + std::to_string(kAlignment) + " B aligned slots):\n";
  for (const ArenaSummary& a : arenas) {
    if (!a.buffers) continue;
    out += "  " + a.device + ": arena " + format_bytes(a.planned_bytes) + " for " +
           std::to_string(a.buffers) + " buffers (no reuse " + format_bytes(a.naive_bytes) +
           ", most live at one step " + format_bytes(a.max_live_bytes) + ")\n";
  }
  for (const ValueBuffer& b : buffers) {
    if (b.kind != BufferKind::kArena) continue;
    out += "    " + b.value_name + " on " + arenas[b.device].device + ": [" +
           std::to_string(b.offset) + ", " + std::to_string(b.offset + b.size) + ") steps " +
           std::to_string(b.first_step) + ".." + std::to_string(b.last_step) + "\n";
  }
  return out;
}

std::string MemoryPlan::to_json() const {
  nlohmann::ordered_json j;
  j["alignment"] = kAlignment;
  j["arenas"] = nlohmann::ordered_json::array();
  for (const ArenaSummary& a : arenas)
    j["arenas"].push_back({{"device", a.device},
                           {"planned_bytes", a.planned_bytes},
                           {"naive_bytes", a.naive_bytes},
                           {"max_live_bytes", a.max_live_bytes},
                           {"buffers", a.buffers}});
  j["buffers"] = nlohmann::ordered_json::array();
  for (const ValueBuffer& b : buffers) {
    nlohmann::ordered_json jb = {{"value", b.value_name},
                                 {"device", arenas[b.device].device},
                                 {"kind", buffer_kind_name(b.kind)},
                                 {"bytes", b.size},
                                 {"first_step", b.first_step},
                                 {"last_step", b.last_step}};
    if (b.kind == BufferKind::kArena) jb["offset"] = b.offset;
    if (b.kind == BufferKind::kView) jb["alias_of"] = buffers[b.alias_of].value_name;
    j["buffers"].push_back(std::move(jb));
  }
  j["planned_bytes"] = planned_bytes();
  j["naive_bytes"] = naive_bytes();
  return j.dump(2);
}

}  // namespace rma::graph
