#include "bench/llm_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/machine.h"
#include "rma/config.h"
#include "rma/llm/engine.h"

namespace rma::bench {
namespace {

// Peak resident set of this process (VmHWM), bytes.
uint64_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// (max - min) / median: how far apart the repeats were.
double spread(const std::vector<double>& v) {
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  const double m = median(v);
  return m > 0 ? (*hi - *lo) / m : 0;
}

// Bytes of weights one decoded token reads: every matrix once, the head
// once, one embedding row (negligible, left out).
uint64_t weight_bytes_per_token(const llm::ModelFile& file, const llm::ModelConfig& cfg) {
  uint64_t total = 0;
  for (const llm::TensorInfo& t : file.tensors())
    if (t.name != "token_embd.weight" || cfg.tie_embeddings) total += t.nbytes;
  return total;
}

}  // namespace

int run_llm_bench(const LlmBenchOptions& o) {
  if (o.threads > 0) setenv("RM_NUM_THREADS", std::to_string(o.threads).c_str(), 1);
  const int threads = o.threads > 0 ? o.threads : available_cores();

  llm::EngineOptions eo;
  eo.device = o.device;
  eo.max_batch = o.batch;
  eo.decode_graphs = o.graphs;
  eo.max_context = o.pp + o.tg + 8;
  eo.precision = o.precision;
  auto engine = llm::Engine::load(o.model, eo);
  const llm::ModelConfig& cfg = engine->config();
  // The case label carries the precision: the two are different arithmetic.
  const std::string precision = o.precision == Precision::kFast ? "fast" : "accurate";
  const std::string label =
      (o.label.empty() ? std::filesystem::path(engine->model_file().path()).filename().string()
                       : o.label) +
      " " + precision + (o.batch > 1 ? " b" + std::to_string(o.batch) : "") +
      (o.graphs ? "" : " eager");

  // Random prompt tokens (as llama-bench does), the same every run.
  std::vector<int32_t> prompt(static_cast<size_t>(o.pp));
  uint64_t s = 0x2545F4914F6CDD1Dull;
  for (int32_t& t : prompt) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    t = static_cast<int32_t>(s % static_cast<uint64_t>(cfg.vocab));
  }

  std::vector<double> pp_rate, tg_rate;
  llm::GenerationStats st;
  for (int r = 0; r < o.repeat + 1; ++r) {  // the first run warms caches, not counted
    llm::GenerationRequest req;
    req.prompt = prompt;
    req.max_tokens = o.tg;
    req.ignore_eos = true;
    engine->generate(std::vector<llm::GenerationRequest>(static_cast<size_t>(o.batch), req), {},
                     &st);
    if (r == 0) continue;
    pp_rate.push_back(st.prompt_tokens / st.prefill_seconds);
    // Tokens of decode-only steps (each request's first comes with its prefill).
    tg_rate.push_back(std::max<int64_t>(st.decode_tokens, 1) / st.decode_seconds);
  }
  const std::string step_ops =
      st.graph_decode_steps > 0
          ? std::to_string(st.ops_per_decode_step) + " ops per decode step in one graph launch"
          : "decode steps run op by op";

  const uint64_t rss = peak_rss_bytes();  // before the bandwidth probe's buffer
  const uint64_t wbytes = weight_bytes_per_token(engine->model_file(), cfg);
  // The roofline is the host's DRAM: meaningful when the weights live there.
  const bool host_weights = engine->device().host_memory();
  const double bw = host_weights ? measure_read_bandwidth(threads, 1ull << 30) : 0;  // 1e9 B/s
  const double tg = median(tg_rate), pp = median(pp_rate);
  const double roofline =
      bw * 1e9 / static_cast<double>(wbytes);  // tok/s if purely bandwidth-bound
  const std::string machine = machine_description(threads);
  const std::string commit = source_commit();

  char roof[160] = "roofline n/a (weights not in host memory)";
  if (host_weights)
    std::snprintf(roof, sizeof(roof),
                  "DRAM %.1f GB/s, decode at %.0f%% of the roofline (%.1f tok/s)", bw,
                  100 * tg / roofline, roofline);
  std::printf(
      "model %s on %s, %d threads: pp%d %.1f tok/s (spread %.0f%%), tg%d %.1f tok/s "
      "(spread %.0f%%); %.1f MB weights/token, %s; peak RSS %.1f MiB; %s\n",
      label.c_str(), engine->device().name().c_str(), threads, o.pp, pp, 100 * spread(pp_rate),
      o.tg, tg, 100 * spread(tg_rate), wbytes / 1e6, roof, rss / 1048576.0, step_ops.c_str());

  if (!o.json_path.empty()) {
    std::ofstream out(o.json_path, std::ios::app);
    auto emit = [&](const std::string& kase, const std::string& metric, double value,
                    nlohmann::json extra) {
      nlohmann::json j{{"bench", "llm"},
                       {"case", label + " " + kase + " t" + std::to_string(threads)},
                       {"metric", metric},
                       {"value", value},
                       {"machine", machine},
                       {"commit", commit},
                       {"device", engine->device().name()},
                       {"precision", precision}};
      j.update(extra);
      out << j.dump() << "\n";
    };
    emit("pp" + std::to_string(o.pp), "tok_per_s", pp, {{"spread", spread(pp_rate)}});
    nlohmann::json tg_fields{{"spread", spread(tg_rate)},
                             {"weight_bytes_per_token", wbytes},
                             {"batch", o.batch},
                             {"ops_per_decode_step", st.ops_per_decode_step},
                             {"graph_decode_steps", st.graph_decode_steps}};
    if (host_weights)
      tg_fields.update({{"roofline_tok_per_s", roofline},
                        {"roofline_fraction", tg / roofline},
                        {"dram_gb_per_s", bw}});
    emit("tg" + std::to_string(o.tg), "tok_per_s", tg, tg_fields);
    emit("peak_rss", "bytes", static_cast<double>(rss), nlohmann::json::object());
  }
  return 0;
}

}  // namespace rma::bench
