// y[t] = table[ids[t]], widened (float tables) or decoded (quantized tables,
// common/block_decode.cuh) to f32 and rounded once to y's dtype. Rows over
// the grid's y dimension. The ids were checked on the host before launch.
#pragma once

#include "common/block_decode.cuh"
#include "common/kernel_utils.cuh"

namespace rma::cuda {

__device__ __forceinline__ int64_t load_id(const void* ids, bool i64, int64_t t) {
  return i64 ? static_cast<const int64_t*>(ids)[t] : static_cast<const int32_t*>(ids)[t];
}

__global__ void embedding_float_kernel(const void* ids, bool ids_i64, const void* table,
                                       int32_t table_dtype, void* y, int32_t y_dtype,
                                       int64_t tokens, int64_t h) {
  for (int64_t t = blockIdx.y; t < tokens; t += gridDim.y) {
    const int64_t row = load_id(ids, ids_i64, t);
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < h;
         i += int64_t(gridDim.x) * blockDim.x)
      store_from_f32(y, t * h + i, y_dtype, load_as_f32(table, row * h + i, table_dtype));
  }
}

__global__ void embedding_quant_kernel(const void* ids, bool ids_i64, const uint8_t* table,
                                       int32_t table_dtype, int64_t row_bytes, void* y,
                                       int32_t y_dtype, int64_t tokens, int64_t h) {
  const int64_t chunks = h / kChunk;
  for (int64_t t = blockIdx.y; t < tokens; t += gridDim.y) {
    const uint8_t* row = table + load_id(ids, ids_i64, t) * row_bytes;
    for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < chunks;
         c += int64_t(gridDim.x) * blockDim.x) {
      float v[kChunk];
      decode_chunk(table_dtype, row, c, v);
      const int64_t base = t * h + c * kChunk;
#pragma unroll
      for (int i = 0; i < kChunk; ++i) store_from_f32(y, base + i, y_dtype, v[i]);
    }
  }
}

}  // namespace rma::cuda
