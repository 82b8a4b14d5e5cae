// The block decoders are the core's own (rma/block_decode.h), compiled
// here without FMA contraction, so every value rounds exactly as in
// rma::dequantize_row. Float dtypes go through the SIMD converters, which
// are exact.
#include "common/dequant.h"

#include "common/convert.h"
#include "rma/dtype.h"
#include "rma/block_decode.h"

namespace rma::cpu {

bool can_dequantize(int32_t dtype) {
  return is_valid(dtype) &&
         (is_float(static_cast<DType>(dtype)) || is_quantized(static_cast<DType>(dtype)));
}

void dequantize_row(int32_t dtype, const void* src, float* dst, int64_t n) {
  if (!can_dequantize(dtype)) return;
  const int64_t be = block_elems(static_cast<DType>(dtype));
  if (n <= 0 || n % be != 0) return;
  const int64_t nb = n / be;
  switch (dtype) {
    case RMA_DTYPE_F32:
    case RMA_DTYPE_F16:
    case RMA_DTYPE_BF16: load_f32(dtype, src, dst, n); break;
    case RMA_DTYPE_Q8_0: decode_q8_0(static_cast<const rma_block_q8_0*>(src), dst, nb); break;
    case RMA_DTYPE_Q4_0: decode_q4_0(static_cast<const rma_block_q4_0*>(src), dst, nb); break;
    case RMA_DTYPE_Q4_1: decode_q4_1(static_cast<const rma_block_q4_1*>(src), dst, nb); break;
    case RMA_DTYPE_Q4_K: decode_q4_K(static_cast<const rma_block_q4_K*>(src), dst, nb); break;
    case RMA_DTYPE_Q5_K: decode_q5_K(static_cast<const rma_block_q5_K*>(src), dst, nb); break;
    case RMA_DTYPE_Q6_K: decode_q6_K(static_cast<const rma_block_q6_K*>(src), dst, nb); break;
    default: break;
  }
}

}  // namespace rma::cpu
