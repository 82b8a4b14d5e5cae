// opencl linear: tuning knobs.
#pragma once
#include <cstddef>

namespace rma::opencl::linear_config {
// Tile edge: TILE x TILE work-items per group (256 fits every device's
// minimum work-group limit) and two TILE^2 tiles of local memory.
constexpr size_t kTile = 16;
}  // namespace rma::opencl::linear_config
