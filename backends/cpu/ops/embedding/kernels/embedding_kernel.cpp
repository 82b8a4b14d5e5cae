// Row gather with decode. Quantized rows go through the shared row
// dequantizer (common/dequant.h) so values match the reference bit for bit.
#include "ops/embedding/kernels/embedding_kernel.h"

#include <cstring>

#include "common/convert.h"
#include "common/dequant.h"
#include "rma/plugin.h"

namespace rma::cpu {

void embedding_row(int32_t table_dt, const void* src, int32_t out_dt, void* dst, int64_t h,
                   float* scratch) {
  if (table_dt == out_dt) {
    std::memcpy(dst, src, h * (out_dt == RMA_DTYPE_F32 ? 4 : 2));
  } else if (out_dt == RMA_DTYPE_F32) {
    dequantize_row(table_dt, src, static_cast<float*>(dst), h);
  } else {
    dequantize_row(table_dt, src, scratch, h);
    store_f32(out_dt, scratch, dst, h);
  }
}

}  // namespace rma::cpu
