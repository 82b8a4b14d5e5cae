// slice: y[i] = x[start + i * step] on every axis, docs/ops.md "slice".
#include "ops/reference/reference.h"

namespace rma::reference {

void slice(const rma_op_call& call) {
  const auto& a = *static_cast<const rma_slice_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const std::vector<int64_t> xs = dense_strides(x);
  int64_t to = 0;
  for_each_index(y, [&](const std::vector<int64_t>& idx) {
    int64_t from = 0;
    for (int d = 0; d < x.ndim; ++d) from += (a.start[d] + idx[d] * a.step[d]) * xs[d];
    copy_element(x, from, y, to++);
  });
}

}  // namespace rma::reference
