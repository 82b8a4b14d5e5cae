// cpu concat: the inputs joined along an axis (docs/ops.md "concat"), any
// non-quantized dtype, 1 to 64 inputs. Every tensor is seen as
// [outer, extent along axis, inner], so input j contributes one contiguous
// run of extent_j * inner elements per outer index: one memcpy each, the
// (outer, input) pieces in parallel.
#include <algorithm>
#include <cstring>
#include <vector>

#include "common/cpu_op.h"
#include "ops/concat/config.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "concat";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 1 || call.num_outputs < 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs, attrs and output y", kOp);
  const auto* a = static_cast<const rma_axis_attrs*>(call.attrs);
  const rma_tensor& y = call.outputs[0];
  if (a->struct_size < sizeof(rma_axis_attrs) || a->axis < 0 || a->axis >= y.ndim)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad attrs or axis for a %d-D y", kOp,
                y.ndim);
  if (!is_valid(y.dtype) || is_quantized(dtype_of(y)))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad dtype %s", kOp, dtype_name(y.dtype));
  int64_t extent = 0;
  for (int j = 0; j < call.num_inputs; ++j) {
    const rma_tensor& x = call.inputs[j];
    bool ok = x.dtype == y.dtype && x.ndim == y.ndim;
    for (int d = 0; ok && d < y.ndim; ++d) ok = d == a->axis || x.shape[d] == y.shape[d];
    if (!ok)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: input %d does not match y but on the axis",
                  kOp, j);
    if (!is_dense(x))
      return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the cpu runs dense tensors only", kOp);
    extent += x.shape[a->axis];
  }
  if (extent != y.shape[a->axis] || !is_dense(y))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y's axis is not the inputs' sum", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  const int axis = static_cast<const rma_axis_attrs*>(call.attrs)->axis;
  const rma_tensor& y = call.outputs[0];
  if (numel(y) == 0) return RMA_STATUS_OK;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= y.shape[d];
  for (int d = axis + 1; d < y.ndim; ++d) inner *= y.shape[d];
  const int64_t es = bytes_for(dtype_of(y), 1), y_row = y.shape[axis] * inner * es;
  // Bytes each input contributes per outer index, and where they go in y's row.
  const int num = call.num_inputs;
  std::vector<int64_t> run_bytes(num), at(num);
  int64_t pos = 0;
  for (int j = 0; j < num; ++j) {
    run_bytes[j] = call.inputs[j].shape[axis] * inner * es;
    at[j] = pos;
    pos += run_bytes[j];
  }
  uint8_t* dst = data<uint8_t>(y);
  const int64_t per_piece = std::max<int64_t>(1, y_row / num);
  ctx.pool.parallel_for(outer * num, std::max<int64_t>(1, concat_config::kChunkBytes / per_piece),
                        [&](int64_t p0, int64_t p1) {
                          for (int64_t p = p0; p < p1; ++p) {
                            const int64_t o = p / num;
                            const int j = static_cast<int>(p % num);
                            if (run_bytes[j] == 0) continue;
                            std::memcpy(dst + o * y_row + at[j],
                                        data<const uint8_t>(call.inputs[j]) + o * run_bytes[j],
                                        static_cast<size_t>(run_bytes[j]));
                          }
                        });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_CONCAT, supported, run);

}  // namespace rma::cpu
