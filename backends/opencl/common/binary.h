// Shared by the add and mul modules: the checks of numpy-broadcast
// elementwise a (op) b on f32, f16 or bf16. Both run on the binary module's
// kernels (launch_binary in common/tier2.h).
#pragma once

#include <algorithm>

#include "common/cl_device.h"

namespace rma::opencl {

inline rma_status binary_supported(const ClDevice&, const rma_op_call& call, rma_error* err,
                                   const char* op) {
  if (call.num_inputs != 2 || call.num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs (a, b) and one output", op);
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  if (a.dtype != b.dtype || y.dtype != a.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: a, b, y must share one dtype (%s, %s, %s)",
                op, dtype_label(a.dtype), dtype_label(b.dtype), dtype_label(y.dtype));
  if (rma_status st = require_float(op, "a", a, err)) return st;
  const int nd = std::max(a.ndim, b.ndim);
  if (a.ndim < 0 || b.ndim < 0 || y.ndim != nd || nd > RMA_MAX_DIMS)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y must have the broadcast rank %d", op, nd);
  for (int i = 0; i < nd; ++i) {
    const int ia = i - (nd - a.ndim), ib = i - (nd - b.ndim);
    const int64_t da = ia >= 0 ? a.shape[ia] : 1, db = ib >= 0 ? b.shape[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: shapes do not broadcast at dim %d (%lld vs %lld)",
                  op, i, static_cast<long long>(da), static_cast<long long>(db));
    if (y.shape[i] != std::max(da, db) && !(da == 0 || db == 0))
      return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y has the wrong shape at dim %d", op, i);
  }
  if (!is_dense(a) || !is_dense(b) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", op);
  return RMA_STATUS_OK;
}

}  // namespace rma::opencl
