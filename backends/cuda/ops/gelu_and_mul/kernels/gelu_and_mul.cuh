// gelu(g), erf form or (approximate) tanh form, the gate of gelu_and_mul.
#pragma once

#include "common/kernel_utils.cuh"

namespace rma::cuda {

struct GeluGate {
  bool approximate;
  __device__ __forceinline__ float operator()(float g) const {
    return approximate ? gelu_tanh(g) : gelu_erf(g);
  }
};

}  // namespace rma::cuda
