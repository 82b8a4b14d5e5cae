// opencl transpose: tuning knobs and the tiled / plan-copy choice.
#pragma once
#include <cstddef>

namespace rma::opencl::transpose_config {
// Side of the local-memory tile of transpose_tiled (TILE x TILE work-items
// per group); the launcher falls back to the plan copy where the device's
// work-group limit for the kernel is smaller.
constexpr size_t kTile = 16;

// The tiled kernel makes both the reads and the writes of a swap of the
// last two axes contiguous, which is what a GPU's memory system wants (not
// measured here: no GPU OpenCL device). On a CPU device the plan copy is
// faster: PoCL (2 cores), f32, min of 15 runs, plan copy vs tiled:
// [512, 4096] (1,0) 1.9-2.0 vs 3.4-4.5 ms, [4096, 512] (1,0) 1.5 vs 1.4-1.5
// ms, [96, 128, 64] (0,2,1) 0.21-0.24 vs 0.49-0.59 ms (PoCL runs a group's
// items in a loop with the barrier splitting it, and the copy's strided
// reads stay in cache).
constexpr bool use_tiled(bool cpu_device) { return !cpu_device; }
}  // namespace rma::opencl::transpose_config
