// `rma generate` and `rma chat`: text generation with the Llama-family
// engine (rma/llm/engine.h).
//
// generate streams the completion of one prompt to stdout, then one summary
// line on stderr (prompt tokens, prefill and decode speed, device, peak
// memory). chat reads user turns from stdin (a terminal or a pipe) and
// streams each reply; "/reset" clears the conversation, "/exit" or end of
// input ends it.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "rma/error.h"
#include "rma/llm/engine.h"

namespace rma::cli {
namespace {

using llm::ChatMessage;
using llm::Engine;
using llm::GenerationRequest;
using llm::GenerationResult;
using llm::GenerationStats;

// Flags common to both commands.
struct CommonArgs {
  std::string model = "smollm2-135m";
  std::string device = "auto";
  int max_tokens = 256;
  int max_context = 0;
  llm::SamplingParams sampling;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  std::string precision = "accurate";  // "accurate" or "fast"
  bool graphs = true;                  // EngineOptions::decode_graphs
};

void add_common_options(CLI::App* cmd, CommonArgs& a) {
  cmd->add_option("-m,--model", a.model,
                  "A .gguf file, a Hugging Face folder, or a known model name")
      ->capture_default_str();
  cmd->add_option("-d,--device", a.device, "Device: auto, cpu, opencl:0, ...")
      ->capture_default_str();
  cmd->add_option("-n,--max-tokens", a.max_tokens, "Tokens to generate at most")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--max-context", a.max_context,
                  "Tokens per sequence (0: the model's, at most 4096)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--temperature", a.sampling.temperature, "Sampling temperature (0: greedy)")
      ->capture_default_str();
  cmd->add_option("--top-k", a.sampling.top_k, "Keep the k most likely tokens (0: off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--top-p", a.sampling.top_p, "Nucleus sampling mass (1: off)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--min-p", a.sampling.min_p, "Drop tokens below min-p x the best (0: off)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--repeat-penalty", a.sampling.repetition_penalty,
                  "Penalty for tokens among the last --repeat-last-n (1: off)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--repeat-last-n", a.sampling.repetition_window,
                  "Tokens the repeat penalty looks back on")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--seed", a.sampling.seed, "Sampling seed (the same seed gives the same text)")
      ->capture_default_str();
  cmd->add_option("--stop", a.stop, "Stop when this text appears (repeatable; not printed)")
      ->allow_extra_args(false);  // one string per --stop
  cmd->add_flag("--ignore-eos", a.ignore_eos, "Keep generating past end-of-generation tokens");
  cmd->add_option("--precision", a.precision,
                  "quant_linear arithmetic: accurate (as f32 from the dequantized weights) or fast "
                  "(activations rounded to 8 bits, as llama.cpp)")
      ->check(CLI::IsMember({"accurate", "fast"}))
      ->capture_default_str();
  cmd->add_flag("!--no-graphs", a.graphs,
                "Run decode steps op by op instead of replaying a captured step");
}

// A progress bar on stderr while weights load, only on a terminal.
std::function<void(uint64_t, uint64_t)> load_progress() {
  if (!isatty(STDERR_FILENO)) return {};
  return [last = -1](uint64_t done, uint64_t total) mutable {
    const int pct = total ? static_cast<int>(done * 100 / total) : 100;
    if (pct == last) return;
    last = pct;
    constexpr int kWidth = 30;
    const int fill = pct * kWidth / 100;
    std::fprintf(stderr, "\rloading model [%s%s] %3d%%", std::string(fill, '#').c_str(),
                 std::string(kWidth - fill, ' ').c_str(), pct);
    if (done >= total) std::fprintf(stderr, "\r%*s\r", kWidth + 24, "");
    std::fflush(stderr);
  };
}

std::unique_ptr<Engine> load_engine(const CommonArgs& a) {
  if (a.device != "auto") resolve_devices(a.device);  // a usage error listing the devices
  llm::EngineOptions options;
  options.device = a.device;
  options.max_batch = 1;
  options.max_context = a.max_context;
  options.precision = a.precision == "fast" ? Precision::kFast : Precision::kAccurate;
  options.decode_graphs = a.graphs;
  options.on_load_progress = load_progress();
  return Engine::load(a.model, options);
}

GenerationRequest make_request(const CommonArgs& a, std::vector<int32_t> prompt) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.sampling = a.sampling;
  r.max_tokens = a.max_tokens;
  r.stop = a.stop;
  r.ignore_eos = a.ignore_eos;
  return r;
}

// Streams the reply to stdout as it comes.
GenerationResult run_streaming(Engine& engine, const GenerationRequest& request,
                               GenerationStats* stats) {
  const auto print = [](size_t, int32_t, std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return true;
  };
  return engine.generate({request}, print, stats).at(0);
}

std::string rate(double tokens, double seconds) {
  if (seconds <= 0 || tokens <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", tokens / seconds);
  return buf;
}

// The process's peak resident set: on the CPU the mmapped weights count
// here, not in the device pool.
uint64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;
}

std::string summary(const Engine& engine, const GenerationStats& s, const std::string& finish) {
  return "prompt " + std::to_string(s.prompt_tokens) + " tokens, prefill " +
         rate(static_cast<double>(s.prompt_tokens), s.prefill_seconds) + " tok/s; generated " +
         std::to_string(s.generated_tokens) + " tokens, decode " +
         rate(static_cast<double>(s.decode_tokens), s.decode_seconds) + " tok/s (" + finish +
         "); device " + engine.device().name() + ", peak memory " +
         format_bytes(s.peak_device_bytes) + " device pool, " + format_bytes(peak_rss_bytes()) +
         " process RSS";
}

std::string read_file(const std::string& path) {
  if (path == "-")
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  std::ifstream f(path, std::ios::binary);
  if (!f) throw UsageError("cannot read prompt file '" + path + "'");
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// ------------------------------------------------------------------ chat

// The conversation rendered and tokenized; the oldest turns (never the
// system message) are dropped while it leaves less than `room` tokens of the
// context for the reply.
std::vector<int32_t> render_conversation(const Engine& engine, std::vector<ChatMessage>& messages,
                                         int room) {
  const llm::Tokenizer& tok = engine.tokenizer();
  while (true) {
    std::vector<int32_t> ids = tok.encode(tok.apply_chat_template(messages, true), false, true);
    if (static_cast<int>(ids.size()) + room <= engine.max_context()) return ids;
    const size_t first = !messages.empty() && messages.front().role == "system" ? 1 : 0;
    if (messages.size() - first <= 1) return ids;  // only this turn: the engine truncates it
    // Drop the oldest user turn and the reply to it.
    messages.erase(messages.begin() + first);
    if (messages.size() - first > 1 && messages[first].role == "assistant")
      messages.erase(messages.begin() + first);
  }
}

void run_chat(const CommonArgs& a, const std::string& system, bool show_stats) {
  std::unique_ptr<Engine> engine = load_engine(a);
  const bool interactive = isatty(STDIN_FILENO);
  std::vector<ChatMessage> messages;
  if (!system.empty()) messages.push_back({"system", system});
  const int room = std::min(std::max(a.max_tokens, 1), engine->max_context() / 2);
  std::string line;
  while (true) {
    if (interactive) {
      std::printf("> ");
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "/exit") break;
    if (line == "/reset") {
      messages.resize(system.empty() ? 0 : 1);
      if (interactive) std::printf("(conversation cleared)\n");
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({"user", line});
    GenerationRequest request = make_request(a, render_conversation(*engine, messages, room));
    request.truncate_prompt = true;
    GenerationStats stats;
    const GenerationResult reply = run_streaming(*engine, request, &stats);
    std::printf("\n");
    std::fflush(stdout);
    messages.push_back({"assistant", reply.text});
    if (show_stats)
      std::fprintf(stderr, "%s\n", summary(*engine, stats, reply.finish_reason).c_str());
  }
}

}  // namespace

void add_generate_command(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "generate", "Generate text from a prompt (streams it to stdout; a summary to stderr)");
  struct Args {
    CommonArgs common;
    std::string prompt, prompt_file, system;
    bool chat = false;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("-p,--prompt", args->prompt, "The prompt text");
  cmd->add_option("-f,--file", args->prompt_file, "Read the prompt from a file ('-': stdin)");
  cmd->add_flag("--chat", args->chat, "Wrap the prompt in the model's chat template");
  cmd->add_option("--system", args->system, "With --chat: a system message");
  add_common_options(cmd, args->common);
  cmd->callback([args, &exit_code] {
    const bool has_prompt = !args->prompt.empty(), has_file = !args->prompt_file.empty();
    if (has_prompt == has_file)
      throw UsageError("generate: give exactly one of -p PROMPT or -f FILE");
    const std::string text = has_prompt ? args->prompt : read_file(args->prompt_file);
    std::unique_ptr<Engine> engine = load_engine(args->common);
    const llm::Tokenizer& tok = engine->tokenizer();
    std::vector<int32_t> prompt;
    if (args->chat) {
      std::vector<ChatMessage> messages;
      if (!args->system.empty()) messages.push_back({"system", args->system});
      messages.push_back({"user", text});
      // The template writes any bos itself.
      prompt = tok.encode(tok.apply_chat_template(messages, true), false, true);
    } else {
      prompt = tok.encode(text, true, true);
    }
    GenerationStats stats;
    const GenerationResult result =
        run_streaming(*engine, make_request(args->common, std::move(prompt)), &stats);
    std::printf("\n");
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", summary(*engine, stats, result.finish_reason).c_str());
    exit_code = 0;
  });
}

void add_chat_command(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "chat", "Chat with a model: one user turn per line of stdin; /reset, /exit");
  struct Args {
    CommonArgs common;
    std::string system;
    bool stats = false;
  };
  auto args = std::make_shared<Args>();
  // Chat samples by default (generate is greedy): a fixed seed keeps runs
  // reproducible unless --seed says otherwise.
  args->common.sampling.temperature = 0.7f;
  args->common.sampling.top_p = 0.9f;
  cmd->add_option("--system", args->system, "A system message opening the conversation");
  cmd->add_flag("--stats", args->stats, "After each reply, print its summary line on stderr");
  add_common_options(cmd, args->common);
  cmd->callback([args, &exit_code] {
    run_chat(args->common, args->system, args->stats);
    exit_code = 0;
  });
}

}  // namespace rma::cli
