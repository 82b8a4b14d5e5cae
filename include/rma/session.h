// rma/session.h — run a model file: an .onnx (imported and compiled through
// the compile cache) or an .rmx (loaded as compiled). The same rules in the
// C++ API, the `rma run` command and (later) Python.
//
//   rma::Session s = rma::Session::open("model.onnx", {.device = "opencl:0"});
//   auto out = s.run({{"x", x}});          // named inputs -> named outputs
//   std::cout << s.report().to_text();     // node -> device, fallbacks, copies
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rma/compile/compiler.h"
#include "rma/graph/partition.h"
#include "rma/tensor.h"

namespace rma {

struct SessionOptions {
  // Target device spec. "auto": RM_DEVICE, else for an .rmx the device it
  // was compiled for (the first of its targets present here), else
  // Runtime::default_device().
  std::string device = "auto";
  int opt_level = 2;
  std::optional<int64_t> batch_size;
  std::map<std::string, int64_t> dims;  // static symbol bindings
  bool strict = false;                  // fallback is an Error
  bool use_cache = true;                // the compile cache (RM_CACHE_ENABLED=0 also turns it off)
  std::function<void(const std::string& stage, double fraction)> on_progress;
};

struct SessionIo {
  std::string name;
  DType dtype;
  graph::SymShape shape;
};

class Session {
 public:
  // .onnx: the compile cache is asked first (key: the model's bytes, the
  // target fingerprint, the options, the compiler version), compiled and
  // stored on a miss (a cached artifact that cannot be loaded is reported,
  // recompiled and replaced). .rmx: loaded directly (fingerprint checked).
  // Anything else — or an .onnx in a build without the ONNX importer — is an
  // Error naming the file.
  static Session open(const std::string& path, const SessionOptions& options = {});

  const std::vector<SessionIo>& inputs() const;
  const std::vector<SessionIo>& outputs() const;
  // Named inputs (every graph input, any device) -> named outputs on the
  // host. Dynamic models are specialized and planned once per input shape
  // signature (the plans of the 8 most recent signatures are kept). Errors
  // name the input (missing, unknown, dtype, shape). Calls are serialised.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs);

  // Placement of the last run (or of the static plan before any run; an
  // empty one for a dynamic model before its first run). Valid until the
  // next run.
  const graph::Placement& report() const;
  bool cache_hit() const;  // whether open() was served by the compile cache
  // The compile-cache key of an .onnx session (64 hex digits); empty for .rmx.
  const std::string& cache_key() const;
  const std::string& path() const;
  const Device& device() const;  // the target device (what "auto" resolved to)
  const compile::CompiledModel& compiled() const;

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rma
