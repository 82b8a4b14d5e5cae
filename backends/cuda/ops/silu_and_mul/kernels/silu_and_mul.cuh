// silu(g) = g / (1 + e^-g), the gate of silu_and_mul.
#pragma once

#include "common/kernel_utils.cuh"

namespace rma::cuda {

struct SiluGate {
  __device__ __forceinline__ float operator()(float g) const { return silu(g); }
};

}  // namespace rma::cuda
