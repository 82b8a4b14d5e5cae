// rma/compile/compiler.h — compiling a graph for a target, and the compiled
// model as a versioned artifact (.rmx).
//
// compile(): passes at the chosen level, then, when every dimension is known
// (static shapes, e.g. --batch-size with the other dims fixed by the model),
// specialize + partition + memory plan now; otherwise those happen per input
// shape signature when the model runs. The result is serialized into an .rmx
// (rma/compile/artifact.h): the plan (graph after passes, with symbolic
// dims, node attributes, constant descriptors), the constants' bytes in one
// mmap-aligned "weights" section, the placement and memory plan when static,
// the options and the target fingerprint. Loading maps the file: constants
// are views of the mapping (no copy on host-memory devices), nothing is
// recompiled, and a fingerprint that does not match the device is an Error
// naming both sides.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rma/compile/artifact.h"
#include "rma/device.h"
#include "rma/graph/ir.h"
#include "rma/graph/memory_plan.h"
#include "rma/graph/partition.h"

namespace rma::compile {

struct CompileOptions {
  std::string target = "auto";  // device spec: "cpu", "opencl:0", "cuda:0", "auto"
  int opt_level = 2;            // -O0 .. -O3 (graph::run_passes)
  // Static dims: `batch_size` binds the leading dimension of every graph
  // input whose leading dimension is symbolic; `dims` binds symbols by name.
  // Unbound symbols stay dynamic.
  std::optional<int64_t> batch_size;
  std::map<std::string, int64_t> dims;
  bool strict = false;  // a node the target cannot run is an Error, not a CPU fallback
  // Called as compilation advances: (stage, fraction done in [0, 1]).
  std::function<void(const std::string& stage, double fraction)> on_progress;

  // The options that change the result, as "key=value" pairs in a fixed
  // order (cache keys, the artifact header); `on_progress` is not one.
  std::map<std::string, std::string> canonical() const;
};

// A graph compiled for one target device.
class CompiledModel {
 public:
  // Runs passes; when every dim is static, also specializes, partitions and
  // plans memory. Errors name the node and why (strict fallback, bad dims).
  static CompiledModel compile(const graph::Graph& graph, const CompileOptions& options);

  // The .rmx bytes, and saving them atomically.
  std::vector<uint8_t> serialize() const;
  void save(const std::string& path) const;
  // Loads without recompiling. `device`: where it will run; its fingerprint
  // must match the artifact's (an Error naming both sides otherwise).
  static CompiledModel load(const std::string& path, const Device& device);
  static CompiledModel from_bytes(std::vector<uint8_t> bytes, const std::string& name,
                                  const Device& device);

  const graph::Graph& graph() const;    // after passes (symbolic dims kept)
  const Fingerprint& target() const;
  const std::map<std::string, std::string>& options() const;
  bool is_static() const;               // specialized, placed and planned at compile time
  // Present when is_static().
  const graph::Graph* specialized() const;
  const graph::Placement* placement() const;
  const graph::MemoryPlan* memory_plan() const;

  CompiledModel(CompiledModel&&) noexcept;
  CompiledModel& operator=(CompiledModel&&) noexcept;
  ~CompiledModel();

 private:
  struct Impl;
  explicit CompiledModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rma::compile
