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
  if (rma_status st = check_gather_call(kOp, call, err)) return st;
  const rma_tensor &data = call.inputs[0], &idx = call.inputs[1], &y = call.outputs[0];
  if (!is_dense(data) || !is_dense(idx) || !is_dense(y))
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
