// quant_linear's kernels: the GEMV for block-quantized weights (one warp per
// output column; each lane decodes 32-element chunks of the weight row into
// registers with common/block_decode.cuh and multiplies them with every row
// of x, which is f32 and 16-byte aligned) and the decoder that writes rows of w into a scratch
// tile (f32, f16 or bf16) for cuBLASLt.
#pragma once

#include "common/block_decode.cuh"
#include "common/kernel_utils.cuh"

namespace rma::cuda {

struct QuantEpilogue {
  const void* bias;  // [N] of out_dtype, or null
  void* y;
  int64_t ldy;
  int32_t out_dtype;
  float alpha;
  int32_t act;
  float param;
};

template <int32_t kFmt, int kMaxRows>
__global__ void __launch_bounds__(256)
    quant_gemv_kernel(const uint8_t* __restrict__ w, int64_t row_bytes, const float* __restrict__ x,
                      int64_t t_rows, int64_t n, int64_t k, QuantEpilogue e) {
  const int lane = threadIdx.x % 32;
  const int64_t col = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (col >= n) return;
  const uint8_t* wr = w + col * row_bytes;
  float acc[kMaxRows];
#pragma unroll
  for (int t = 0; t < kMaxRows; ++t) acc[t] = 0.f;
  const int64_t chunks = k / kChunk;
  for (int64_t c = lane; c < chunks; c += 32) {
    float wv[kChunk];
    decode_chunk_t<kFmt>(wr, c, wv);
#pragma unroll
    for (int t = 0; t < kMaxRows; ++t) {
      if (t >= t_rows) break;
      // x is 16-byte aligned (the launcher copies it when not) and k a
      // multiple of 32, so a chunk of x is eight float4 loads.
      const float4* x4 = reinterpret_cast<const float4*>(x + t * k + c * kChunk);
      float s = 0.f;
#pragma unroll
      for (int j = 0; j < kChunk / 4; ++j) {
        const float4 v = __ldg(x4 + j);
        s += wv[4 * j] * v.x + wv[4 * j + 1] * v.y + wv[4 * j + 2] * v.z + wv[4 * j + 3] * v.w;
      }
      acc[t] += s;
    }
  }
#pragma unroll
  for (int t = 0; t < kMaxRows; ++t) {
    if (t >= t_rows) break;
    const float sum = warp_sum(acc[t]);
    if (lane == 0) {
      float v = e.alpha * sum;
      if (e.bias) v += load_as_f32(e.bias, col, e.out_dtype);
      store_from_f32(e.y, t * e.ldy + col, e.out_dtype, activate(e.act, v, e.param));
    }
  }
}

// Rows [0, rows) of the block-quantized w (from its first row to decode)
// into out [rows, k] of TOut, one 32-element chunk per thread.
template <class TOut>
__global__ void dequant_rows_kernel(const uint8_t* __restrict__ w, int32_t dtype, int64_t row_bytes,
                                    int64_t rows, int64_t k, TOut* __restrict__ out) {
  const int64_t per_row = k / kChunk, total = rows * per_row;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / per_row, c = i % per_row;
    float v[kChunk];
    decode_chunk(dtype, w + r * row_bytes, c, v);
    TOut* o = out + r * k + c * kChunk;
#pragma unroll
    for (int j = 0; j < kChunk; ++j) o[j] = from_f32<TOut>(v[j]);
  }
}

}  // namespace rma::cuda
