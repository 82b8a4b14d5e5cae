// Subcommands of the `rma` CLI. Each lives in its own cmd_<name>.cpp and
// registers itself on the app; the callback it installs sets `exit_code`.
//
// Exit codes: 0 ok; 1 test failures or a runtime error; 2 a usage error.
// A callback reports a usage mistake CLI11 cannot see (an unknown device or
// op name) by throwing UsageError; main() prints "rma: error: <message>" for
// it and for rma::Error / std::exception.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace rma::cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void add_info_command(CLI::App& app, int& exit_code);
void add_ops_command(CLI::App& app, int& exit_code);
void add_test_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);
void add_tokenize_command(CLI::App& app, int& exit_code);
void add_generate_command(CLI::App& app, int& exit_code);
void add_chat_command(CLI::App& app, int& exit_code);
void add_quantize_command(CLI::App& app, int& exit_code);
void add_cache_command(CLI::App& app, int& exit_code);
void add_compile_command(CLI::App& app, int& exit_code);
void add_run_command(CLI::App& app, int& exit_code);
// For `rma compile` and `rma run` (cmd_compile.cpp): a progress bar on stderr
// for a compile's on_progress (empty off a terminal), and --dim NAME=N values.
std::function<void(const std::string& stage, double fraction)> compile_progress_bar();
std::map<std::string, int64_t> parse_dims(const std::vector<std::string>& specs);

}  // namespace rma::cli
