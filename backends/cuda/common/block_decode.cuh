// Decoders of the block-quantized formats (rma/formats.h) for CUDA kernels,
// written once as __host__ __device__ code: kernels call them on the GPU and
// tests/cpp/test_cuda.cpp compiles them with the host compiler and checks
// them bit for bit against include/rma/block_decode.h on random blocks.
//
// The unit is a chunk of 32 consecutive elements of a row (chunk c holds
// elements [32c, 32c + 32)): a whole block of q8_0 / q4_0 / q4_1, a 32-element
// sub-block of the k-quants. A warp decodes 32 chunks side by side.
//
// Bit-exactness: the arithmetic is the reference's, operation for operation,
// and on the device products and sums go through __fmul_rn / __fadd_rn /
// __fsub_rn, which nvcc never contracts into an fma (the reference rounds
// the product before the sum). Bytes are read one at a time, so a chunk may
// sit at any address (q8_0 blocks are 34 bytes, q6_K 210).
#pragma once

#include <cstdint>

#include "rma/formats.h"
#include "rma/half.h"
#include "rma/plugin.h"

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define RMA_HD __host__ __device__ __forceinline__
#else
#define RMA_HD inline
#endif
// Unrolling for the device pass only: the host compiler sees these
// functions too and does not know the pragma.
#if defined(__CUDA_ARCH__)
#define RMA_UNROLL _Pragma("unroll")
#else
#define RMA_UNROLL
#endif

namespace rma::cuda {

constexpr int kChunk = 32;  // elements per decoded chunk

RMA_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
RMA_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
RMA_HD float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

RMA_HD uint16_t load_u16(const uint8_t* p) { return uint16_t(p[0] | (uint16_t(p[1]) << 8)); }

RMA_HD float half_bits_to_float(uint16_t h) {
#if defined(__CUDA_ARCH__)
  return __half2float(__ushort_as_half(h));
#else
  return ::rma::f16_to_f32(h);
#endif
}

// Elements and bytes of one block of a block-quantized dtype; {0, 0} for
// anything else.
struct BlockShape {
  int elems;
  int bytes;
};
RMA_HD BlockShape block_shape(int32_t dtype) {
  switch (dtype) {
    case RMA_DTYPE_Q8_0:
      return {RMA_QK8_0, int(sizeof(rma_block_q8_0))};
    case RMA_DTYPE_Q4_0:
      return {RMA_QK4_0, int(sizeof(rma_block_q4_0))};
    case RMA_DTYPE_Q4_1:
      return {RMA_QK4_1, int(sizeof(rma_block_q4_1))};
    case RMA_DTYPE_Q4_K:
      return {RMA_QK_K, int(sizeof(rma_block_q4_K))};
    case RMA_DTYPE_Q5_K:
      return {RMA_QK_K, int(sizeof(rma_block_q5_K))};
    case RMA_DTYPE_Q6_K:
      return {RMA_QK_K, int(sizeof(rma_block_q6_K))};
    default:
      return {0, 0};
  }
}
RMA_HD bool is_block_quantized(int32_t dtype) { return block_shape(dtype).elems != 0; }

// The 6-bit scale and min of k-quant sub-block j (ggml's packing).
RMA_HD void scale_min_k4(int j, const uint8_t* s, int* sc, int* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Chunk c of a q8_0 row (the row's first block at `row`).
RMA_HD void decode_chunk_q8_0(const uint8_t* row, int64_t c, float* out) {
  const uint8_t* b = row + c * int64_t(sizeof(rma_block_q8_0));
  const float d = half_bits_to_float(load_u16(b));
  const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
  RMA_UNROLL
  for (int i = 0; i < 32; ++i) out[i] = mul_rn(d, static_cast<float>(qs[i]));
}

RMA_HD void decode_chunk_q4_0(const uint8_t* row, int64_t c, float* out) {
  const uint8_t* b = row + c * int64_t(sizeof(rma_block_q4_0));
  const float d = half_bits_to_float(load_u16(b));
  const uint8_t* qs = b + 2;
  RMA_UNROLL
  for (int i = 0; i < 16; ++i) {
    out[i] = mul_rn(d, static_cast<float>((qs[i] & 0x0F) - 8));
    out[i + 16] = mul_rn(d, static_cast<float>((qs[i] >> 4) - 8));
  }
}

RMA_HD void decode_chunk_q4_1(const uint8_t* row, int64_t c, float* out) {
  const uint8_t* b = row + c * int64_t(sizeof(rma_block_q4_1));
  const float d = half_bits_to_float(load_u16(b));
  const float m = half_bits_to_float(load_u16(b + 2));
  const uint8_t* qs = b + 4;
  RMA_UNROLL
  for (int i = 0; i < 16; ++i) {
    out[i] = add_rn(mul_rn(d, static_cast<float>(qs[i] & 0x0F)), m);
    out[i + 16] = add_rn(mul_rn(d, static_cast<float>(qs[i] >> 4)), m);
  }
}

// q4_K and q5_K: chunk j of a block is sub-block j, whose elements are the
// low (j even) or high (j odd) nibbles of qs[32 (j / 2) + i]; q5_K's fifth
// bit of element i is bit j of qh[i].
template <bool kFifthBit>
RMA_HD void decode_chunk_k4(const uint8_t* row, int64_t c, float* out) {
  constexpr int64_t kBytes = kFifthBit ? sizeof(rma_block_q5_K) : sizeof(rma_block_q4_K);
  const uint8_t* b = row + (c / 8) * kBytes;
  const int j = int(c % 8);
  const float d = half_bits_to_float(load_u16(b));
  const float dmin = half_bits_to_float(load_u16(b + 2));
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 4 + RMA_K_SCALE_SIZE;
  const uint8_t* qs = b + 4 + RMA_K_SCALE_SIZE + (kFifthBit ? RMA_QK_K / 8 : 0) + 32 * (j / 2);
  int sc, mn;
  scale_min_k4(j, scales, &sc, &mn);
  const float dj = mul_rn(d, static_cast<float>(sc));
  const float mj = mul_rn(dmin, static_cast<float>(mn));
  const int shift = (j & 1) * 4;
  RMA_UNROLL
  for (int i = 0; i < 32; ++i) {
    int q = (qs[i] >> shift) & 0x0F;
    if (kFifthBit) q |= ((qh[i] >> j) & 1) << 4;
    out[i] = sub_rn(mul_rn(dj, static_cast<float>(q)), mj);
  }
}
RMA_HD void decode_chunk_q4_K(const uint8_t* row, int64_t c, float* out) {
  decode_chunk_k4<false>(row, c, out);
}
RMA_HD void decode_chunk_q5_K(const uint8_t* row, int64_t c, float* out) {
  decode_chunk_k4<true>(row, c, out);
}

// q6_K: chunk p of a block is half h = p / 4, quarter r = p % 4: element
// l + 32 r of the half has its low 4 bits in ql[64 h + l + 32 (r & 1)] (low
// nibble for r < 2), its high 2 bits at bit 2r of qh[32 h + l], and the
// scale scales[8 h + l / 16 + 2 r].
RMA_HD void decode_chunk_q6_K(const uint8_t* row, int64_t c, float* out) {
  const uint8_t* b = row + (c / 8) * int64_t(sizeof(rma_block_q6_K));
  const int p = int(c % 8), h = p / 4, r = p % 4;
  const uint8_t* ql = b + 64 * h + 32 * (r & 1);
  const uint8_t* qh = b + RMA_QK_K / 2 + 32 * h;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + RMA_QK_K / 2 + RMA_QK_K / 4) + 8 * h;
  const float d = half_bits_to_float(load_u16(b + RMA_QK_K / 2 + RMA_QK_K / 4 + RMA_QK_K / 16));
  const int nibble_shift = r < 2 ? 0 : 4;
  const float d0 = mul_rn(d, static_cast<float>(sc[2 * r]));
  const float d1 = mul_rn(d, static_cast<float>(sc[2 * r + 1]));
  RMA_UNROLL
  for (int l = 0; l < 32; ++l) {
    const int q = (((ql[l] >> nibble_shift) & 0x0F) | (((qh[l] >> (2 * r)) & 3) << 4)) - 32;
    out[l] = mul_rn(l < 16 ? d0 : d1, static_cast<float>(q));
  }
}

// Chunk c of a row of `dtype` (one of the six block-quantized types).
RMA_HD void decode_chunk(int32_t dtype, const uint8_t* row, int64_t c, float* out) {
  switch (dtype) {
    case RMA_DTYPE_Q8_0:
      decode_chunk_q8_0(row, c, out);
      break;
    case RMA_DTYPE_Q4_0:
      decode_chunk_q4_0(row, c, out);
      break;
    case RMA_DTYPE_Q4_1:
      decode_chunk_q4_1(row, c, out);
      break;
    case RMA_DTYPE_Q4_K:
      decode_chunk_q4_K(row, c, out);
      break;
    case RMA_DTYPE_Q5_K:
      decode_chunk_q5_K(row, c, out);
      break;
    case RMA_DTYPE_Q6_K:
      decode_chunk_q6_K(row, c, out);
      break;
    default:
      for (int i = 0; i < 32; ++i) out[i] = 0.f;
  }
}

// Compile-time choice for kernels templated on the format.
template <int32_t kDtype>
RMA_HD void decode_chunk_t(const uint8_t* row, int64_t c, float* out) {
  if constexpr (kDtype == RMA_DTYPE_Q8_0)
    decode_chunk_q8_0(row, c, out);
  else if constexpr (kDtype == RMA_DTYPE_Q4_0)
    decode_chunk_q4_0(row, c, out);
  else if constexpr (kDtype == RMA_DTYPE_Q4_1)
    decode_chunk_q4_1(row, c, out);
  else if constexpr (kDtype == RMA_DTYPE_Q4_K)
    decode_chunk_q4_K(row, c, out);
  else if constexpr (kDtype == RMA_DTYPE_Q5_K)
    decode_chunk_q5_K(row, c, out);
  else
    decode_chunk_q6_K(row, c, out);
}

}  // namespace rma::cuda
