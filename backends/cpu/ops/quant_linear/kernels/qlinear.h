// quant_linear kernels: y = act(alpha * x . dequant(w)^T + bias) with w
// block-quantized [N, K] (q8_0, q4_0, q4_1, q4_k, q5_k, q6_k; rma/formats.h).
// (f16 / bf16 weights go through the shared GEMM drivers, common/gemm.)
//   quant_gemv       few rows of x: x is written as integers per block of 32
//                    once (fast: one int8 digit, q8 blocks; accurate: three,
//                    24 bits), weight rows are streamed once and dotted with
//                    integer instructions (AVX-512 VNNI vpdpbusd, AVX2
//                    vpmaddubsw for fast), or dequantized and dotted in f32
//                    where there is no integer kernel for the precision.
//   dequantize_rows  exact dequantization of a row range (as
//                    rma::dequantize_row) for the f32 GEMM's B panels.
#pragma once

#include <cstdint>

#include "common/thread_pool.h"
#include "common/gemm/gemm.h"

namespace rma::cpu {

struct QuantLinearArgs {
  int64_t t = 0, n = 0, k = 0;
  const void* x = nullptr;  // [t, k], x_dtype (f32/f16/bf16)
  int32_t x_dtype = RMA_DTYPE_F32;
  const void* w = nullptr;  // [n, k] rows of blocks
  int32_t w_dtype = RMA_DTYPE_Q8_0;
  Epilogue ep;
  void* y = nullptr;  // [t, n], y_dtype
  int32_t y_dtype = RMA_DTYPE_F32;
  bool fast = false;  // RMA_PRECISION_FAST: x may be rounded to q8 blocks
};

// False when scratch memory could not be allocated.
bool quant_gemv(ThreadPool& pool, const QuantLinearArgs& args);
// Rows of x (T) up to which quant_gemv is the faster path on this machine
// for the precision; past it the f32 GEMM with dequantized panels.
int64_t quant_gemv_max_rows(bool fast);

// The load_rows callback of GemmOperand for quantized weights.
struct DequantSource {
  const uint8_t* w;
  int32_t dtype;
  int64_t row_bytes;
};
void dequantize_rows(const void* source, int64_t i0, int64_t rows, int64_t k0, int64_t kc,
                     float* dst, int64_t ld_dst);

// Which GEMV kernel runs on this machine for the precision (for reports).
const char* quant_gemv_target(bool fast);

}  // namespace rma::cpu
