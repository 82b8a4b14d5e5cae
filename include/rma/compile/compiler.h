// rma/compile/compiler.h — compiling a graph for a target, and the compiled
// model as a versioned artifact (.rmx).
//
// compile(): passes at the chosen level, then, when every dimension is known
// (static shapes, e.g. --batch-size with the other dims fixed by the model),
// specialize + partition + memory plan now; otherwise those happen per input
// shape signature when the model runs. The result is serialized into an .rmx
// (rma/compile/artifact.h): the plan (graph after passes, with symbolic
// dims, node attributes, constant descriptors), the constants' bytes in one
// mmap-aligned "weights" section, the specialized graph and its placement
// when static (the memory plan, a deterministic function of those two, is
// recomputed at load), the options and the target fingerprint. Loading maps
// the file: constants are views of the mapping (no copy on host-memory
// devices), nothing is recompiled, and a fingerprint that does not match the
// device is an Error naming both sides. docs/compiler.md has the layout.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rma/compile/artifact.h"
#include "rma/device.h"
#include "rma/graph/executor.h"
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
  // Stages in order: "passes", then for static models "specialize",
  // "partition", "memory plan", then "serialize"; each is reported as it
  // starts with the fraction of the whole compile done so far, and the last
  // call is ("serialize", 1.0).
  std::function<void(const std::string& stage, double fraction)> on_progress;

  // The options that change the result, as "key=value" pairs in a fixed
  // order (cache keys, the artifact header); `on_progress` is not one.
  std::map<std::string, std::string> canonical() const;
};

// The device `target` names ("cpu", "opencl:0", ...); "auto" picks the
// first accelerator that supports every interface op of `graph`
// (Runtime::auto_device), else the CPU.
Device resolve_target(const std::string& target, const graph::Graph& graph);

struct LoadOptions {
  // Check the weights section's SHA-256 (one pass over every weight byte).
  // Turn it off only for bytes verified otherwise: the compile cache checks
  // each entry's SHA-256 on read. The plan section is always checked.
  bool verify_weights = true;
};

// A graph compiled for one target device.
class CompiledModel {
 public:
  // Runs passes; when every dim is static, also specializes, partitions and
  // plans memory. Errors name the node and why (strict fallback, bad dims).
  static CompiledModel compile(const graph::Graph& graph, const CompileOptions& options);

  // Multi-target: passes and specialization once, then placement, memory
  // plan, kernels and prepared ops for each target (device specs, in order
  // of preference; distinct devices). Returns one model per target.
  static std::vector<CompiledModel> compile_targets(const graph::Graph& graph,
                                                    const CompileOptions& options,
                                                    const std::vector<std::string>& targets);

  // The .rmx bytes, and saving them atomically.
  std::vector<uint8_t> serialize() const;
  void save(const std::string& path) const;
  // One .rmx holding the plans of every model of one compile_targets() call
  // and their constants once; load() picks the plan of the device it is
  // given (docs/compiler.md "Several targets").
  static std::vector<uint8_t> serialize_targets(const std::vector<CompiledModel>& models);
  static void save_targets(const std::vector<CompiledModel>& models, const std::string& path);
  // Loads without recompiling. `device`: where it will run; its fingerprint
  // must match the artifact's (one of its targets': that plan is loaded), an
  // Error naming both sides otherwise.
  static CompiledModel load(const std::string& path, const Device& device);
  static CompiledModel from_bytes(std::vector<uint8_t> bytes, const std::string& name,
                                  const Device& device);
  static CompiledModel load(const std::string& path, const Device& device,
                            const LoadOptions& options);
  static CompiledModel from_bytes(std::vector<uint8_t> bytes, const std::string& name,
                                  const Device& device, const LoadOptions& options);
  // In place over bytes another owner keeps alive (a compile-cache hit's
  // mapped entry, CompileCache::get_view): nothing is copied.
  static CompiledModel from_view(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes,
                                 const std::string& name, const Device& device,
                                 const LoadOptions& options);

  const graph::Graph& graph() const;  // after passes (symbolic dims kept)
  const Fingerprint& target() const;
  const std::map<std::string, std::string>& options() const;
  bool is_static() const;  // specialized, placed and planned at compile time
  // Present when is_static().
  const graph::Graph* specialized() const;
  const graph::Placement* placement() const;
  const graph::MemoryPlan* memory_plan() const;

  // Whether its plans prepare their ops (opt_level >= 2; rma/prepared.h):
  // build_plan() does, from the artifact's "prepared" section when present.
  bool prepares_ops() const;
  // The device compiled for (compile) or loaded onto (load, from_bytes).
  const Device& device() const;
  // The compiler version that made it (this build's for compile()).
  const std::string& compiler_version() const;
  // The executor of a static model: its specialized graph, placement and
  // memory plan, nothing recomputed. Throws Error when !is_static().
  graph::Plan build_plan() const;

  CompiledModel(CompiledModel&&) noexcept;
  CompiledModel& operator=(CompiledModel&&) noexcept;
  ~CompiledModel();

 private:
  struct Impl;
  explicit CompiledModel(std::unique_ptr<Impl> impl);
  static CompiledModel from_artifact(std::shared_ptr<const Artifact> artifact, const Device& device,
                                     const LoadOptions& options);
  ArtifactWriter writer() const;
  static ArtifactWriter targets_writer(const std::vector<CompiledModel>& models);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rma::compile
