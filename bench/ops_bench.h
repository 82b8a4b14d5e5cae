// `rma bench ops`: times every op through the public C++ API (rma::ops on
// tensors of one device) at SmolLM2-135M-like shapes, next to the machine's
// measured FMA peak and DRAM bandwidth, and next to OpenBLAS for linear.
// Prints a table; with a JSON path, also one JSON object per case per line:
//   {"bench": "ops", "case": ..., "metric": ..., "value": ..., "peer": ...,
//    "peer_value": ..., "ratio": ..., "machine": ..., "commit": ...}
#pragma once

#include <string>

namespace rma::bench {

struct OpsBenchOptions {
  std::string device = "cpu";
  std::string json_path;  // empty: no JSON
  std::string op;         // empty: every op
  int repeat = 0;         // timed calls per case; 0 picks ~0.3 s worth (5..400)
  std::string note;       // printed in the header (how OpenBLAS was set up)
};

// Returns the process exit code (0, or 1 when a case failed to run).
// Throws rma::Error for a bad device name.
int run_ops_bench(const OpsBenchOptions& options);

// The OpenBLAS core to compare with and whether it must be forced through
// OPENBLAS_CORETYPE before OpenBLAS loads: "SkylakeX" on AVX-512 hosts,
// empty (OpenBLAS's own detection) elsewhere.
std::string wanted_openblas_coretype();
bool have_openblas();

}  // namespace rma::bench
