// Tuning knobs of the cpu pool2d op.
#pragma once

#include <cstdint>

namespace rma::cpu::pool2d_config {
// Planes per task at least: a small plane is too little work to hand out
// alone.
constexpr int64_t kMinPlanesPerTask = 1;
}  // namespace rma::cpu::pool2d_config
