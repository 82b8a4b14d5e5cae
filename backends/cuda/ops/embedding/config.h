// cuda embedding: tuning knobs.
#pragma once

namespace rma::cuda::embedding_config {

// Threads per block; a float table moves one element per thread, a
// quantized one decodes one 32-element chunk per thread.
constexpr int kThreads = 256;

}  // namespace rma::cuda::embedding_config
