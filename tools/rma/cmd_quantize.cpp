// `rma quantize IN OUT --type q8_0`: a GGUF file or Hugging Face folder to a
// GGUF file with weight matrices in the chosen type (norms and biases stay
// f32). Shows progress on a terminal and ends with a one-line summary.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "rma/dtype.h"
#include "rma/llm/model_file.h"

namespace rma::cli {

void add_quantize_command(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "quantize",
      "Convert a model (GGUF file or Hugging Face folder) to GGUF with weights in another type");
  struct Options {
    std::string in, out, type = "q8_0";
  };
  auto opts = std::make_shared<Options>();
  cmd->add_option("IN", opts->in,
                  "A .gguf file or a Hugging Face folder (config.json, safetensors)")
      ->required();
  cmd->add_option("OUT", opts->out, "The GGUF file to write (replaced atomically)")->required();
  cmd->add_option("-t,--type", opts->type, "Weight type: q8_0, q4_0, q4_1, f16 or f32")
      ->capture_default_str();

  cmd->callback([opts, &exit_code] {
    const std::optional<DType> type = parse_dtype(opts->type);
    if (!type || !(*type == DType::kQ8_0 || *type == DType::kQ4_0 || *type == DType::kQ4_1 ||
                   *type == DType::kF16 || *type == DType::kF32))
      throw UsageError("unknown --type '" + opts->type + "'; types: q8_0, q4_0, q4_1, f16, f32");

    const bool terminal = ::isatty(fileno(stdout)) != 0;
    const auto start = std::chrono::steady_clock::now();
    // Sizes of the source before OUT (which may be IN) is replaced.
    const auto source = llm::ModelFile::open(opts->in);
    const size_t tensors = source->tensors().size();
    const uint64_t bytes_in = source->total_tensor_bytes();
    llm::quantize_model(opts->in, opts->out, *type, [&](size_t done, size_t total) {
      if (!terminal) return;
      std::printf("\rquantizing to %s: %zu/%zu tensors", opts->type.c_str(), done, total);
      std::fflush(stdout);
    });
    if (terminal) std::printf("\n");
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const uint64_t bytes_out = std::filesystem::file_size(opts->out);
    std::printf("%s: %zu tensors, %s -> %s (%s) in %.1f s\n", opts->out.c_str(), tensors,
                format_bytes(bytes_in).c_str(), format_bytes(bytes_out).c_str(), opts->type.c_str(),
                seconds);
    exit_code = 0;
  });
}

}  // namespace rma::cli
