// rma/quant.h — block quantization of rows (GGUF-compatible layouts, see
// rma/formats.h). Plain scalar code: used by references, tests, and the
// quantize tool; kernels have their own fast paths.
#pragma once

#include <cstdint>

#include "rma/dtype.h"

namespace rma {

// n must be a multiple of block_elems(dtype). `dtype` may be any float or
// quantized type (f32/f16/bf16 convert; quantized types round to nearest as
// llama.cpp's reference quantizers do). Throws Error(kInvalidArgument) otherwise.
void quantize_row(DType dtype, const float* src, void* dst, int64_t n);
void dequantize_row(DType dtype, const void* src, float* dst, int64_t n);

}  // namespace rma
