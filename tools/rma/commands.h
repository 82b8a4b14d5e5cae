// Subcommands of the `rma` CLI. Each lives in its own cmd_<name>.cpp and
// registers itself on the app; the callback it installs sets `exit_code`.
#pragma once

#include <CLI/CLI.hpp>

namespace rma::cli {

void add_info_command(CLI::App& app, int& exit_code);
void add_ops_command(CLI::App& app, int& exit_code);
void add_test_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);

}  // namespace rma::cli
