// Row copy with dtype conversion for the cache scatter. The conversions are
// the shared SIMD converters (common/convert.h); same-dtype rows are memcpy.
#include "ops/fill_kv_cache/kernels/fill_kv_cache_kernel.h"

#include <cstring>

#include "common/convert.h"
#include "rma/plugin.h"

namespace rma::cpu {

void kv_copy_row(int32_t src_dt, const void* src, int32_t dst_dt, void* dst, int64_t n,
                 float* scratch) {
  if (src_dt == dst_dt) {
    std::memcpy(dst, src, n * (src_dt == RMA_DTYPE_F32 ? 4 : 2));
  } else if (src_dt == RMA_DTYPE_F32) {
    store_f32(dst_dt, static_cast<const float*>(src), dst, n);
  } else if (dst_dt == RMA_DTYPE_F32) {
    load_f32(src_dt, src, static_cast<float*>(dst), n);
  } else {
    load_f32(src_dt, src, scratch, n);
    store_f32(dst_dt, scratch, dst, n);
  }
}

}  // namespace rma::cpu
