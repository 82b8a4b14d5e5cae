// `rma bench ops`: op timings on a device next to the machine's FMA peak,
// DRAM bandwidth and OpenBLAS (bench/ops_bench.h does the measuring).
//
// OpenBLAS reads OPENBLAS_CORETYPE once, when it is loaded, i.e. before
// main(). So that the peer runs its best kernels (SkylakeX on AVX-512 hosts,
// whatever the environment presets), the command re-executes itself with the
// variable set when it differs, and says so in its output.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "bench/llm_bench.h"
#include "bench/ops_bench.h"
#include "cli_common.h"
#include "commands.h"
#include "rma/ops.h"

namespace rma::cli {
namespace {

constexpr const char* kReexecVar = "RMA_BENCH_OPENBLAS_WAS";

// Re-executes the process with OPENBLAS_CORETYPE as wanted (does not return
// on success); returns the line describing the OpenBLAS setup otherwise.
std::string setup_openblas_coretype() {
  if (!bench::have_openblas()) return "";
  const std::string want = bench::wanted_openblas_coretype();
  const char* cur = std::getenv("OPENBLAS_CORETYPE");
  const std::string have = cur ? cur : "";
  const std::string shown = want.empty() ? "unset (OpenBLAS detects the core)" : want;
  if (const char* was = std::getenv(kReexecVar)) {
    const std::string w = was;
    unsetenv(kReexecVar);
    return "openblas setup: OPENBLAS_CORETYPE " + shown + "; the environment had " +
           (w.empty() ? "it unset" : "'" + w + "'") +
           ", so rma re-executed itself before OpenBLAS initialised";
  }
  if (have == want) return "openblas setup: OPENBLAS_CORETYPE " + shown + " (from the environment)";

  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  const std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t i = 0; i < raw.size();) {
    const size_t end = raw.find('\0', i);
    args.push_back(raw.substr(i, end == std::string::npos ? std::string::npos : end - i));
    if (end == std::string::npos) break;
    i = end + 1;
  }
  if (!args.empty()) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    setenv(kReexecVar, have.c_str(), 1);
    if (want.empty())
      unsetenv("OPENBLAS_CORETYPE");
    else
      setenv("OPENBLAS_CORETYPE", want.c_str(), 1);
    std::fflush(stdout);
    execv("/proc/self/exe", argv.data());
    // Still here: run with what OpenBLAS already chose.
    unsetenv(kReexecVar);
    if (!have.empty()) setenv("OPENBLAS_CORETYPE", have.c_str(), 1);
  }
  return "openblas setup: could not re-execute to set OPENBLAS_CORETYPE " + shown +
         "; OpenBLAS runs with '" + have + "' (the peer may be slower than its best)";
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("bench", "Benchmark the ops, or a model, on a device");
  cmd->require_subcommand(1);
  CLI::App* ops = cmd->add_subcommand(
      "ops",
      "Time every op at SmolLM2-135M-like shapes, with the machine's FMA peak, DRAM "
      "bandwidth and OpenBLAS (for linear) measured in the same run");
  auto opt = std::make_shared<bench::OpsBenchOptions>();
  ops->add_option("-d,--device", opt->device, "Device: cpu, <plugin>:<index> or auto")
      ->capture_default_str();
  ops->add_option("--json", opt->json_path, "Also write one JSON object per case (a line each)");
  ops->add_option("--op", opt->op, "Only this op (e.g. linear, quant_linear, rms_norm)");
  ops->add_option("--repeat", opt->repeat,
                  "Timed calls per case (default: about 0.3 s worth, 5 to 400)")
      ->check(CLI::NonNegativeNumber);
  ops->footer(
      "Per case: the median time per call, the value (GFLOP/s or GB/s), the spread "
      "(p90 - p10 over the median) and comparisons: share of the FMA peak or of the DRAM "
      "read bandwidth, and OpenBLAS on the same shape for linear ('ours/peer'). Weights of "
      "decode-shaped cases are cycled through copies larger than the L3 so every call reads "
      "DRAM. Ops the device does not run are listed as skipped.");
  ops->callback([opt, &exit_code] {
    if (!opt->op.empty()) opt->op = std::string(op_name(resolve_op(opt->op)));
    opt->note = setup_openblas_coretype();
    resolve_devices(opt->device);  // a usage error for an unknown device
    exit_code = bench::run_ops_bench(*opt);
  });

  CLI::App* llm = cmd->add_subcommand(
      "llm", "Prefill (pp) and decode (tg) tokens/s of a model, with peak RSS and the decode "
             "roofline (weight bytes per token over the measured DRAM bandwidth)");
  auto lo = std::make_shared<bench::LlmBenchOptions>();
  llm->add_option("-m,--model", lo->model, "GGUF file, Hugging Face folder or known name")
      ->required();
  llm->add_option("-d,--device", lo->device, "Device")->capture_default_str();
  llm->add_option("--pp", lo->pp, "Prompt tokens")->capture_default_str()->check(CLI::PositiveNumber);
  llm->add_option("--tg", lo->tg, "Generated tokens")->capture_default_str()->check(CLI::PositiveNumber);
  llm->add_option("--repeat", lo->repeat, "Timed runs (after one warm-up)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  llm->add_option("-t,--threads", lo->threads, "CPU threads (default: the cores available)");
  llm->add_option("-b,--batch", lo->batch, "Identical requests decoded together")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  llm->add_flag("!--no-graphs", lo->graphs,
                "Run decode steps op by op instead of replaying a captured step");
  llm->add_option("--label", lo->label,
                  "Case label (default: the model file name; the precision is appended)");
  auto precision = std::make_shared<std::string>("accurate");
  llm->add_option("--precision", *precision,
                  "quant_linear arithmetic: accurate (as f32 from the dequantized weights) or fast "
                  "(activations rounded to 8 bits, as llama.cpp)")
      ->check(CLI::IsMember({"accurate", "fast"}))
      ->capture_default_str();
  llm->add_option("--json", lo->json_path, "Append one JSON object per case (a line each)");
  llm->callback([lo, precision, &exit_code] {
    lo->precision = *precision == "fast" ? Precision::kFast : Precision::kAccurate;
    exit_code = bench::run_llm_bench(*lo);
  });
}

}  // namespace rma::cli
