// where: y = cond ? a : b with numpy broadcasting, docs/ops.md "where".
#include "ops/reference/reference.h"

namespace rma::reference {

void where(const rma_op_call& call) {
  const rma_tensor &cond = call.inputs[0], &a = call.inputs[1], &b = call.inputs[2];
  const rma_tensor& y = call.outputs[0];
  const std::vector<int64_t> ic = broadcast_index(cond, y), ia = broadcast_index(a, y),
                             ib = broadcast_index(b, y);
  const std::vector<int64_t> c = read_ints(cond);
  for (size_t i = 0; i < ic.size(); ++i) {
    const bool take_a = c[ic[i]] != 0;
    copy_element(take_a ? a : b, take_a ? ia[i] : ib[i], y, static_cast<int64_t>(i));
  }
}

}  // namespace rma::reference
