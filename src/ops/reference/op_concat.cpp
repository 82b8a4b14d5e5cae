// concat: the inputs joined along an axis, docs/ops.md "concat".
#include "ops/reference/reference.h"

namespace rma::reference {

void concat(const rma_op_call& call) {
  const rma_tensor& y = call.outputs[0];
  const int axis = static_cast<const rma_axis_attrs*>(call.attrs)->axis;
  // Every tensor viewed as [outer, extent along axis, inner].
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= y.shape[d];
  for (int d = axis + 1; d < y.ndim; ++d) inner *= y.shape[d];
  const int64_t total = y.shape[axis];
  int64_t at = 0;  // where the current input starts along the axis of y
  for (int j = 0; j < call.num_inputs; ++j) {
    const rma_tensor& x = call.inputs[j];
    const int64_t n = x.shape[axis];
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t e = 0; e < n * inner; ++e)
        copy_element(x, o * n * inner + e, y, (o * total + at) * inner + e);
    at += n;
  }
}

}  // namespace rma::reference
