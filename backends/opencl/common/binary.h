// Shared by the add and mul modules: numpy-broadcast elementwise a (op) b,
// f32, f16 or bf16 (computed in f32, rounded once). The host folds shapes
// into one int64 table the kernel reads:
//   [ndim, out_shape[8], a_strides[8], b_strides[8]]
// with stride 0 on broadcast dims; ndim = -1 marks the same-shape fast path.
#pragma once

#include <algorithm>

#include "common/cl_device.h"

namespace rma::opencl {

constexpr int kBinaryMetaLongs = 1 + 3 * RMA_MAX_DIMS;

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

inline rma_status binary_run(const Context& ctx, const rma_op_call& call, rma_error* err,
                             const char* op, const char* source, const char* kernel_name) {
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  const cl_long n = numel(y);
  if (n == 0) return RMA_STATUS_OK;
  cl_long meta[kBinaryMetaLongs] = {};
  if (same_shape(a, y) && same_shape(b, y)) {
    meta[0] = -1;
  } else {
    const int nd = y.ndim;
    meta[0] = nd;
    int64_t sa = 1, sb = 1;
    for (int i = nd - 1; i >= 0; --i) {
      const int ia = i - (nd - a.ndim), ib = i - (nd - b.ndim);
      const int64_t da = ia >= 0 ? a.shape[ia] : 1, db = ib >= 0 ? b.shape[ib] : 1;
      meta[1 + i] = y.shape[i];
      meta[1 + RMA_MAX_DIMS + i] = da == 1 ? 0 : sa;
      meta[1 + 2 * RMA_MAX_DIMS + i] = db == 1 ? 0 : sb;
      sa *= da;
      sb *= db;
    }
  }
  cl_int st = CL_SUCCESS;
  // A tiny read-only table per launch; releasing it right after the enqueue
  // is safe: OpenCL keeps it alive until the kernel has run.
  cl_mem meta_mem = clCreateBuffer(ctx.dev.context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                   sizeof(meta), meta, &st);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): %s: shape table: %s",
                ctx.dev.name.c_str(), op, cl_error_name(st));
  cl_kernel k = nullptr;
  if (rma_status s =
          get_kernel(ctx.dev, source, kernel_name, dtype_option("DTYPE", y.dtype), &k, err)) {
    clReleaseMemObject(meta_mem);
    return s;
  }
  ArgSetter set(k);
  set(mem_of(a))(elem_offset(a))(mem_of(b))(elem_offset(b))(mem_of(y))(elem_offset(y))(meta_mem)(n);
  const size_t global = size_t(n);
  const rma_status s = launch(ctx, k, op, set.status(), 1, &global, nullptr, err);
  clReleaseMemObject(meta_mem);
  return s;
}

}  // namespace rma::opencl
