// cpu gather: y = data indexed along an axis (docs/ops.md "gather"), any
// non-quantized dtype. data is seen as [outer, n, inner] and y as
// [outer, count, inner]: each (outer, index) pair is one memcpy of inner
// elements, pairs in parallel. Indices are
// all checked first, so a bad one fails the call before anything is written.
#include <algorithm>
#include <cstring>

#include "common/cpu_op.h"
#include "ops/gather/config.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "gather";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_outputs < 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected data, indices, attrs, output y",
                kOp);
  const auto* a = static_cast<const rma_axis_attrs*>(call.attrs);
  const rma_tensor &d = call.inputs[0], &idx = call.inputs[1], &y = call.outputs[0];
  if (a->struct_size < sizeof(rma_axis_attrs) || a->axis < 0 || a->axis >= d.ndim)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad attrs or axis for a %d-D data", kOp,
                d.ndim);
  if (!is_valid(d.dtype) || is_quantized(dtype_of(d)) || y.dtype != d.dtype ||
      (idx.dtype != RMA_DTYPE_I32 && idx.dtype != RMA_DTYPE_I64))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad dtypes (data %s, indices %s, y %s)", kOp,
                dtype_name(d.dtype), dtype_name(idx.dtype), dtype_name(y.dtype));
  // y = data[:axis] + indices + data[axis+1:].
  bool ok = y.ndim == d.ndim - 1 + idx.ndim;
  for (int i = 0; ok && i < y.ndim; ++i) {
    const int64_t want = i < a->axis              ? d.shape[i]
                         : i < a->axis + idx.ndim ? idx.shape[i - a->axis]
                                                  : d.shape[i - idx.ndim + 1];
    ok = y.shape[i] == want;
  }
  if (!ok)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: y's shape is not data[:axis] + indices + "
                "data[axis+1:]",
                kOp);
  if (!is_dense(d) || !is_dense(idx) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the cpu runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const int axis = static_cast<const rma_axis_attrs*>(call.attrs)->axis;
  const rma_tensor &d = call.inputs[0], &idx = call.inputs[1], &y = call.outputs[0];
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= d.shape[i];
  for (int i = axis + 1; i < d.ndim; ++i) inner *= d.shape[i];
  const int64_t n = d.shape[axis], count = numel(idx);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t v = load_index(idx, i);
    if (v < -n || v >= n)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: index %lld at position %lld of indices is outside [-%lld, %lld) for axis "
                  "%d of data",
                  kOp, static_cast<long long>(v), static_cast<long long>(i),
                  static_cast<long long>(n), static_cast<long long>(n), axis);
  }
  if (numel(y) == 0) return RMA_STATUS_OK;
  const int64_t es = bytes_for(dtype_of(d), 1), row = inner * es;
  const uint8_t* src = data<const uint8_t>(d);
  uint8_t* dst = data<uint8_t>(y);
  ctx.pool.parallel_for(outer * count, std::max<int64_t>(1, gather_config::kChunkBytes / row),
                        [&](int64_t p0, int64_t p1) {
                          for (int64_t p = p0; p < p1; ++p) {
                            const int64_t o = p / count, v = load_index(idx, p % count);
                            const uint8_t* from = src + (o * n + (v < 0 ? v + n : v)) * row;
                            std::memcpy(dst + p * row, from, static_cast<size_t>(row));
                          }
                        });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_GATHER, supported, run);

}  // namespace rma::cpu
