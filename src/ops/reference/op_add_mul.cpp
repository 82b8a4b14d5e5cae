// add and mul: y = a + b, y = a * b with numpy broadcasting, docs/ops.md "add, mul".
#include "ops/reference/reference.h"

namespace rma::reference {
namespace {

// Element strides of `t` seen from an output of `out_ndim` dims: dims are
// aligned from the right, and broadcast (size-1 or missing) dims get 0.
std::vector<int64_t> broadcast_strides(const rma_tensor& t, int out_ndim) {
  std::vector<int64_t> strides(static_cast<size_t>(out_ndim), 0);
  int64_t s = 1;
  for (int i = t.ndim - 1; i >= 0; --i) {
    strides[out_ndim - t.ndim + i] = t.shape[i] == 1 ? 0 : s;
    s *= t.shape[i];
  }
  return strides;
}

template <class Op>
void binary(const rma_op_call& call, Op op) {
  const rma_tensor& y = call.outputs[0];
  const std::vector<float> av = read_floats(call.inputs[0]);
  const std::vector<float> bv = read_floats(call.inputs[1]);
  const std::vector<int64_t> sa = broadcast_strides(call.inputs[0], y.ndim);
  const std::vector<int64_t> sb = broadcast_strides(call.inputs[1], y.ndim);

  const int64_t n = numel(y);
  std::vector<float> out(static_cast<size_t>(n));
  std::vector<int64_t> index(static_cast<size_t>(y.ndim), 0);  // of the output element
  int64_t ia = 0, ib = 0;                                      // matching offsets in a and b
  for (int64_t e = 0; e < n; ++e) {
    out[e] = op(av[ia], bv[ib]);
    // Advance the multi-index like an odometer, keeping ia and ib in step.
    for (int d = y.ndim - 1; d >= 0; --d) {
      ia += sa[d];
      ib += sb[d];
      if (++index[d] < y.shape[d]) break;
      ia -= sa[d] * y.shape[d];
      ib -= sb[d] * y.shape[d];
      index[d] = 0;
    }
  }
  write_floats(y, out);
}

}  // namespace

void add(const rma_op_call& call) { binary(call, [](float a, float b) { return a + b; }); }
void mul(const rma_op_call& call) { binary(call, [](float a, float b) { return a * b; }); }

}  // namespace rma::reference
