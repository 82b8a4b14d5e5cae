// Row dequantization for the plugin (it does not link librma): the same
// values as rma::dequantize_row (include/rma/quant.h), bit for bit, for the
// float dtypes and the GGUF block formats of rma/formats.h.
#pragma once

#include <cstdint>

namespace rma::cpu {

// True when dequantize_row decodes `dtype`: f32, f16, bf16, q8_0, q4_0,
// q4_1, q4_k, q5_k, q6_k.
bool can_dequantize(int32_t dtype);

// dst[0, n) = the n elements at src decoded to f32; n a multiple of the
// dtype's block size. Check can_dequantize first: for any other dtype, or a
// partial block, nothing is written.
void dequantize_row(int32_t dtype, const void* src, float* dst, int64_t n);

}  // namespace rma::cpu
