// `rma run MODEL.onnx|MODEL.rmx --input NAME=FILE.npy ...`: run a model once
// through rma::Session (an .onnx through the compile cache, an .rmx loaded
// as compiled).
//
//   rma run model.rmx --input x=x.npy [--output-dir DIR] [--device D]
//           [--report] [--strict] [--json] [-v]
//
// Prints each output's name, dtype and shape, and the time taken; with
// --output-dir writes each output as DIR/<name>.npy (characters outside
// [A-Za-z0-9_.-] in a name become '_'; bf16 outputs are widened to f32,
// which .npy can hold). --report adds the placement (node -> device, reason,
// copies, bytes moved) and whether the compile cache served the model.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "rma/error.h"
#include "rma/npy.h"
#include "rma/session.h"

namespace rma::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;  // NAME=FILE.npy
  std::string output_dir;
  std::string device = "auto";
  bool report = false;
  bool strict = false;
  bool json = false;
  bool verbose = false;
  // Compile options for an .onnx (as `rma compile` takes them, so a model
  // compiled there is a cache hit here).
  int64_t batch_size = 0;  // 0: not set
  std::vector<std::string> dims;
  int opt_level = 2;
  bool compile_flags_given = false;
};

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// An output name as a file name: ONNX value names may hold '/' or ':'.
std::string file_name_for(const std::string& name) {
  std::string out = name;
  for (char& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') c = '_';
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  return out + ".npy";
}

std::map<std::string, Tensor> read_inputs(const std::vector<std::string>& specs) {
  std::map<std::string, Tensor> inputs;
  for (const std::string& spec : specs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      throw UsageError("--input wants NAME=FILE.npy, got '" + spec + "'");
    const std::string name = spec.substr(0, eq);
    if (inputs.count(name)) throw UsageError("--input '" + name + "' is given twice");
    inputs.emplace(name, load_npy(spec.substr(eq + 1)));
  }
  return inputs;
}

std::string cache_text(const Session& s) {
  if (s.cache_key().empty()) return "not used (a compiled .rmx)";
  return std::string(s.cache_hit() ? "hit" : "miss") + " (key " + s.cache_key().substr(0, 16) + ")";
}

void run_model(const RunArgs& a) {
  if (a.device != "auto") resolve_devices(a.device);  // a usage error listing the devices
  std::string ext = fs::path(a.model).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".rmx" && a.compile_flags_given)
    throw UsageError("--batch-size, --dim and -O compile an .onnx model; '" + a.model +
                     "' is compiled already (give them to 'rma compile')");
  // Inputs first: a bad file fails before a compile.
  const std::map<std::string, Tensor> inputs = read_inputs(a.inputs);

  SessionOptions o;
  o.device = a.device;
  o.strict = a.strict;
  if (a.batch_size > 0) o.batch_size = a.batch_size;
  o.dims = parse_dims(a.dims);
  o.opt_level = a.opt_level;
  if (!a.json) o.on_progress = compile_progress_bar();
  const auto open_start = std::chrono::steady_clock::now();
  Session session = Session::open(a.model, o);
  const double open_ms = ms_since(open_start);

  const auto run_start = std::chrono::steady_clock::now();
  std::map<std::string, Tensor> outputs = session.run(inputs);
  const double run_ms = ms_since(run_start);

  if (!a.output_dir.empty()) fs::create_directories(a.output_dir);
  json out_list = json::array();
  std::vector<std::vector<std::string>> rows;  // name, dtype[shape], file
  for (const SessionIo& io : session.outputs()) {
    Tensor t = outputs.at(io.name);
    std::string note;
    if (t.dtype() == DType::kBF16) {
      t = bf16_to_f32_tensor(t);
      note = " (bf16, written as f32)";
    }
    const std::string type = std::string(name(t.dtype())) + to_string(t.shape());
    json entry = {{"name", io.name}, {"dtype", std::string(name(t.dtype()))}, {"shape", t.shape()}};
    std::string where;
    if (!a.output_dir.empty()) {
      const std::string file = (fs::path(a.output_dir) / file_name_for(io.name)).string();
      save_npy(file, t);
      entry["file"] = file;
      where = "-> " + file + note;
    }
    rows.push_back({io.name, type, where});
    out_list.push_back(std::move(entry));
  }
  size_t name_width = 0, type_width = 0;
  for (const auto& row : rows) {
    name_width = std::max(name_width, row[0].size());
    type_width = std::max(type_width, row[1].size());
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line = "  " + row[0] + std::string(name_width - row[0].size() + 2, ' ') + row[1];
    if (!row[2].empty()) line += std::string(type_width - row[1].size() + 2, ' ') + row[2];
    text += line + "\n";
  }

  const graph::Placement& placement = session.report();
  if (a.json) {
    json j = {{"model", a.model},
              {"device", session.device().name()},
              {"open_ms", open_ms},
              {"run_ms", run_ms},
              {"outputs", out_list}};
    if (!session.cache_key().empty()) {
      j["cache"] = session.cache_hit() ? "hit" : "miss";
      j["cache_key"] = session.cache_key();
    }
    if (a.report) j["placement"] = json::parse(placement.to_json());
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("outputs:\n%s", text.c_str());
  std::printf("opened in %.0f ms, ran in %.2f ms on %s (the first run builds the plan)\n", open_ms,
              run_ms, session.device().name().c_str());
  if (a.verbose || a.report) std::printf("compile cache: %s\n", cache_text(session).c_str());
  if (a.report) std::printf("%s", placement.to_text().c_str());
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Run a model (.onnx through the compile cache, or a compiled .rmx) on .npy inputs");
  cmd->add_option("model", a->model, "The .onnx model or .rmx artifact")->required();
  cmd->add_option("-i,--input", a->inputs, "An input: NAME=FILE.npy (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("-o,--output-dir", a->output_dir, "Write each output as DIR/<name>.npy");
  cmd->add_option("-d,--device", a->device, "Device: auto, cpu, opencl:0, cuda:0, ...")
      ->capture_default_str();
  cmd->add_flag("--report", a->report,
                "Show the placement: node -> device and why, copies and bytes moved");
  cmd->add_option(
         "--batch-size", a->batch_size,
         "An .onnx's compile: bind the leading dim of inputs whose leading dim is symbolic")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--dim", a->dims, "An .onnx's compile: bind a symbolic dim, NAME=N (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("-O", a->opt_level, "An .onnx's compile: optimisation level -O0 .. -O3")
      ->check(CLI::Range(0, 3))
      ->capture_default_str();
  cmd->add_flag("--strict", a->strict,
                "A node the device cannot run is an error, not a CPU fallback");
  cmd->add_flag("--json", a->json, "Print the result (and the report) as JSON");
  cmd->add_flag("-v,--verbose", a->verbose, "Show whether the compile cache served the model");
  cmd->callback([a, cmd, &exit_code] {
    a->compile_flags_given =
        cmd->count("--batch-size") + cmd->count("--dim") + cmd->count("-O") > 0;
    run_model(*a);
    exit_code = 0;
  });
}

}  // namespace rma::cli
