// gather: y = data indexed along an axis, docs/ops.md "gather".
#include "ops/reference/reference.h"
#include "rma/tensor.h"

namespace rma::reference {

void gather(const rma_op_call& call) {
  const rma_tensor &data = call.inputs[0], &indices = call.inputs[1], &y = call.outputs[0];
  const int axis = static_cast<const rma_axis_attrs*>(call.attrs)->axis;
  // data viewed as [outer, n, inner]; y as [outer, numel(indices), inner].
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= data.shape[d];
  for (int d = axis + 1; d < data.ndim; ++d) inner *= data.shape[d];
  const int64_t n = data.shape[axis];
  const std::vector<int64_t> idx = read_ints(indices);
  const int64_t count = static_cast<int64_t>(idx.size());
  for (int64_t i = 0; i < count; ++i)
    if (idx[i] < -n || idx[i] >= n)
      throw Error(ErrorCode::kInvalidArgument,
                  "index " + std::to_string(idx[i]) + " at position " + std::to_string(i) +
                      " of indices is outside [-" + std::to_string(n) + ", " + std::to_string(n) +
                      ") for axis " + std::to_string(axis) + " of data " +
                      to_string(Shape(data.shape, data.shape + data.ndim)),
                  "gather");
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < count; ++i) {
      const int64_t row = idx[i] < 0 ? idx[i] + n : idx[i];
      for (int64_t e = 0; e < inner; ++e)
        copy_element(data, (o * n + row) * inner + e, y, (o * count + i) * inner + e);
    }
}

}  // namespace rma::reference
