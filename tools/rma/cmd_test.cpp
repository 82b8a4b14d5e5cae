// `rma test`: the conformance suite on one device or all of them, printed
// as a table while it runs; exits 1 when any case fails or errs.
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "rma/conformance.h"
#include "rma/device.h"
#include "rma/ops.h"

namespace rma::cli {
namespace {

constexpr int kOpWidth = 24;
constexpr int kDtypeWidth = 18;
constexpr int kShapesWidth = 60;  // longer descriptions wrap within the column
constexpr int kErrorWidth = 10;

struct TestArgs {
  std::string device;  // empty: the configured default device (RM_DEVICE)
  std::string op;
  uint64_t seed = ConformanceOptions{}.seed;
};

std::string format_error(const ConformanceResult& r, double v) {
  if (r.status == "unsupported" || r.status == "error") return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", v);
  return buf;
}

void print_header() {
  std::printf("%-*s %-*s %-*s %*s %*s  %s\n", kOpWidth, "op", kDtypeWidth, "dtype", kShapesWidth,
              "shapes", kErrorWidth, "max error", kErrorWidth, "abs error", "status");
}

// One result; `last_reason` keeps an op's repeated "unsupported" reason
// from being printed on every row.
void print_result(const ConformanceResult& r, std::string& last_reason) {
  const std::vector<std::string> lines = wrap(r.shapes, kShapesWidth);
  for (size_t i = 0; i + 1 < lines.size(); ++i)
    std::printf("%-*s %-*s %s\n", kOpWidth, i == 0 ? r.op.c_str() : "", kDtypeWidth,
                i == 0 ? r.dtype.c_str() : "", lines[i].c_str());
  const bool first = lines.size() == 1;
  std::printf("%-*s %-*s %-*s %*s %*s  %s\n", kOpWidth, first ? r.op.c_str() : "", kDtypeWidth,
              first ? r.dtype.c_str() : "", kShapesWidth, lines.back().c_str(), kErrorWidth,
              format_error(r, r.max_error).c_str(), kErrorWidth,
              format_error(r, r.max_abs_error).c_str(), r.status.c_str());
  if (r.status == "unsupported") {
    const std::string key = r.op + "\n" + r.detail;
    if (key == last_reason) return;
    last_reason = key;
  }
  if (!r.detail.empty())
    std::printf("%*s%s: %s\n", kOpWidth + 1, "", r.status.c_str(), r.detail.c_str());
  std::fflush(stdout);
}

void print_summary(const ConformanceSummary& s, const char* prefix) {
  std::printf("%s%d passed, %d failed, %d unsupported\n", prefix, s.passed, s.failed,
              s.unsupported);
}

}  // namespace

void add_test_command(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "test", "Run the op conformance suite on a device against the reference implementation");
  auto args = std::make_shared<TestArgs>();
  cmd->add_option("device", args->device,
                  "Device to test: cpu, <plugin>:<index> (e.g. template:0), auto, or all; "
                  "default: the configured device (RM_DEVICE, else auto)");
  cmd->add_option("--op", args->op, "Only this op (e.g. linear, rope, add)");
  cmd->add_option("--seed", args->seed, "Seed of the random inputs")->capture_default_str();
  cmd->footer(
      "Prints one row per case (op, dtype, shapes, max error normalised to the tolerance: "
      "<= 1 passes, max absolute error, status) and a summary 'N passed, M failed, K "
      "unsupported'. Cases a device declines are reported as unsupported, not failures. "
      "Exit status: 0 when nothing failed, 1 otherwise, 2 on a usage error.");
  cmd->callback([args, &exit_code] {
    ConformanceOptions options;
    options.seed = args->seed;
    if (!args->op.empty()) options.op = std::string(op_name(resolve_op(args->op)));
    const std::vector<Device> devices = resolve_devices(
        args->device.empty() ? Runtime::get().config().device : args->device);

    ConformanceSummary total;
    for (const Device& d : devices) {
      const rma_device_info info = d.info();
      std::printf("%sConformance of %s (%s, plugin %s), seed %" PRIu64 "\n",
                  &d == &devices.front() ? "" : "\n", d.name().c_str(), info.name,
                  d.plugin_name().c_str(), options.seed);
      print_header();
      std::string last_reason;
      const ConformanceSummary s = run_conformance(
          d, options, [&](const ConformanceResult& r) { print_result(r, last_reason); });
      print_summary(s, devices.size() > 1 ? (d.name() + ": ").c_str() : "");
      total.passed += s.passed;
      total.failed += s.failed;
      total.unsupported += s.unsupported;
    }
    if (devices.size() > 1) print_summary(total, "");
    exit_code = total.failed > 0 ? 1 : 0;
  });
}

}  // namespace rma::cli
