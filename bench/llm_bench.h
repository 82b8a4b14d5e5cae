// `rma bench llm`: prefill and decode speed of one model on one device —
// prompt processing of `pp` tokens (tok/s) and generation of `tg` tokens
// (tok/s, sampling included), the median of `repeat` runs with their spread,
// the process's peak RSS, the weight bytes each decoded token reads and the
// machine's DRAM read bandwidth, so decode can be put against its roofline.
// bench/llm/bench_llm.py runs it beside llama.cpp (llama-cpp-python).
#pragma once

#include <string>

#include "rma/ops.h"

namespace rma::bench {

struct LlmBenchOptions {
  std::string model;        // path or known name
  std::string device = "auto";
  std::string label;        // case label prefix; default: the file name
  int pp = 512;             // prompt tokens
  int tg = 128;             // generated tokens
  int repeat = 3;
  int threads = 0;          // CPU threads (RM_NUM_THREADS); 0: the default
  Precision precision = Precision::kAccurate;  // quant_linear's (rma/ops.h)
  int batch = 1;            // identical requests decoded together
  bool graphs = true;       // EngineOptions::decode_graphs
  std::string json_path;    // one JSON object per case, a line each
};

// Returns the process exit code.
int run_llm_bench(const LlmBenchOptions& options);

}  // namespace rma::bench
