// transpose: y's axis d is x's axis perm[d], docs/ops.md "transpose".
#include "ops/reference/reference.h"

namespace rma::reference {

void transpose(const rma_op_call& call) {
  const auto& a = *static_cast<const rma_transpose_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const std::vector<int64_t> xs = dense_strides(x);
  int64_t to = 0;
  for_each_index(y, [&](const std::vector<int64_t>& idx) {
    int64_t from = 0;
    for (int d = 0; d < y.ndim; ++d) from += idx[d] * xs[a.perm[d]];
    copy_element(x, from, y, to++);
  });
}

}  // namespace rma::reference
