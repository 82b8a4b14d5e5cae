// embedding: y[t] = table[ids[t]] (dequantized), docs/ops.md "embedding".
#include "ops/reference/reference.h"
#include "rma/quant.h"

namespace rma::reference {

void embedding(const rma_op_call& call) {
  const rma_tensor& table = call.inputs[1];
  const std::vector<int64_t> ids = read_ints(call.inputs[0]);
  const int64_t vocab = table.shape[0], h = table.shape[1];
  const DType dt = dtype_of(table);
  const int64_t row_bytes = bytes_for(dt, h);

  // Only the rows asked for are decoded; dequantize_row also converts the
  // float dtypes.
  std::vector<float> out(ids.size() * static_cast<size_t>(h));
  for (size_t t = 0; t < ids.size(); ++t) {
    if (ids[t] < 0 || ids[t] >= vocab)
      throw Error(ErrorCode::kInvalidArgument,
                  "id " + std::to_string(ids[t]) + " at position " + std::to_string(t) +
                      " is outside the table's [0, " + std::to_string(vocab) + ")",
                  "embedding");
    if (h > 0) dequantize_row(dt, bytes(table) + ids[t] * row_bytes, out.data() + t * h, h);
  }
  write_floats(call.outputs[0], out);
}

}  // namespace rma::reference
