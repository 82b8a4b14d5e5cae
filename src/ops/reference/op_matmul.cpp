// matmul: numpy matmul with batch broadcasting, docs/ops.md "matmul".
// Sums in double, rounded once.
#include "ops/reference/reference.h"

namespace rma::reference {
namespace {

// One operand seen as a stack of [rows, cols] matrices: its batch dims'
// strides (in elements) against y's batch dims, 0 where broadcast.
struct Operand {
  std::vector<float> v;
  std::vector<int64_t> batch_stride;
  int64_t rows, cols;
};

Operand operand(const rma_tensor& t, bool is_a, int y_batch_dims) {
  Operand o{read_floats(t), std::vector<int64_t>(static_cast<size_t>(y_batch_dims), 0), 1, 1};
  if (t.ndim == 1) {  // a: a row [1, K]; b: a column [K, 1]
    (is_a ? o.cols : o.rows) = t.shape[0];
  } else {
    o.rows = t.shape[t.ndim - 2];
    o.cols = t.shape[t.ndim - 1];
  }
  const int t_batch = t.ndim > 2 ? t.ndim - 2 : 0;
  int64_t stride = o.rows * o.cols;
  for (int i = t_batch - 1; i >= 0; --i) {
    if (t.shape[i] != 1) o.batch_stride[y_batch_dims - t_batch + i] = stride;
    stride *= t.shape[i];
  }
  return o;
}

}  // namespace

void matmul(const rma_op_call& call) {
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  // y's batch dims: all but the matrix dims each 2-D operand contributes.
  const int y_batch = y.ndim - (a.ndim >= 2) - (b.ndim >= 2);
  const Operand oa = operand(a, true, y_batch), ob = operand(b, false, y_batch);
  const int64_t m = oa.rows, k = oa.cols, n = ob.cols;
  int64_t batches = 1;
  for (int i = 0; i < y_batch; ++i) batches *= y.shape[i];

  std::vector<float> out(static_cast<size_t>(batches * m * n));
  std::vector<int64_t> index(static_cast<size_t>(y_batch), 0);
  for (int64_t bi = 0; bi < batches; ++bi) {
    int64_t off_a = 0, off_b = 0;
    for (int d = 0; d < y_batch; ++d) {
      off_a += index[d] * oa.batch_stride[d];
      off_b += index[d] * ob.batch_stride[d];
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p)
          sum += double(oa.v[off_a + i * k + p]) * double(ob.v[off_b + p * n + j]);
        out[(bi * m + i) * n + j] = static_cast<float>(sum);
      }
    for (int d = y_batch - 1; d >= 0; --d) {  // next batch index (odometer)
      if (++index[d] < y.shape[d]) break;
      index[d] = 0;
    }
  }
  write_floats(y, out);
}

}  // namespace rma::reference
