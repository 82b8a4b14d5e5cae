// y = a + b, elementwise in f32 (the broadcasting kernels are shared with
// the other binary op in common/binary.cuh).
#pragma once

namespace rma::cuda {

struct AddOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};

}  // namespace rma::cuda
