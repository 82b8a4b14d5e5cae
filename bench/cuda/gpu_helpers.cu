// The CUDA benchmark's own kernels: see gpu_helpers.h.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "bench/cuda/gpu_helpers.h"

namespace rma::bench::cuda {
namespace {

__device__ __forceinline__ uint64_t global_timer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void spin_kernel(uint64_t nanoseconds) {
  const uint64_t start = global_timer_ns();
  while (global_timer_ns() - start < nanoseconds) {
  }
}

// splitmix64 of (seed, i): independent values without per-thread state.
__device__ __forceinline__ float uniform01(uint64_t seed, uint64_t i) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + i + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.f / 16777216.f);
}

__global__ void fill_kernel(void* p, FillType type, int64_t count, float lo, float hi,
                            uint64_t seed) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = lo + (hi - lo) * uniform01(seed, uint64_t(i));
    switch (type) {
      case FillType::kF16:
        static_cast<__half*>(p)[i] = __float2half_rn(v);
        break;
      case FillType::kBF16:
        static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
        break;
      default:
        static_cast<float*>(p)[i] = v;
    }
  }
}

}  // namespace

cudaError_t spin(cudaStream_t stream, double microseconds) {
  spin_kernel<<<1, 1, 0, stream>>>(static_cast<uint64_t>(std::max(0.0, microseconds) * 1e3));
  return cudaGetLastError();
}

cudaError_t fill_uniform(cudaStream_t stream, void* p, FillType type, int64_t count, float lo,
                         float hi, uint64_t seed) {
  if (count <= 0) return cudaSuccess;
  const int threads = 256;
  const auto blocks =
      static_cast<unsigned>(std::min<int64_t>((count + threads - 1) / threads, 65536));
  fill_kernel<<<blocks, threads, 0, stream>>>(p, type, count, lo, hi, seed);
  return cudaGetLastError();
}

}  // namespace rma::bench::cuda
