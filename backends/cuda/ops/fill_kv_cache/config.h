// cuda fill_kv_cache: tuning knobs.
#pragma once

namespace rma::cuda::fill_kv_cache_config {
// Threads per block; one block per token row (Hkv * D elements, 1024 at
// Llama-8B shapes), so each thread moves a few 16-byte vectors.
constexpr int kThreads = 128;
}  // namespace rma::cuda::fill_kv_cache_config
