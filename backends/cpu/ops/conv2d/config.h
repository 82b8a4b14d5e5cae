// Tuning knobs of the cpu conv2d op.
#pragma once

#include <cstdint>

namespace rma::cpu::conv2d_config {
// The im2col panel [K, columns] holds at most this many floats (4 MiB): the
// output pixels of one image and group are done in column tiles that fit.
constexpr int64_t kPanelFloats = int64_t{1} << 20;
// A tile never narrower than this many columns (GEMM efficiency).
constexpr int64_t kMinTileColumns = 64;
// Jobs (image, group, column tile) whose GEMM is at most this many
// multiply-adds run one per thread, each GEMM serial; larger ones run one
// after another, each GEMM parallel.
constexpr int64_t kPerThreadJobMaxMacs = int64_t{1} << 21;
}  // namespace rma::cpu::conv2d_config
