#pragma once
#include <cstdint>

namespace rma::cpu {
// Copies n float elements from src (dtype src_dt) to dst (dtype dst_dt),
// converting between f32/f16/bf16 as needed (f32 is the pivot).
void kv_copy_row(int32_t src_dt, const void* src, int32_t dst_dt, void* dst, int64_t n,
                 float* scratch);
}  // namespace rma::cpu
