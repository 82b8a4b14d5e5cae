// rma — the command line of the RM Abstract Layer: `info`, `ops`, `test`,
// `bench`. Exit codes: 0 ok; 1 test failures or a runtime error; 2 a usage
// error. Every error is one line "rma: error: <message>" on stderr.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "commands.h"
#include "rma/error.h"
#include "rma/plugin.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

int report(const char* message, int code) {
  std::fflush(stdout);
  std::fprintf(stderr, "rma: error: %s\n", message);
  if (code == kExitUsage)
    std::fprintf(stderr, "Run 'rma --help' or 'rma <command> --help' for usage.\n");
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  try {
    CLI::App app{
        "rma: the RM Abstract Layer command line: devices and plugins, op support, "
        "conformance tests and benchmarks",
        "rma"};
    app.set_version_flag("--version", std::string("rma ") + RMA_VERSION + " (plugin ABI v" +
                                          std::to_string(RMA_ABI_VERSION) + ")");
    app.require_subcommand(1);
    rma::cli::add_info_command(app, exit_code);
    rma::cli::add_ops_command(app, exit_code);
    rma::cli::add_test_command(app, exit_code);
    rma::cli::add_bench_command(app, exit_code);
    rma::cli::add_tokenize_command(app, exit_code);
    rma::cli::add_generate_command(app, exit_code);
    rma::cli::add_chat_command(app, exit_code);
    rma::cli::add_quantize_command(app, exit_code);
    rma::cli::add_cache_command(app, exit_code);
    rma::cli::add_compile_command(app, exit_code);
    rma::cli::add_run_command(app, exit_code);
    // CLI11 reports an unknown command as a missing one; name it instead.
    if (argc > 1 && argv[1][0] != '-') {
      std::string known;
      bool found = false;
      for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
        found = found || sub->get_name() == argv[1];
        known += (known.empty() ? "" : ", ") + sub->get_name();
      }
      if (!found)
        return report(
            ("unknown command '" + std::string(argv[1]) + "'; commands: " + known).c_str(),
            kExitUsage);
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      // --help and --version arrive here too, with exit code 0.
      if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
      return report(e.what(), kExitUsage);
    }
  } catch (const rma::cli::UsageError& e) {
    return report(e.what(), kExitUsage);
  } catch (const rma::Error& e) {
    return report(e.what(), kExitFailure);
  } catch (const std::exception& e) {
    return report(e.what(), kExitFailure);
  }
  std::fflush(stdout);
  return exit_code;
}
