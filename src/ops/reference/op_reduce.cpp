// reduce: sum, mean, max, min, prod, sum_square, argmax, argmin over the
// axes in a mask, docs/ops.md "reduce". Floats accumulate in double, ints
// in int64 (wrapping), each output rounded once.
#include <limits>

#include "ops/reference/reference.h"

namespace rma::reference {
namespace {

// The flat output index of every input element: its index with the reduced
// axes dropped (keepdims only changes the output's shape, not its order).
std::vector<int64_t> output_index(const rma_tensor& x, uint32_t axes) {
  std::vector<int64_t> stride(static_cast<size_t>(x.ndim), 0);
  int64_t s = 1;
  for (int d = x.ndim - 1; d >= 0; --d)
    if (!(axes >> d & 1)) {
      stride[d] = s;
      s *= x.shape[d];
    }
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(numel(x)));
  for_each_index(x, [&](const std::vector<int64_t>& idx) {
    int64_t flat = 0;
    for (int d = 0; d < x.ndim; ++d) flat += idx[d] * stride[d];
    out.push_back(flat);
  });
  return out;
}

template <class T>
void accumulate(int32_t kind, T& acc, T v) {
  switch (kind) {
    case RMA_REDUCE_SUM:
    case RMA_REDUCE_MEAN:
      acc += v;
      break;
    case RMA_REDUCE_SUM_SQUARE:
      acc += v * v;
      break;
    case RMA_REDUCE_PROD:
      acc *= v;
      break;
    case RMA_REDUCE_MAX:
      acc = v > acc ? v : acc;
      break;
    case RMA_REDUCE_MIN:
      acc = v < acc ? v : acc;
      break;
    default:
      break;
  }
}

// argmax / argmin over the one axis: the first index of the extreme value.
void arg_reduce(const rma_op_call& call, int axis, bool is_max) {
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.shape[d];
  for (int d = axis + 1; d < x.ndim; ++d) inner *= x.shape[d];
  const int64_t n = x.shape[axis];
  const bool floats = is_float(dtype_of(x));
  const std::vector<float> fv = floats ? read_floats(x) : std::vector<float>{};
  const std::vector<int64_t> iv = floats ? std::vector<int64_t>{} : read_ints(x);
  std::vector<int64_t> out(static_cast<size_t>(outer * inner));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      const int64_t base = o * n * inner + in;
      int64_t best = 0;
      for (int64_t j = 1; j < n; ++j) {
        const int64_t e = base + j * inner, b = base + best * inner;
        const bool better = floats ? (is_max ? fv[e] > fv[b] : fv[e] < fv[b])
                                   : (is_max ? iv[e] > iv[b] : iv[e] < iv[b]);
        if (better) best = j;
      }
      out[o * inner + in] = best;
    }
  write_ints(y, out);
}

}  // namespace

void reduce(const rma_op_call& call) {
  const auto& a = *static_cast<const rma_reduce_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (a.kind == RMA_REDUCE_ARGMAX || a.kind == RMA_REDUCE_ARGMIN) {
    int axis = 0;
    while (!(a.axes >> axis & 1)) ++axis;
    arg_reduce(call, axis, a.kind == RMA_REDUCE_ARGMAX);
    return;
  }
  int64_t count = 1;  // elements reduced into each output
  for (int d = 0; d < x.ndim; ++d)
    if (a.axes >> d & 1) count *= x.shape[d];
  const std::vector<int64_t> to = output_index(x, a.axes);
  const size_t n_out = static_cast<size_t>(numel(y));
  const bool is_max = a.kind == RMA_REDUCE_MAX, is_min = a.kind == RMA_REDUCE_MIN;

  if (is_float(dtype_of(x))) {
    const double start = a.kind == RMA_REDUCE_PROD ? 1.0
                         : is_max                  ? -std::numeric_limits<double>::infinity()
                         : is_min                  ? std::numeric_limits<double>::infinity()
                                                   : 0.0;
    std::vector<double> acc(n_out, start);
    const std::vector<float> v = read_floats(x);
    for (size_t i = 0; i < v.size(); ++i) accumulate<double>(a.kind, acc[to[i]], v[i]);
    std::vector<float> out(n_out);
    for (size_t i = 0; i < n_out; ++i)  // mean over nothing: 0 / 0 = NaN
      out[i] = static_cast<float>(a.kind == RMA_REDUCE_MEAN ? acc[i] / double(count) : acc[i]);
    write_floats(y, out);
    return;
  }
  // Ints: unsigned arithmetic wraps instead of overflowing.
  const int64_t start = a.kind == RMA_REDUCE_PROD ? 1
                        : is_max                  ? std::numeric_limits<int64_t>::min()
                        : is_min                  ? std::numeric_limits<int64_t>::max()
                                                  : 0;
  std::vector<int64_t> acc(n_out, start);
  const std::vector<int64_t> v = read_ints(x);
  for (size_t i = 0; i < v.size(); ++i) {
    if (is_max || is_min) {
      accumulate<int64_t>(a.kind, acc[to[i]], v[i]);
    } else {
      uint64_t u = static_cast<uint64_t>(acc[to[i]]);
      accumulate<uint64_t>(a.kind, u, static_cast<uint64_t>(v[i]));
      acc[to[i]] = static_cast<int64_t>(u);
    }
  }
  write_ints(y, acc);
}

}  // namespace rma::reference
