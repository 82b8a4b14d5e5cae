#pragma once
#include <cstdint>

namespace rma::cpu {
// One table row (h elements of table dtype `table_dt`, at `src`) written to
// `dst` in float dtype `out_dt`: a copy for matching float dtypes, else a
// decode to f32 (exact, as rma::dequantize_row; f16/bf16 widen exactly) and,
// for a 16-bit out_dt, one rounding to it.
// `scratch` holds h floats when out_dt is not f32.
void embedding_row(int32_t table_dt, const void* src, int32_t out_dt, void* dst, int64_t h,
                   float* scratch);
}  // namespace rma::cpu
