// cuda sample: tuning knobs.
#pragma once

namespace rma::cuda::sample_config {
// Threads per row's block (both kernels). Also the most candidates (after
// top_k) that take the exact path: their probabilities are summed by one
// thread in the reference's order; more candidates are summed by
// deterministic block-wide reductions and scans (see kernels/sample.cuh).
constexpr int kThreads = 1024;
}  // namespace rma::cuda::sample_config
