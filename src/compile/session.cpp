// rma::Session (rma/session.h): a model file opened for one device.
//
// .onnx: the file's SHA-256, the device's fingerprint, the compile options
// and the compiler version make the compile-cache key; a hit is loaded with
// CompiledModel::from_bytes, a miss is imported, compiled and stored. A hit
// that cannot be loaded (compiled for another target, damaged) is reported,
// recompiled and replaced. .rmx: CompiledModel::load.
//
// run(): a static model has one Plan, built on the first run from the
// compiled placement and memory plan; a dynamic one is specialized,
// partitioned and planned per input shape signature, the most recent
// signatures' plans kept in a small LRU list.
#include "rma/session.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <list>
#include <mutex>
#include <span>
#include <utility>

#include "file_util.h"
#include "rma/compile/cache.h"
#include "rma/compile/sha256.h"
#include "rma/error.h"
#include "rma/graph/executor.h"
#include "rma/log.h"
#include "rma/prepared.h"
#if defined(RMA_HAVE_ONNX)
#include "rma/graph/onnx.h"
#endif

namespace rma {
namespace {

namespace fs = std::filesystem;
using compile::CompiledModel;

constexpr size_t kMaxPlans = 8;  // shape signatures whose plans a dynamic session keeps

std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

Device resolve_device(const std::string& spec) {
  Runtime& rt = Runtime::get();
  return spec == "auto" ? rt.default_device() : rt.device(spec);
}

// For an .rmx opened with "auto" (and no RM_DEVICE): the device it was
// compiled for, when present; else the default device, whose mismatch
// CompiledModel::load then reports naming both sides.
Device device_for_artifact(const std::string& path, const std::string& spec) {
  Runtime& rt = Runtime::get();
  if (spec != "auto" || rt.config().device != "auto") return resolve_device(spec);
  // The first of its targets (in the order they were compiled) present here.
  const compile::Artifact artifact = compile::Artifact::open(path);
  for (const compile::Fingerprint& target : artifact.targets())
    for (const Device& d : rt.devices())
      if (compile::fingerprint_of(d) == target) return d;
  return rt.default_device();
}

#if defined(RMA_HAVE_ONNX)
// The runtime's configuration with RM_CACHE_DIR as it is now: the cache
// follows the variable even when it changed after the runtime started.
Config cache_root_config() {
  Config c = Runtime::get().config();
  if (const char* dir = std::getenv("RM_CACHE_DIR"); dir && *dir) c.cache_dir = dir;
  return c;
}
#endif

bool option_set(const std::map<std::string, std::string>& options, const std::string& key) {
  const auto it = options.find(key);
  return it != options.end() && it->second != "0" && it->second != "false" && !it->second.empty();
}

std::string describe_io(const std::vector<SessionIo>& ios) {
  std::string out;
  for (const SessionIo& io : ios)
    out += (out.empty() ? "" : ", ") + io.name + " " + std::string(name(io.dtype)) +
           graph::to_string(io.shape);
  return out.empty() ? "none" : out;
}

std::vector<SessionIo> describe_values(const graph::Graph& g,
                                       const std::vector<graph::ValueId>& ids) {
  std::vector<SessionIo> out;
  for (graph::ValueId id : ids) {
    const graph::Value& v = g.value(id);
    out.push_back({v.name, v.dtype, v.shape});
  }
  return out;
}

std::string signature_of(const std::vector<Shape>& shapes) {
  std::string key;
  for (const Shape& s : shapes) key += to_string(s) + ";";
  return key;
}

}  // namespace

struct Session::Impl {
  std::string path;
  SessionOptions options;
  Device device;
  std::optional<CompiledModel> model;
  bool cache_hit = false;
  std::string cache_key;
  bool strict = false;
  std::vector<SessionIo> inputs;
  std::vector<SessionIo> outputs;

  std::mutex mutex;  // serialises run(): the plan list and `last`
  std::shared_ptr<graph::Plan> static_plan;
  std::list<std::pair<std::string, std::shared_ptr<graph::Plan>>> plans;  // most recent first
  std::shared_ptr<graph::Plan> last;
  // A dynamic model's plans share prepared ops (each weight packed once).
  ops::PreparedCache prepared;

  void open_onnx();
  void open_rmx();
  void finish_open(bool compiled_now);
  std::vector<Tensor> ordered_inputs(const std::map<std::string, Tensor>& named) const;
  graph::Plan& plan_for(const std::vector<Tensor>& inputs);
};

// ------------------------------------------------------------------- open

void Session::Impl::open_onnx() {
#if defined(RMA_HAVE_ONNX)
  device = resolve_device(options.device);

  compile::CompileOptions co;
  co.target = device.name();
  co.opt_level = options.opt_level;
  co.batch_size = options.batch_size;
  co.dims = options.dims;
  co.strict = options.strict;
  // One fraction over the whole open: the import is the first fifth.
  constexpr double kImportShare = 0.2;
  const auto progress = [this](const std::string& stage, double fraction) {
    if (options.on_progress) options.on_progress(stage, fraction);
  };
  if (options.on_progress)
    co.on_progress = [progress](const std::string& stage, double fraction) {
      progress(stage, kImportShare + (1 - kImportShare) * fraction);
    };

  compile::CacheConfig config = compile::CacheConfig::from_environment(cache_root_config());
  if (!options.use_cache) config.enabled = false;
  compile::CompileCache cache(config);
  // Hashed once per version of the file (the cache remembers the digest by
  // the file's identity); mapped and parsed only on a miss.
  const std::string model_sha = cache.file_digest(path);
  cache_key = compile::CompileCache::key(model_sha, compile::fingerprint_of(device), co.canonical(),
                                         compile::compiler_version());
  const std::map<std::string, std::string> meta = {{"model", fs::path(path).filename().string()},
                                                   {"target", device.name()}};

  // Imports and compiles; the result is kept so a miss needs no reload.
  const auto compile_now = [&](bool serialize) {
    progress("import", 0.0);
    const compile::detail::MappedFile file(path);  // an Error naming the file when unreadable
    const std::span<const uint8_t> bytes(file.data(), file.size());
    graph::OnnxImportOptions io;
    io.external_data_dir = fs::path(path).parent_path().string();
    if (io.external_data_dir.empty()) io.external_data_dir = ".";
    const graph::Graph g = graph::import_onnx_bytes(bytes.data(), bytes.size(), io, path);
    progress("import", kImportShare);
    model.emplace(CompiledModel::compile(g, co));
    return serialize ? model->serialize() : std::vector<uint8_t>{};
  };
  if (!config.enabled) {
    // Nothing to store: compiled and run in this process, never serialized
    // (no kernel export, no packing copies for a section).
    const auto start = std::chrono::steady_clock::now();
    compile_now(false);
    log::info("compile cache off (RM_CACHE_ENABLED=0): compiled in " +
              std::to_string(static_cast<int64_t>(std::chrono::duration<double, std::milli>(
                                                      std::chrono::steady_clock::now() - start)
                                                      .count())) +
              " ms");
    return finish_open(true);
  }
  // A hit is loaded in place from the mapped entry, whose checksum the
  // cache just verified over every byte: no copy, no second hash of the
  // weights.
  if (std::optional<compile::CacheView> hit = cache.get_view(cache_key)) {
    try {
      compile::LoadOptions lo;
      lo.verify_weights = false;
      model.emplace(CompiledModel::from_view(
          hit->owner, hit->payload, path + " (compile cache entry " + cache_key.substr(0, 16) + ")",
          device, lo));
      cache_hit = true;
      log::info("compile cache hit (key " + cache_key.substr(0, 12) + "…, " +
                std::to_string(hit->payload.size()) + " bytes)");
      return finish_open(false);
    } catch (const Error& e) {
      // Compiled for another target or damaged: never served, replaced.
      log::warn("compile cache: the entry " + cache_key.substr(0, 16) + " for '" + path +
                "' cannot be used (" + e.what() + "); recompiling and replacing it");
    }
  }
  const auto start = std::chrono::steady_clock::now();
  const std::vector<uint8_t> artifact = compile_now(true);
  log::info("compile cache miss (key " + cache_key.substr(0, 12) + "…): compiled in " +
            std::to_string(static_cast<int64_t>(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count())) +
            " ms");
  cache.put(cache_key, artifact, meta);
  finish_open(true);
#else
  throw Error(ErrorCode::kUnsupported,
              path +
                  ": this build cannot read ONNX models (protobuf and libonnx-dev were not "
                  "found when it was built); open a compiled .rmx instead");
#endif
}

void Session::Impl::open_rmx() {
  device = device_for_artifact(path, options.device);
  model.emplace(CompiledModel::load(path, device));
  finish_open(false);
}

// Inputs and outputs, strictness, and the fallback warning of a placement
// made in another process (a cache hit or an .rmx): partition() warned when
// it was made, so it is repeated here once.
void Session::Impl::finish_open(bool compiled_now) {
  strict = options.strict || option_set(model->options(), "strict");
  const graph::Graph& g = model->is_static() ? *model->specialized() : model->graph();
  inputs = describe_values(g, g.inputs());
  outputs = describe_values(g, g.outputs());
  const graph::Placement* placement = model->placement();
  if (placement && placement->fallback_count() > 0) {
    if (options.strict)
      throw Error(ErrorCode::kUnsupported,
                  path + ": compiled with a fallback, and strict is set: " + placement->warning);
    if (!compiled_now) log::warn(placement->warning);
  }
}

Session Session::open(const std::string& path, const SessionOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  const std::string ext = lower_extension(path);
  if (ext == ".onnx") {
    impl->open_onnx();
  } else if (ext == ".rmx") {
    impl->open_rmx();
  } else {
    throw Error(ErrorCode::kInvalidArgument,
                path +
                    ": not a model file this runtime opens: expected an .onnx model or a "
                    "compiled .rmx artifact");
  }
  return Session(std::move(impl));
}

// -------------------------------------------------------------------- run

std::vector<Tensor> Session::Impl::ordered_inputs(
    const std::map<std::string, Tensor>& named) const {
  const auto expected = [&] { return " (the model's inputs: " + describe_io(inputs) + ")"; };
  for (const auto& entry : named) {
    const std::string& name = entry.first;  // (clang 14 captures no structured bindings)
    const bool known = std::any_of(inputs.begin(), inputs.end(),
                                   [&](const SessionIo& io) { return io.name == name; });
    if (!known)
      throw Error(ErrorCode::kInvalidArgument,
                  path + ": unknown input '" + name + "'" + expected());
  }
  std::vector<Tensor> ordered;
  for (const SessionIo& io : inputs) {
    const auto it = named.find(io.name);
    if (it == named.end())
      throw Error(ErrorCode::kInvalidArgument,
                  path + ": missing input '" + io.name + "'" + expected());
    const Tensor& t = it->second;
    const std::string wanted = std::string(name(io.dtype)) + graph::to_string(io.shape);
    if (!t.defined())
      throw Error(
          ErrorCode::kInvalidArgument,
          path + ": input '" + io.name + "' is an undefined tensor; the model wants " + wanted);
    if (t.dtype() != io.dtype)
      throw Error(ErrorCode::kInvalidArgument, path + ": input '" + io.name + "' is " +
                                                   std::string(name(t.dtype())) +
                                                   ", but the model wants " + wanted);
    if (t.ndim() != static_cast<int>(io.shape.size()))
      throw Error(ErrorCode::kInvalidArgument,
                  path + ": input '" + io.name + "' has shape " + to_string(t.shape()) + " (rank " +
                      std::to_string(t.ndim()) + "), but the model wants rank " +
                      std::to_string(io.shape.size()) + ": " + wanted);
    for (size_t d = 0; d < io.shape.size(); ++d)
      if (io.shape[d].known() && io.shape[d].value != t.shape()[d])
        throw Error(ErrorCode::kInvalidArgument,
                    path + ": input '" + io.name + "' dim " + std::to_string(d) + " is " +
                        std::to_string(t.shape()[d]) + ", but the model wants " +
                        std::to_string(io.shape[d].value) + " (shape " + to_string(t.shape()) +
                        ", the model's " + wanted + ")");
    ordered.push_back(t);
  }
  return ordered;
}

graph::Plan& Session::Impl::plan_for(const std::vector<Tensor>& in) {
  if (model->is_static()) {
    if (!static_plan) static_plan = std::make_shared<graph::Plan>(model->build_plan());
    last = static_plan;
    return *static_plan;
  }
  std::vector<Shape> shapes;
  for (const Tensor& t : in) shapes.push_back(t.shape());
  const std::string key = signature_of(shapes);
  for (auto it = plans.begin(); it != plans.end(); ++it) {
    if (it->first != key) continue;
    plans.splice(plans.begin(), plans, it);  // now the most recent
    last = plans.front().second;
    return *last;
  }
  // Symbol conflicts between inputs are named by specialize (bind_symbols).
  const graph::Graph specialized = model->graph().specialize(shapes);
  graph::PartitionOptions po;
  po.strict = strict;
  auto plan = std::make_shared<graph::Plan>(graph::Plan::create(specialized, {device}, po));
  if (model->prepares_ops()) plan->prepare_ops({}, &prepared);
  log::debug("session " + path + ": planned for input shapes " + key);
  plans.emplace_front(key, plan);
  if (plans.size() > kMaxPlans) plans.pop_back();
  last = plan;
  return *plan;
}

std::map<std::string, Tensor> Session::run(const std::map<std::string, Tensor>& inputs) {
  Impl& s = *impl_;
  const std::vector<Tensor> ordered = s.ordered_inputs(inputs);
  std::lock_guard<std::mutex> lock(s.mutex);
  graph::Plan& plan = s.plan_for(ordered);
  std::vector<Tensor> results = plan.run(ordered);
  const Device host = plan.placement().devices[plan.placement().host];
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < results.size() && i < s.outputs.size(); ++i) {
    Tensor& t = results[i];
    out.emplace(s.outputs[i].name, t.device() == host ? std::move(t) : t.to(host));
  }
  return out;
}

// -------------------------------------------------------------- accessors

const std::vector<SessionIo>& Session::inputs() const { return impl_->inputs; }
const std::vector<SessionIo>& Session::outputs() const { return impl_->outputs; }

const graph::Placement& Session::report() const {
  static const graph::Placement kNone;
  if (impl_->last) return impl_->last->placement();
  const graph::Placement* compiled = impl_->model->placement();
  return compiled ? *compiled : kNone;
}

bool Session::cache_hit() const { return impl_->cache_hit; }
const std::string& Session::cache_key() const { return impl_->cache_key; }
const std::string& Session::path() const { return impl_->path; }
const Device& Session::device() const { return impl_->device; }
const compile::CompiledModel& Session::compiled() const { return *impl_->model; }

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

}  // namespace rma
