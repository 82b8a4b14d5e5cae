// softmax (or log_softmax) over the last axis, docs/ops.md "softmax".
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "ops/reference/reference.h"

namespace rma::reference {

void softmax(const rma_op_call& call) {
  const auto* attrs = static_cast<const rma_softmax_attrs*>(call.attrs);
  // `log` was appended: a struct that ends before it (or none) means softmax.
  const bool log = attrs &&
                   attrs->struct_size >= offsetof(rma_softmax_attrs, log) + sizeof(attrs->log) &&
                   attrs->log != 0;
  const rma_tensor& x = call.inputs[0];
  const int64_t n = x.ndim > 0 ? x.shape[x.ndim - 1] : 1;
  const int64_t rows = n > 0 ? numel(x) / n : 0;
  const std::vector<float> xv = read_floats(x);
  std::vector<float> out(xv.size());
  std::vector<double> e(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = xv.data() + r * n;
    const double max_v = *std::max_element(row, row + n);  // subtracted for range
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += e[i] = std::exp(double(row[i]) - max_v);
    const double log_sum = std::log(sum);
    for (int64_t i = 0; i < n; ++i)
      out[r * n + i] = static_cast<float>(log ? double(row[i]) - max_v - log_sum : e[i] / sum);
  }
  write_floats(call.outputs[0], out);
}

}  // namespace rma::reference
