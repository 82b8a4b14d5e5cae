// rma/graph/executor.h — runs a specialized graph across devices.
//
// A Plan is built once from a specialized graph, its placement and its
// memory plan: it allocates one arena tensor per device, uploads every
// constant once to each device that reads it, and precomputes the arena
// views each step writes. run() then executes the steps in order — ops
// through rma::ops::run with their outputs given as arena views, copies
// between devices, views as reshapes — and returns the graph outputs.
//
//   Graph g = model.specialize({{1, 128}});
//   Plan plan = Plan::create(g, {rt.device("opencl:0")});
//   std::vector<Tensor> out = plan.run({ids});
//   std::puts(plan.placement().to_text().c_str());
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "rma/graph/ir.h"
#include "rma/graph/memory_plan.h"
#include "rma/graph/partition.h"
#include "rma/tensor.h"

namespace rma::ops {
class PreparedOp;
class PreparedCache;
}  // namespace rma::ops

namespace rma::graph {

class Plan {
 public:
  // `graph` specialized; `placement` and `memory` made for it. Throws an
  // Error when they disagree or a node sits on a device that cannot run ops
  // one by one.
  Plan(Graph graph, Placement placement, MemoryPlan memory);
  // partition() then plan_memory() then the constructor.
  static Plan create(const Graph& specialized, const std::vector<Device>& devices,
                     const PartitionOptions& options = {});

  // One tensor per graph input, in order, on any device (the host CPU is
  // where they are planned to arrive). Checks count, dtypes and shapes,
  // naming the input. Returns the outputs, in order, each in storage of its
  // own: on the host CPU, or on the device that computed it when the
  // placement was made with outputs_on_host = false. Calls are serialised.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);

  // Prepared ops (rma/prepared.h): offers each op node with constant inputs
  // (weights) to its device's op_prepare, so that the plugin keeps them in
  // its own kernel layout (the CPU's linear pre-packs w). `stored` maps node
  // indices to bytes an earlier export_prepared() made (an artifact's
  // section); those are imported instead, and bytes the plugin rejects as
  // made for another machine are prepared afresh. Returns how many nodes
  // are prepared. Worth it for plans that run many times: a prepared node
  // keeps a second copy of its constants.
  // With `cache`, ops come from it (and new ones go to it), so plans of
  // one model for several input shapes prepare each weight once.
  int prepare_ops(const std::map<int, std::span<const uint8_t>>& stored = {},
                  ops::PreparedCache* cache = nullptr);
  // Node index -> the plugin's bytes for each prepared node.
  std::map<int, std::vector<uint8_t>> export_prepared() const;
  int prepared_count() const;

  const Graph& graph() const { return graph_; }
  const Placement& placement() const { return placement_; }
  const MemoryPlan& memory_plan() const { return memory_; }
  // Arena bytes allocated per device (Placement::devices order).
  std::vector<uint64_t> arena_bytes() const;

 private:
  void check_consistent() const;
  void allocate_arenas();
  void prepare_static_buffers();
  std::vector<Tensor> checked_inputs(const std::vector<Tensor>& inputs) const;
  void run_node(int node_index, int device, std::vector<Tensor>& live) const;
  Tensor fresh_output(ValueId value, int device) const;

  Graph graph_;
  Placement placement_;
  MemoryPlan memory_;
  std::vector<Tensor> arenas_;              // per device; undefined when unused
  std::vector<Tensor> static_buffers_;      // per buffer: arena views, constants, views of those
  std::vector<bool> input_needed_on_host_;  // per graph input
  std::vector<std::shared_ptr<ops::PreparedOp>> prepared_;  // per node; null: run as is
  std::unique_ptr<std::mutex> run_mutex_ = std::make_unique<std::mutex>();
};

}  // namespace rma::graph
