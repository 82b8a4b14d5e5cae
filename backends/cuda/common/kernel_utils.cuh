// Device helpers shared by the op kernels: float storage types (f32, f16,
// bf16 held in memory, computed in f32 and rounded once, to nearest even),
// activations as docs/ops.md defines them, warp and block reductions, and
// the dtype switch that instantiates a kernel per storage type.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "common/cuda_op.h"

namespace rma::cuda {

// ------------------------------------------------------------ storage types
template <class T>
__device__ __forceinline__ float to_f32(T v);
template <>
__device__ __forceinline__ float to_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ float to_f32<__half>(__half v) {
  return __half2float(v);
}
template <>
__device__ __forceinline__ float to_f32<__nv_bfloat16>(__nv_bfloat16 v) {
  return __bfloat162float(v);
}

template <class T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// Loads / stores of a float dtype chosen at run time (for the few accesses
// per output of GEMV epilogues and conversions, where a template per dtype
// pair is not worth its compile time).
__device__ __forceinline__ float load_as_f32(const void* p, int64_t i, int32_t dtype) {
  switch (dtype) {
    case RMA_DTYPE_F16:
      return __half2float(static_cast<const __half*>(p)[i]);
    case RMA_DTYPE_BF16:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default:
      return static_cast<const float*>(p)[i];
  }
}
__device__ __forceinline__ void store_from_f32(void* p, int64_t i, int32_t dtype, float v) {
  switch (dtype) {
    case RMA_DTYPE_F16:
      static_cast<__half*>(p)[i] = __float2half_rn(v);
      break;
    case RMA_DTYPE_BF16:
      static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
      break;
    default:
      static_cast<float*>(p)[i] = v;
  }
}

// Bytes of one element of a plain dtype.
inline int64_t plain_dtype_bytes(int32_t dt) {
  switch (dt) {
    case RMA_DTYPE_F16:
    case RMA_DTYPE_BF16:
      return 2;
    case RMA_DTYPE_I8:
    case RMA_DTYPE_BOOL:
      return 1;
    case RMA_DTYPE_I64:
      return 8;
    default:
      return 4;
  }
}

// Calls fn.template operator()<T>() with T the storage type of float dtype dt.
template <class Fn>
rma_status with_float_type(int32_t dt, Fn&& fn) {
  switch (dt) {
    case RMA_DTYPE_F16:
      return fn.template operator()<__half>();
    case RMA_DTYPE_BF16:
      return fn.template operator()<__nv_bfloat16>();
    default:
      return fn.template operator()<float>();
  }
}

// ------------------------------------------------------------- activations
// Out of line: GEMM epilogues call it at many unrolled sites, and inlining
// erf / tanh / exp into each would multiply compile time and code size.
static __device__ __noinline__ float activate(int32_t act, float v, float param) {
  switch (act) {
    case RMA_ACT_RELU:
      return v > 0.f ? v : 0.f;
    case RMA_ACT_LEAKY_RELU:
      return v > 0.f ? v : param * v;
    case RMA_ACT_GELU:
      return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
    case RMA_ACT_GELU_TANH:
      return 0.5f * v * (1.f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    case RMA_ACT_SILU:
      return v / (1.f + expf(-v));
    case RMA_ACT_SIGMOID:
      return 1.f / (1.f + expf(-v));
    case RMA_ACT_TANH:
      return tanhf(v);
    default:
      return v;
  }
}

__device__ __forceinline__ float silu(float v) { return v / (1.f + expf(-v)); }
__device__ __forceinline__ float gelu_erf(float v) {
  return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
}
__device__ __forceinline__ float gelu_tanh(float v) {
  return 0.5f * v * (1.f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
}

// -------------------------------------------------------------- reductions
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every
// thread gets the result. `shared` holds 32 floats.
__device__ __forceinline__ float block_sum(float v, float* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_sum(v);
  __syncthreads();  // `shared` may still be read from a previous reduction
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  const int warps = blockDim.x / 32;
  v = lane < warps ? shared[lane] : 0.f;
  return warp_sum(v);
}

// Maximum over the block, as block_sum.
__device__ __forceinline__ float block_max(float v, float* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  const int warps = blockDim.x / 32;
  v = lane < warps ? shared[lane] : -INFINITY;
  return warp_max(v);
}

// Threads per block for a row of n elements: a power of two in [32, 1024]
// giving each thread about four elements.
inline int row_block_threads(int64_t n) {
  int t = 32;
  while (t < 1024 && int64_t(t) * 4 < n) t *= 2;
  return t;
}

// Grid size for a grid-stride loop over n elements with `threads` per block.
inline unsigned grid_for(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks > 65535 * 16 ? 65535 * 16 : blocks);
}

constexpr int kMaxGridY = 65535;

}  // namespace rma::cuda
