// rma/graph/memory_plan.h — one static arena per device for a placed graph.
//
// Every value a step writes on a device gets a buffer there. Intermediates
// share one arena per device: each knows the steps it is live over (written
// by its first, read last by its last) and two buffers whose lifetimes
// overlap never overlap in bytes. Offsets are chosen greedy by size with
// best fit over offset gaps (largest buffer first, into the smallest free
// gap among the buffers live at the same time): placing big buffers first
// leaves small ones to fill the holes, which keeps the peak near the lower
// bound (the most bytes live at one step) on transformer-like graphs.
// Views alias their input's buffer; constants are uploaded, not planned;
// graph inputs are the caller's tensors; graph outputs get buffers of their
// own per run, so a result never aliases the next run's arena.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "rma/graph/ir.h"
#include "rma/graph/partition.h"

namespace rma::graph {

enum class BufferKind : int32_t {
  kArena,     // a slot of the device's arena
  kOutput,    // a graph output: a fresh tensor each run
  kInput,     // a graph input: the caller's tensor
  kConstant,  // a constant, uploaded once to the device (or read in place)
  kView,      // a view node's output: aliases `alias_of`
};
std::string_view buffer_kind_name(BufferKind kind);

// One value's storage on one device.
struct ValueBuffer {
  ValueId value = kNoValue;
  std::string value_name;
  int device = -1;  // index into Placement::devices
  BufferKind kind = BufferKind::kArena;
  int alias_of = -1;    // kView: index of the aliased buffer
  uint64_t offset = 0;  // kArena: byte offset in the arena (a multiple of kAlignment)
  uint64_t size = 0;    // bytes, rounded up to kAlignment for kArena
  int first_step = -1;  // step that writes it (-1: before the run)
  int last_step = -1;   // last step that reads it or a view of it (steps.size(): the end)
};

struct ArenaSummary {
  std::string device;
  uint64_t planned_bytes = 0;   // the arena's size: the planned peak
  uint64_t naive_bytes = 0;     // every buffer its own slot (no reuse)
  uint64_t max_live_bytes = 0;  // the most bytes live at one step: a lower bound
  int buffers = 0;              // arena buffers on this device
};

struct MemoryPlan {
  static constexpr uint64_t kAlignment = 256;

  std::vector<ValueBuffer> buffers;
  std::vector<ArenaSummary> arenas;  // one per Placement::devices entry

  // Index into `buffers` of `value` on device `device`, or -1.
  int find(ValueId value, int device) const;
  // The buffer a view chain ends at (itself when not a view).
  int root(int buffer) const;

  uint64_t planned_bytes() const;  // summed over devices
  uint64_t naive_bytes() const;
  std::string to_text() const;
  std::string to_json() const;

  std::map<std::pair<ValueId, int>, int> index;  // (value, device) -> buffer
};

// Plans the arenas of `graph` as placed by `placement` (same graph).
MemoryPlan plan_memory(const Graph& graph, const Placement& placement);

}  // namespace rma::graph
