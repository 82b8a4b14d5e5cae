// Bulk conversion between f32 and the float storage types (f32/f16/bf16),
// SIMD with runtime dispatch. Used by op kernels at their edges: load a row
// to f32, compute, store back.
#pragma once

#include <cstdint>

#include "rma/plugin.h"

namespace rma::cpu {

void load_f32(int32_t dtype, const void* src, float* dst, int64_t n);
void store_f32(int32_t dtype, const float* src, void* dst, int64_t n);

}  // namespace rma::cpu
