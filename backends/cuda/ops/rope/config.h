// cuda rope: tuning knobs.
#pragma once

namespace rma::cuda::rope_config {
// Threads per block (one block per token). Rope moves little data per token
// (Hq + Hkv heads of D elements); 128 threads keep a block's items few per
// thread at Llama shapes (40 heads x 64 pairs) without idling at small ones.
constexpr int kThreads = 128;
}  // namespace rma::cuda::rope_config
