// Compiling a graph for a target and the compiled model as an .rmx artifact
// (include/rma/compile/compiler.h). The plan's byte format lives in
// plan_format.cpp; docs/compiler.md describes both sections.
#include "rma/compile/compiler.h"

#include <chrono>
#include <mutex>
#include <set>

#include "plan_format.h"
#include "rma/error.h"
#include "rma/graph/passes.h"
#include "rma/log.h"
#include "rma/tensor.h"

namespace rma::compile {
namespace {

using detail::ByteReader;
using detail::ByteWriter;

constexpr uint8_t kPlanMagic[8] = {'R', 'M', 'A', 'P', 'L', 'A', 'N', '\0'};
constexpr uint32_t kFlagStatic = 1;
const char* const kPlanSection = "plan";
const char* const kWeightsSection = "weights";
constexpr char kKernelsSectionPrefix[] = "kernels.";
// Prepared ops (rma/prepared.h) of a static plan: magic, format version
// (u32), count (u32), then per node: node index (u32), plugin name (str),
// the plugin's bytes (u64 length + bytes).
const char* const kPreparedSection = "prepared";
constexpr uint8_t kPreparedMagic[8] = {'R', 'M', 'A', 'P', 'R', 'E', 'P', '\0'};
constexpr uint32_t kPreparedFormatVersion = 1;
// Plans of models compiled at -O2 and above prepare their ops (pre-packed
// weights), at compile time into the artifact and at load from it.

std::string join(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

// Applies `batch_size` and `dims` to the graph inputs' symbolic dims and
// re-infers every shape, so the passes that follow fold what became known.
void bind_static_dims(graph::Graph& g, const CompileOptions& options) {
  if (!options.batch_size && options.dims.empty()) return;
  std::set<std::string> symbols;
  for (graph::ValueId v : g.inputs())
    for (const graph::Dim& d : g.value(v).shape)
      if (!d.known()) symbols.insert(d.symbol);

  graph::Bindings bound;
  for (const auto& [name, size] : options.dims) {
    if (size < 0)
      throw Error(ErrorCode::kInvalidArgument,
                  "dims: '" + name + "' = " + std::to_string(size) + ", expected a size >= 0");
    if (!symbols.count(name))
      throw Error(ErrorCode::kInvalidArgument,
                  "dims: the model's inputs have no dimension named '" + name +
                      "' (their symbols: " + join(symbols) + ")");
    bound[name] = size;
  }
  if (options.batch_size) {
    const int64_t batch = *options.batch_size;
    if (batch < 1)
      throw Error(ErrorCode::kInvalidArgument,
                  "batch_size " + std::to_string(batch) + ": expected at least 1");
    std::string inputs;
    bool any = false;
    for (graph::ValueId v : g.inputs()) {
      const graph::Value& value = g.value(v);
      inputs += (inputs.empty() ? "" : ", ") + value.name + " " + graph::to_string(value.shape);
      if (value.shape.empty() || value.shape[0].known()) continue;
      any = true;
      const std::string& symbol = value.shape[0].symbol;
      const auto it = bound.find(symbol);
      if (it != bound.end() && it->second != batch)
        throw Error(ErrorCode::kInvalidArgument,
                    "batch_size " + std::to_string(batch) + " contradicts dims: '" + symbol +
                        "' (the leading dimension of input '" + value.name +
                        "') = " + std::to_string(it->second));
      bound[symbol] = batch;
    }
    if (!any)
      throw Error(ErrorCode::kInvalidArgument,
                  "batch_size " + std::to_string(batch) +
                      ": no graph input has a symbolic leading dimension to bind (" + inputs + ")");
  }

  std::vector<graph::Value>& values = g.mutable_values();
  for (graph::ValueId v : g.inputs())
    for (graph::Dim& d : values[v].shape)
      if (!d.known() && bound.count(d.symbol)) d = graph::Dim::of(bound.at(d.symbol));
  g.infer_shapes();
}

// Concrete input shapes when every graph input's dims are known.
std::optional<std::vector<Shape>> static_input_shapes(const graph::Graph& g) {
  std::vector<Shape> shapes;
  for (graph::ValueId v : g.inputs()) {
    std::optional<Shape> s = graph::known_shape(g.value(v).shape);
    if (!s) return std::nullopt;
    shapes.push_back(std::move(*s));
  }
  return shapes;
}

}  // namespace

// ------------------------------------------------------------ options
std::map<std::string, std::string> CompileOptions::canonical() const {
  std::string bound;
  for (const auto& [name, size] : dims)
    bound += (bound.empty() ? "" : ",") + name + "=" + std::to_string(size);
  return {{"batch_size", batch_size ? std::to_string(*batch_size) : "none"},
          {"dims", bound},
          {"opt_level", std::to_string(opt_level)},
          {"strict", strict ? "1" : "0"},
          {"target", target}};
}

Device resolve_target(const std::string& target, const graph::Graph& graph) {
  if (target != "auto") return Runtime::get().device(target);
  std::set<rma_op> used;
  for (const graph::Node& n : graph.nodes())
    if (n.is_interface_op()) used.insert(std::get<rma_op>(n.op));
  return Runtime::get().auto_device(std::vector<rma_op>(used.begin(), used.end()));
}

// ------------------------------------------------------------ model
struct CompiledModel::Impl {
  Device device;
  Fingerprint target;
  size_t target_index = 0;  // in a multi-target artifact loaded from
  std::string compiler_version;
  std::map<std::string, std::string> options;
  graph::Graph graph;
  std::optional<graph::Graph> specialized;
  std::optional<graph::Placement> placement;
  std::optional<graph::MemoryPlan> memory;

  std::vector<uint8_t> plan;  // the "plan" section
  // The "weights" section: laid out from the graphs' constants (compiled),
  // or the artifact it was loaded from, whose mapping the constants view.
  detail::WeightsLayout weights;
  std::shared_ptr<const Artifact> artifact;
  // "kernels.<plugin name>" sections: each device's kernel binaries
  // (Device::export_kernels) for static models on devices that export them.
  // A fresh compile collects them (and the prepared ops) on its first
  // serialization (ensure_warm): a model only run in this process never pays
  // for the warm-up run, the kernel export or the packing copies.
  mutable std::map<std::string, std::vector<uint8_t>> kernels;
  // The "prepared" section's bytes and, per specialized node, a view of its
  // plugin's bytes in them (or in the artifact's mapping).
  mutable std::vector<uint8_t> prepared_section;
  mutable std::map<int, std::span<const uint8_t>> prepared;
  mutable bool warmed = false;
  mutable std::mutex warm_mutex;

  bool prepares_ops() const;
  std::vector<uint8_t> encode_plan(detail::WeightsLayout& layout) const;
  void encode() { plan = encode_plan(weights); }
  std::vector<Device> exporting_devices() const;
  void ensure_warm() const;
  void warm_up(const std::vector<Device>& exporting) const;
  void import_kernels() const;
  void decode_prepared(const Artifact& a, bool verify);
  void index_prepared(std::span<const uint8_t> bytes, const std::string& where,
                      const std::string& section) const;
  void decode(const Artifact& a, bool verify_weights);
};

// Plan section: magic "RMAPLAN\0", format version (u32), flags (u32, bit 0:
// static), the graph after passes, then for static models the specialized
// graph and its placement. The memory plan is not stored: plan_memory() is
// a deterministic function of the specialized graph and the placement, and
// recomputing it at load is cheap.
std::vector<uint8_t> CompiledModel::Impl::encode_plan(detail::WeightsLayout& layout) const {
  ByteWriter w;
  for (uint8_t b : kPlanMagic) w.u8(b);
  w.u32(detail::kPlanFormatVersion);
  w.u32(specialized ? kFlagStatic : 0);
  detail::write_graph(w, graph, layout);
  if (specialized) {
    detail::write_graph(w, *specialized, layout);
    detail::write_placement(w, *placement);
  }
  return std::move(w.data());
}

void CompiledModel::Impl::decode(const Artifact& a, bool verify_weights) {
  const std::string plan_section = target_section(target_index, kPlanSection);
  const std::span<const uint8_t> bytes = a.section(plan_section);
  const std::span<const uint8_t> weight_bytes =
      verify_weights ? a.section(kWeightsSection) : a.unverified_section(kWeightsSection);
  plan.assign(bytes.begin(), bytes.end());
  ByteReader r(plan, a.path(), plan_section);
  for (uint8_t b : kPlanMagic)
    if (r.u8("magic") != b) r.fail("not a compiled plan (magic \"RMAPLAN\" expected)", 0);
  const size_t version_at = r.offset();
  const uint32_t version = r.u32("plan format version");
  if (version != detail::kPlanFormatVersion)
    throw Error(ErrorCode::kUnsupported,
                a.path() + ": section '" + plan_section + "', byte " + std::to_string(version_at) +
                    ": plan format version " + std::to_string(version) +
                    ", this build reads version " + std::to_string(detail::kPlanFormatVersion) +
                    " (compiled by " + a.compiler_version() + ", this is " +
                    compile::compiler_version() + "; recompile the model)");
  const size_t flags_at = r.offset();
  const uint32_t flags = r.u32("plan flags");
  if (flags & ~kFlagStatic) r.fail("unknown plan flags " + std::to_string(flags), flags_at);

  // The constants view the mapping; `artifact` (shared) keeps it alive for
  // as long as any of them lives.
  const detail::WeightsSource source{weight_bytes, std::const_pointer_cast<Artifact>(artifact)};
  graph = detail::read_graph(r, source);
  if (flags & kFlagStatic) {
    const size_t at = r.offset();
    specialized = detail::read_graph(r, source);
    if (!specialized->is_static())
      r.fail("the specialized graph has symbolic shapes or core ops that are not views", at);
    placement = detail::read_placement(r, *specialized, device);
    try {
      memory = graph::plan_memory(*specialized, *placement);
    } catch (const Error& e) {
      r.fail(std::string("memory plan: ") + e.what(), at);
    }
  }
  if (!r.at_end())
    r.fail(std::to_string(plan.size() - r.offset()) + " unexpected bytes after the plan");
}

// The placement's devices whose plugins export kernel binaries.
std::vector<Device> CompiledModel::Impl::exporting_devices() const {
  std::vector<Device> exporting;
  for (const Device& d : placement->devices)
    if (d.supports_kernel_export()) exporting.push_back(d);
  return exporting;
}

bool CompiledModel::Impl::prepares_ops() const {
  const auto it = options.find("opt_level");
  return it != options.end() && it->second >= "2";
}

// For a static plan: prepares its ops (kept in the "prepared" section), then
// runs it once on zero-filled inputs so every op builds its kernels, and
// keeps what each exporting device built. A failed run is logged and the
// kernels built so far are kept: the sections only save build time at load.
void CompiledModel::Impl::ensure_warm() const {
  std::lock_guard<std::mutex> lock(warm_mutex);
  if (warmed || artifact || !specialized) return;
  warmed = true;
  const std::vector<Device> exporting = exporting_devices();
  if (!exporting.empty() || prepares_ops()) warm_up(exporting);
}

void CompiledModel::Impl::warm_up(const std::vector<Device>& exporting) const {
  graph::Plan warm(*specialized, *placement, *memory);
  if (prepares_ops() && warm.prepare_ops() > 0) {
    ByteWriter w;
    const std::map<int, std::vector<uint8_t>> exported = warm.export_prepared();
    for (uint8_t b : kPreparedMagic) w.u8(b);
    w.u32(kPreparedFormatVersion);
    w.u32(static_cast<uint32_t>(exported.size()));
    for (const auto& [node, bytes] : exported) {
      w.u32(static_cast<uint32_t>(node));
      const std::string& plugin = placement->devices[placement->nodes[node].device].plugin_name();
      w.str(plugin);
      w.bytes(bytes);
    }
    prepared_section = std::move(w.data());
    index_prepared(prepared_section, "compiled model", kPreparedSection);
    log::debug("compile: " + std::to_string(exported.size()) + " ops prepared (" +
               std::to_string(prepared_section.size()) + " bytes)");
  }
  if (exporting.empty()) return;
  try {
    const Device host = Runtime::get().device("cpu");
    std::vector<Tensor> inputs;
    for (graph::ValueId v : specialized->inputs()) {
      const graph::Value& value = specialized->value(v);
      inputs.push_back(Tensor::zeros(*graph::known_shape(value.shape), value.dtype, host));
    }
    warm.run(inputs);
  } catch (const Error& e) {
    log::warn(
        std::string("compile: running the plan on zero inputs to build its kernels failed (") +
        e.what() + "); the artifact carries the kernels built so far");
  }
  for (const Device& d : exporting)
    kernels.emplace(kKernelsSectionPrefix + d.plugin_name(), d.export_kernels());
}

// The "prepared" section, checked; `prepared` views the mapping (which
// `artifact` keeps alive) and `prepared_section` stays empty: writing the
// model again copies the section from the artifact.
void CompiledModel::Impl::decode_prepared(const Artifact& a, bool verify) {
  const std::string name = target_section(target_index, kPreparedSection);
  index_prepared(verify ? a.section(name) : a.unverified_section(name), a.path(), name);
}

// Checks a "prepared" section and points `prepared` at each node's bytes.
void CompiledModel::Impl::index_prepared(std::span<const uint8_t> bytes, const std::string& where,
                                         const std::string& name) const {
  ByteReader r(bytes, where, name);
  for (uint8_t b : kPreparedMagic)
    if (r.u8("magic") != b) r.fail("not a prepared-ops section (magic \"RMAPREP\" expected)", 0);
  const size_t version_at = r.offset();
  if (const uint32_t version = r.u32("format version"); version != kPreparedFormatVersion)
    r.fail("prepared-ops format " + std::to_string(version) + ", this build reads " +
               std::to_string(kPreparedFormatVersion),
           version_at);
  const uint32_t count = r.u32("count");
  const size_t nodes = specialized->nodes().size();
  for (uint32_t i = 0; i < count; ++i) {
    const size_t at = r.offset();
    const uint32_t node = r.u32("node index");
    if (node >= nodes)
      r.fail("node index " + std::to_string(node) + " past the plan's " + std::to_string(nodes) +
                 " nodes",
             at);
    const std::string plugin = r.str("plugin name");
    const std::span<const uint8_t> entry = r.bytes("prepared bytes");
    // Bytes made by another plugin (the model loaded elsewhere) are skipped.
    if (plugin == placement->devices[placement->nodes[node].device].plugin_name())
      prepared.emplace(static_cast<int>(node), entry);
  }
  if (!r.at_end()) r.fail("unexpected bytes after the prepared ops");
}

// Seeds each placement device's kernel cache from its plugin's section.
void CompiledModel::Impl::import_kernels() const {
  if (!placement) return;
  for (const Device& d : placement->devices) {
    auto it = kernels.find(kKernelsSectionPrefix + d.plugin_name());
    if (it != kernels.end() && d.supports_kernel_export()) d.import_kernels(it->second);
  }
}

CompiledModel::CompiledModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompiledModel::CompiledModel(CompiledModel&&) noexcept = default;
CompiledModel& CompiledModel::operator=(CompiledModel&&) noexcept = default;
CompiledModel::~CompiledModel() = default;

CompiledModel CompiledModel::compile(const graph::Graph& source, const CompileOptions& options) {
  std::vector<CompiledModel> one = compile_targets(source, options, {options.target});
  return std::move(one.front());
}

std::vector<CompiledModel> CompiledModel::compile_targets(const graph::Graph& source,
                                                          const CompileOptions& options,
                                                          const std::vector<std::string>& targets) {
  const auto progress = [&](const char* stage, double fraction) {
    if (options.on_progress) options.on_progress(stage, fraction);
  };
  if (options.opt_level < 0 || options.opt_level > 3)
    throw Error(ErrorCode::kInvalidArgument,
                "opt_level " + std::to_string(options.opt_level) + ": expected 0 to 3");
  if (targets.empty() || targets.size() > 16)
    throw Error(ErrorCode::kInvalidArgument,
                "compile for 1 to 16 targets, got " + std::to_string(targets.size()));
  const auto started = std::chrono::steady_clock::now();

  // Passes and specialization do not depend on the target: done once, and
  // every target's plan shares the constants (stored once in the artifact).
  progress("passes", 0.0);
  graph::Graph g = source;
  bind_static_dims(g, options);
  graph::run_passes(g, options.opt_level);
  const graph::Graph canonical = detail::canonical(g);
  std::optional<graph::Graph> specialized;
  if (const std::optional<std::vector<Shape>> shapes = static_input_shapes(canonical)) {
    progress("specialize", 0.4);
    specialized = detail::canonical(canonical.specialize(*shapes));
  }

  CompileOptions recorded = options;
  if (targets.size() > 1) {
    recorded.target.clear();
    for (const std::string& t : targets)
      recorded.target += (recorded.target.empty() ? "" : ",") + t;
  }
  std::vector<CompiledModel> models;
  std::vector<std::string> devices_seen;
  const double n = static_cast<double>(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    auto impl = std::make_unique<Impl>();
    impl->graph = canonical;
    impl->device = resolve_target(targets[i], impl->graph);
    for (const std::string& seen : devices_seen)
      if (seen == impl->device.name())
        throw Error(ErrorCode::kInvalidArgument,
                    "targets '" + recorded.target + "' name " + seen + " twice");
    devices_seen.push_back(impl->device.name());
    impl->target = fingerprint_of(impl->device);
    impl->compiler_version = compile::compiler_version();
    impl->options = recorded.canonical();
    if (specialized) {
      const auto at = [&](double within) {
        return 0.6 + 0.3 * (static_cast<double>(i) + within) / n;
      };
      impl->specialized = *specialized;
      progress("partition", at(0.0));
      graph::PartitionOptions partition_options;
      partition_options.strict = options.strict;
      impl->placement = graph::partition(*impl->specialized, {impl->device}, partition_options);
      progress("memory plan", at(2.0 / 3));
      impl->memory = graph::plan_memory(*impl->specialized, *impl->placement);
    }
    impl->encode();
    models.push_back(CompiledModel(std::move(impl)));
  }
  progress("serialize", 0.9);
  progress("serialize", 1.0);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  log::debug("compiled " + std::to_string(canonical.nodes().size()) + " nodes for " +
             recorded.target + (specialized ? " (static)" : " (dynamic shapes)") + " in " +
             std::to_string(static_cast<int64_t>(ms)) + " ms");
  return models;
}

// One artifact holding each model's plan (sections "t<i>.*" past the first)
// and the constants they share once.
ArtifactWriter CompiledModel::targets_writer(const std::vector<CompiledModel>& models) {
  if (models.empty())
    throw Error(ErrorCode::kInvalidArgument, "serialize_targets: no compiled models");
  if (models.size() == 1) return models.front().writer();
  std::vector<Fingerprint> targets;
  detail::WeightsLayout weights;
  std::vector<std::vector<uint8_t>> plans;
  for (const CompiledModel& m : models) {
    const Impl& impl = *m.impl_;
    if (impl.artifact)
      throw Error(ErrorCode::kInvalidArgument,
                  "serialize_targets: models must come from compile_targets, not from an "
                  "artifact (" +
                      impl.artifact->path() + ")");
    if (impl.options != models.front().impl_->options ||
        impl.compiler_version != models.front().impl_->compiler_version)
      throw Error(ErrorCode::kInvalidArgument,
                  "serialize_targets: models compiled with different options (use one "
                  "compile_targets call)");
    impl.ensure_warm();
    targets.push_back(impl.target);
    plans.push_back(impl.encode_plan(weights));
  }
  const Impl& first = *models.front().impl_;
  ArtifactWriter w(targets, first.compiler_version, first.options);
  for (size_t i = 0; i < models.size(); ++i)
    w.add_section(target_section(i, kPlanSection), plans[i]);
  w.add_section(kWeightsSection, weights.bytes(), /*mmap=*/true);
  for (size_t i = 0; i < models.size(); ++i) {
    const Impl& impl = *models[i].impl_;
    for (const auto& [name, bytes] : impl.kernels) w.add_section(target_section(i, name), bytes);
    if (!impl.prepared_section.empty())
      w.add_section(target_section(i, kPreparedSection), impl.prepared_section);
  }
  return w;
}

std::vector<uint8_t> CompiledModel::serialize_targets(const std::vector<CompiledModel>& models) {
  return targets_writer(models).serialize();
}

void CompiledModel::save_targets(const std::vector<CompiledModel>& models,
                                 const std::string& path) {
  targets_writer(models).write(path);
}

std::vector<uint8_t> CompiledModel::serialize() const { return writer().serialize(); }

void CompiledModel::save(const std::string& path) const { writer().write(path); }

CompiledModel CompiledModel::load(const std::string& path, const Device& device) {
  return load(path, device, LoadOptions{});
}

CompiledModel CompiledModel::from_bytes(std::vector<uint8_t> bytes, const std::string& name,
                                        const Device& device) {
  return from_bytes(std::move(bytes), name, device, LoadOptions{});
}

CompiledModel CompiledModel::load(const std::string& path, const Device& device,
                                  const LoadOptions& options) {
  return from_artifact(std::make_shared<Artifact>(Artifact::open(path)), device, options);
}

CompiledModel CompiledModel::from_bytes(std::vector<uint8_t> bytes, const std::string& name,
                                        const Device& device, const LoadOptions& options) {
  return from_artifact(std::make_shared<Artifact>(Artifact::from_bytes(std::move(bytes), name)),
                       device, options);
}

CompiledModel CompiledModel::from_view(std::shared_ptr<const void> owner,
                                       std::span<const uint8_t> bytes, const std::string& name,
                                       const Device& device, const LoadOptions& options) {
  return from_artifact(
      std::make_shared<Artifact>(Artifact::from_view(std::move(owner), bytes, name)), device,
      options);
}

CompiledModel CompiledModel::from_artifact(std::shared_ptr<const Artifact> artifact,
                                           const Device& device, const LoadOptions& options) {
  const size_t target_index = artifact->target_index(fingerprint_of(device));
  auto impl = std::make_unique<Impl>();
  impl->device = device;
  impl->target_index = target_index;
  impl->target = artifact->targets()[target_index];
  impl->compiler_version = artifact->compiler_version();
  impl->options = artifact->options();
  impl->artifact = artifact;
  impl->decode(*artifact, options.verify_weights);
  const std::string kernels_prefix = target_section(target_index, kKernelsSectionPrefix);
  for (const SectionInfo& section : artifact->sections())
    if (section.name.starts_with(kernels_prefix)) {
      const std::span<const uint8_t> bytes = artifact->section(section.name);
      impl->kernels.emplace(kKernelsSectionPrefix + section.name.substr(kernels_prefix.size()),
                            std::vector<uint8_t>(bytes.begin(), bytes.end()));
    }
  impl->import_kernels();
  if (impl->specialized && artifact->has_section(target_section(target_index, kPreparedSection)))
    impl->decode_prepared(*artifact, options.verify_weights);
  return CompiledModel(std::move(impl));
}

// The artifact: the header (target, compiler version, options), the plan and
// the weights (mmap-aligned).
ArtifactWriter CompiledModel::writer() const {
  const Impl& m = *impl_;
  m.ensure_warm();
  ArtifactWriter w(m.target, m.compiler_version, m.options);
  w.add_section(kPlanSection, m.plan);
  if (m.artifact)
    w.add_section(kWeightsSection, m.artifact->section(kWeightsSection), /*mmap=*/true);
  else
    w.add_section(kWeightsSection, m.weights.bytes(), /*mmap=*/true);
  for (const auto& [name, bytes] : m.kernels) w.add_section(name, bytes);
  // A model loaded from a multi-target artifact is written as a single
  // target: its own plan, kernels and prepared ops.
  if (const std::string prepared = target_section(m.target_index, kPreparedSection);
      m.artifact && m.artifact->has_section(prepared))
    w.add_section(kPreparedSection, m.artifact->section(prepared));
  else if (!m.prepared_section.empty())
    w.add_section(kPreparedSection, m.prepared_section);
  return w;
}

const graph::Graph& CompiledModel::graph() const { return impl_->graph; }
const Fingerprint& CompiledModel::target() const { return impl_->target; }
const std::map<std::string, std::string>& CompiledModel::options() const { return impl_->options; }
bool CompiledModel::is_static() const { return impl_->specialized.has_value(); }
const graph::Graph* CompiledModel::specialized() const {
  return impl_->specialized ? &*impl_->specialized : nullptr;
}
const graph::Placement* CompiledModel::placement() const {
  return impl_->placement ? &*impl_->placement : nullptr;
}
const graph::MemoryPlan* CompiledModel::memory_plan() const {
  return impl_->memory ? &*impl_->memory : nullptr;
}
bool CompiledModel::prepares_ops() const { return impl_->prepares_ops(); }
const Device& CompiledModel::device() const { return impl_->device; }
const std::string& CompiledModel::compiler_version() const { return impl_->compiler_version; }

graph::Plan CompiledModel::build_plan() const {
  if (!is_static())
    throw Error(ErrorCode::kInvalidArgument,
                "build_plan: the model has dynamic dimensions; specialize its graph for the "
                "input shapes and use graph::Plan::create");
  graph::Plan plan(*impl_->specialized, *impl_->placement, *impl_->memory);
  if (impl_->prepares_ops()) plan.prepare_ops(impl_->prepared);
  return plan;
}

}  // namespace rma::compile
