// rma/graph/partition.h — which device runs each node of a specialized graph.
//
// partition() asks every requested device whether it runs each node (the
// plugin's op_supported with the node's concrete descriptors; graph_partition
// for devices that compile subgraphs), then places nodes one by one in
// execution order on the cheapest device: estimated op time plus the time to
// copy inputs that live elsewhere. A node no requested device runs goes to
// the host CPU (the fallback) with one warning naming the ops and why; with
// `strict` that is an Error instead. The result lists the execution steps —
// nodes and the copies between devices they need — and reads as a report
// (to_text(), to_json()). docs/partitioning.md has the cost model.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rma/device.h"
#include "rma/graph/ir.h"

namespace rma::graph {

// What the cost model assumes of a device. Derived from rma_device_info
// (type and compute units) unless PartitionOptions::throughput overrides.
struct DeviceThroughput {
  double gflops = 0;     // sustained f32 GFLOP/s
  double mem_gbps = 0;   // memory bandwidth, GB/s
  double launch_us = 0;  // fixed cost of one op
};

// The figures partition() uses for `device` (no overrides applied).
DeviceThroughput default_throughput(const Device& device);

struct PartitionOptions {
  // A node no requested device runs is an Error (naming the node, the op and
  // each device's reason) instead of running on the host CPU.
  bool strict = false;
  // Graph outputs are returned on the host CPU (a copy is planned from the
  // device that computes them); false leaves each on its producer's device.
  bool outputs_on_host = true;
  // Copies between the host and a device: bandwidth and fixed cost per copy.
  // A copy between two non-host devices goes through the host (twice).
  double link_gbps = 8.0;
  double copy_latency_us = 10.0;
  // Per device name ("opencl:0"): figures replacing default_throughput().
  std::map<std::string, DeviceThroughput> throughput;
};

// Where one node runs and why.
struct NodePlacement {
  NodeId node = -1;
  std::string name;       // the node's name
  std::string op;         // op_kind_name
  int device = -1;        // index into Placement::devices; -1: a view of a constant (no step)
  bool fallback = false;  // on the host CPU because no requested device runs it
  // "cost 12.5 us (cpu 30.1 us)", "only opencl:0 runs it", "view",
  // "fallback: opencl:0: <the plugin's reason>".
  std::string reason;
  double cost_us = 0;                 // on the chosen device, input copies included
  int subgraph = -1;                  // compiling devices: the subgraph graph_partition put it in
  std::vector<std::string> declined;  // "opencl:0: <reason>" per device that declined
};

// A copy of one value from one device to another, per run.
struct Transfer {
  ValueId value = kNoValue;
  std::string value_name;
  int from = -1;  // indices into Placement::devices
  int to = -1;
  uint64_t bytes = 0;
};

// One execution step: a node, or a copy (index into Placement::copies).
struct Step {
  enum class Kind : int32_t { kNode, kCopy };
  Kind kind = Kind::kNode;
  int index = -1;  // NodeId for kNode, copy index for kCopy
};

// Where a value lives: a device index, or kStatic for constants (and views
// of constants), which are uploaded once to every device that reads them.
constexpr int kStatic = -2;

struct Placement {
  // The requested devices in order, then the host CPU when it was not among
  // them (graph inputs arrive there; fallback nodes run there).
  std::vector<Device> devices;
  int host = 0;  // index of the host CPU in `devices`
  bool outputs_on_host = true;
  std::vector<NodePlacement> nodes;  // one per graph node, in node order
  std::vector<int> value_device;     // one per value: producer's device, host for inputs, kStatic
  std::vector<Transfer> copies;
  std::vector<Step> steps;  // execution order; each copy just before its first reader
  // Bytes of constants uploaded once (at plan build) per device; 0 where the
  // device reads the host copy in place.
  std::vector<uint64_t> constant_upload_bytes;
  double estimated_us = 0;  // the cost model's total for one run
  std::string warning;      // the fallback warning logged, empty when none

  uint64_t bytes_moved() const;               // by copies, per run
  std::vector<int> nodes_per_device() const;  // views of constants not counted
  int fallback_count() const;
  std::string to_text() const;  // a table: node -> device, reason; copies; totals
  std::string to_json() const;  // the same as a JSON object (docs/partitioning.md)
};

// Places every node of `graph`, which must be specialized (Graph::specialize:
// interface ops and views only, every shape known). `devices` must be
// non-empty; ties in cost go to the earlier device.
Placement partition(const Graph& graph, const std::vector<Device>& devices,
                    const PartitionOptions& options = {});

// Whether a core op only reinterprets its input's shape (it aliases the
// input's storage and never reaches a plugin).
bool is_view_op(const OpKind& op);

}  // namespace rma::graph
