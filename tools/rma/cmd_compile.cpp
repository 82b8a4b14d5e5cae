// `rma compile MODEL.onnx`: compile an ONNX model for a target device into
// a .rmx artifact (rma/compile/compiler.h), through the compile cache (the
// same key and rules as rma::Session, so a later `rma run MODEL.onnx` for the
// same target and options is a cache hit).
//
//   rma compile model.onnx [-o model.rmx] [--target cpu|opencl:0|cuda:0|auto]
//                [--batch-size N] [--dim NAME=N]... [-O0..3] [--strict] [-v]
//
// Prints one line (output, size, time, cache hit or miss); -v adds the
// target, the inputs and outputs, and the placement report when the shapes
// are static. A progress bar runs on stderr when it is a terminal.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "rma/compile/compiler.h"
#include "rma/error.h"
#include "rma/session.h"
#if defined(RMA_HAVE_ONNX)
#include "rma/graph/onnx.h"
#endif

namespace rma::cli {
namespace {

namespace fs = std::filesystem;

struct CompileArgs {
  std::string model;
  std::string output;
  std::string target = "auto";
  int64_t batch_size = 0;  // 0: not set
  std::vector<std::string> dims;
  int opt_level = 2;
  bool strict = false;
  bool verbose = false;
};

std::string describe_ios(const std::vector<SessionIo>& ios) {
  std::string out;
  for (const SessionIo& io : ios)
    out += "  " + io.name + "  " + std::string(name(io.dtype)) + graph::to_string(io.shape) + "\n";
  return out;
}

// --target a,b,...: one artifact with a plan per target (passes once,
// constants stored once). Compiled directly, not through the compile cache,
// whose entries are per target.
void compile_targets(const CompileArgs& a, const std::string& output) {
  std::vector<std::string> targets;
  std::string rest = a.target;
  for (size_t at; (at = rest.find(',')) != std::string::npos; rest.erase(0, at + 1))
    targets.push_back(rest.substr(0, at));
  targets.push_back(rest);
  for (const std::string& t : targets) {
    if (t.empty()) throw UsageError("--target '" + a.target + "' has an empty entry");
    if (t != "auto") resolve_devices(t);  // a usage error listing the devices
  }
#if !defined(RMA_HAVE_ONNX)
  throw Error(ErrorCode::kUnsupported,
              "this build cannot read ONNX models (protobuf and libonnx-dev were not found "
              "when it was built)");
#else
  compile::CompileOptions o;
  o.opt_level = a.opt_level;
  if (a.batch_size > 0) o.batch_size = a.batch_size;
  o.dims = parse_dims(a.dims);
  o.strict = a.strict;
  o.on_progress = compile_progress_bar();
  const auto start = std::chrono::steady_clock::now();
  const std::vector<compile::CompiledModel> models =
      compile::CompiledModel::compile_targets(graph::import_onnx(a.model), o, targets);
  compile::CompiledModel::save_targets(models, output);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::string names;
  for (const compile::CompiledModel& m : models)
    names += (names.empty() ? "" : ", ") + m.device().name();
  std::printf("compiled %s for %s -> %s (%s, %.0f ms, %zu targets)\n", a.model.c_str(),
              names.c_str(), output.c_str(), format_bytes(fs::file_size(output)).c_str(), ms,
              models.size());
  if (!a.verbose) return;
  for (const compile::CompiledModel& m : models) {
    std::printf("target: %s\n", m.target().to_string().c_str());
    if (m.is_static()) {
      std::string text = m.placement()->to_text();
      if (!text.empty() && text.back() != '\n') text += '\n';
      std::fputs(text.c_str(), stdout);
    }
  }
#endif
}

void run_compile(const CompileArgs& a) {
  const fs::path model(a.model);
  std::string ext = model.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext != ".onnx")
    throw UsageError("rma compile takes an .onnx model, got '" + a.model + "'" +
                     (ext == ".rmx" ? " (already compiled: run it with 'rma run')" : ""));
  const std::string output =
      a.output.empty() ? fs::path(model).replace_extension(".rmx").string() : a.output;
  if (a.target.find(',') != std::string::npos) return compile_targets(a, output);
  if (a.target != "auto") resolve_devices(a.target);  // a usage error listing the devices

  SessionOptions o;
  o.device = a.target;
  o.opt_level = a.opt_level;
  if (a.batch_size > 0) o.batch_size = a.batch_size;
  o.dims = parse_dims(a.dims);
  o.strict = a.strict;
  o.on_progress = compile_progress_bar();

  const auto start = std::chrono::steady_clock::now();
  const Session session = Session::open(a.model, o);
  session.compiled().save(output);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  std::printf("compiled %s for %s -> %s (%s, %.0f ms, compile cache %s)\n", a.model.c_str(),
              session.device().name().c_str(), output.c_str(),
              format_bytes(fs::file_size(output)).c_str(), ms,
              session.cache_hit() ? "hit" : "miss");
  if (!a.verbose) return;
  const compile::CompiledModel& m = session.compiled();
  std::printf("target: %s\ncompiler: %s\ncache key: %s\n", m.target().to_string().c_str(),
              compile::compiler_version().c_str(), session.cache_key().c_str());
  std::printf("inputs:\n%soutputs:\n%s", describe_ios(session.inputs()).c_str(),
              describe_ios(session.outputs()).c_str());
  if (m.is_static()) {
    for (std::string text : {m.placement()->to_text(), m.memory_plan()->to_text()}) {
      if (!text.empty() && text.back() != '\n') text += '\n';
      std::fputs(text.c_str(), stdout);
    }
  } else {
    std::printf(
        "shapes: dynamic; specialized, partitioned and planned per input shape at run time "
        "(fix dims with --batch-size / --dim to place now)\n");
  }
}

}  // namespace

std::map<std::string, int64_t> parse_dims(const std::vector<std::string>& specs) {
  std::map<std::string, int64_t> dims;
  for (const std::string& spec : specs) {
    const size_t eq = spec.find('=');
    const std::string bad = "--dim wants NAME=N with N > 0, got '" + spec + "'";
    if (eq == std::string::npos || eq == 0) throw UsageError(bad);
    const std::string value = spec.substr(eq + 1);
    size_t used = 0;
    int64_t n = 0;
    try {
      n = std::stoll(value, &used);
    } catch (const std::exception&) {
      throw UsageError(bad);
    }
    if (used != value.size() || n <= 0) throw UsageError(bad);
    if (!dims.emplace(spec.substr(0, eq), n).second)
      throw UsageError("--dim '" + spec.substr(0, eq) + "' is given twice");
  }
  return dims;
}

std::function<void(const std::string&, double)> compile_progress_bar() {
  if (!isatty(STDERR_FILENO)) return {};
  return [last = std::string()](const std::string& stage, double fraction) mutable {
    constexpr int kWidth = 30;
    const int pct = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * 100 + 0.5);
    const std::string key = stage + std::to_string(pct);
    if (key == last) return;
    last = key;
    const int fill = pct * kWidth / 100;
    std::fprintf(stderr, "\r\033[Kcompiling [%s%s] %3d%% %s", std::string(fill, '#').c_str(),
                 std::string(kWidth - fill, ' ').c_str(), pct, stage.c_str());
    if (pct >= 100) std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  };
}

void add_compile_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<CompileArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compile",
      "Compile an ONNX model for a device into a .rmx artifact (through the compile cache)");
  cmd->add_option("model", a->model, "The .onnx model")->required();
  cmd->add_option("-o,--output", a->output, "The .rmx to write (default: beside the model)");
  cmd->add_option("-t,--target", a->target,
                  "Device: auto, cpu, opencl:0, cuda:0, ...; a comma-separated list puts a plan "
                  "for each in one artifact")
      ->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size,
                  "Bind the leading dim of every input whose leading dim is symbolic")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--dim", a->dims, "Bind a symbolic dim: NAME=N (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("-O", a->opt_level, "Optimisation level: -O0 .. -O3")
      ->check(CLI::Range(0, 3))
      ->capture_default_str();
  cmd->add_flag("--strict", a->strict,
                "A node the target cannot run is an error, not a CPU fallback");
  cmd->add_flag("-v,--verbose", a->verbose, "Show the target, inputs, outputs and placement");
  cmd->callback([a, &exit_code] {
    run_compile(*a);
    exit_code = 0;
  });
}

}  // namespace rma::cli
