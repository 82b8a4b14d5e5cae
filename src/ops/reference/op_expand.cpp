// expand: x broadcast to a shape, docs/ops.md "expand".
#include "ops/reference/reference.h"

namespace rma::reference {

void expand(const rma_op_call& call) {
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const std::vector<int64_t> from = broadcast_index(x, y);
  for (size_t i = 0; i < from.size(); ++i) copy_element(x, from[i], y, static_cast<int64_t>(i));
}

}  // namespace rma::reference
