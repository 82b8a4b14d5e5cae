// quant_linear: linear with a block-quantized w[N,K], docs/ops.md
// "quant_linear". The weight is dequantized exactly as dequantize_row does,
// which is what read_floats inside linear() does for quantized tensors.
#include "ops/reference/reference.h"

namespace rma::reference {

void quant_linear(const rma_op_call& call) { linear(call); }

}  // namespace rma::reference
