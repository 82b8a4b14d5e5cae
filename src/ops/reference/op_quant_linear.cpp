// quant_linear: linear with a block-quantized or f16/bf16 w[N,K], docs/ops.md
// "quant_linear". The weight is dequantized exactly as dequantize_row does
// (f16/bf16 widened exactly), which is what read_floats inside linear() does;
// x, bias and y are read and written in their own dtype.
#include "ops/reference/reference.h"

namespace rma::reference {

void quant_linear(const rma_op_call& call) { linear(call); }

}  // namespace rma::reference
