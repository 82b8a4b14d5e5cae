// Shared by the add and mul modules: numpy-broadcast elementwise a (op) b
// for f32, f16 or bf16 (computed in f32, rounded once).
//
// The host aligns the shapes at the back, gives broadcast dims stride 0 and
// folds dims that are contiguous for a, b and y alike, so most calls become
// one of two cheap kernels: a flat loop (same shapes, or a scalar operand)
// or rows x columns (a row vector, or a column, broadcast over the other);
// anything else takes the general kernel with per-element index arithmetic.
#pragma once

#include <algorithm>

#include "common/kernel_utils.cuh"
#include "common/op_checks.h"

namespace rma::cuda {

struct BroadcastPlan {
  int ndim = 0;
  int64_t shape[RMA_MAX_DIMS] = {};
  int64_t a_stride[RMA_MAX_DIMS] = {};
  int64_t b_stride[RMA_MAX_DIMS] = {};
};

inline BroadcastPlan plan_broadcast(const rma_tensor& a, const rma_tensor& b, const rma_tensor& y) {
  BroadcastPlan raw;
  const int nd = y.ndim;
  int64_t sa = 1, sb = 1;
  for (int i = nd - 1; i >= 0; --i) {
    const int ia = i - (nd - a.ndim), ib = i - (nd - b.ndim);
    const int64_t da = ia >= 0 ? a.shape[ia] : 1, db = ib >= 0 ? b.shape[ib] : 1;
    raw.shape[i] = y.shape[i];
    raw.a_stride[i] = da == 1 ? 0 : sa;
    raw.b_stride[i] = db == 1 ? 0 : sb;
    sa *= da;
    sb *= db;
  }
  // Drop size-1 dims, then merge a dim into the next inner one where both
  // operands step through them as one run (stride 0 on both counts too).
  BroadcastPlan p;
  for (int i = 0; i < nd; ++i) {
    if (raw.shape[i] == 1) continue;
    if (p.ndim > 0) {
      const int j = p.ndim - 1;
      // Here j is the outer dim and raw i the inner one.
      if (p.a_stride[j] == raw.a_stride[i] * raw.shape[i] &&
          p.b_stride[j] == raw.b_stride[i] * raw.shape[i]) {
        p.shape[j] *= raw.shape[i];
        p.a_stride[j] = raw.a_stride[i];
        p.b_stride[j] = raw.b_stride[i];
        continue;
      }
    }
    p.shape[p.ndim] = raw.shape[i];
    p.a_stride[p.ndim] = raw.a_stride[i];
    p.b_stride[p.ndim] = raw.b_stride[i];
    ++p.ndim;
  }
  if (p.ndim == 0) {  // a single element
    p.ndim = 1;
    p.shape[0] = 1;
    p.a_stride[0] = 0;
    p.b_stride[0] = 0;
  }
  return p;
}

template <class T, class Op>
__global__ void binary_flat_kernel(const T* __restrict__ a, const T* __restrict__ b,
                                   T* __restrict__ y, int64_t n, int64_t sa, int64_t sb) {
  const Op op;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_f32<T>(op(to_f32(a[i * sa]), to_f32(b[i * sb])));
}

template <class T, class Op>
__global__ void binary_rows_kernel(const T* __restrict__ a, const T* __restrict__ b,
                                   T* __restrict__ y, int64_t rows, int64_t cols, int64_t sa0,
                                   int64_t sa1, int64_t sb0, int64_t sb1) {
  const Op op;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y)
    for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < cols;
         c += int64_t(gridDim.x) * blockDim.x)
      y[r * cols + c] = from_f32<T>(op(to_f32(a[r * sa0 + c * sa1]), to_f32(b[r * sb0 + c * sb1])));
}

template <class T, class Op>
__global__ void binary_general_kernel(const T* __restrict__ a, const T* __restrict__ b,
                                      T* __restrict__ y, int64_t n, BroadcastPlan p) {
  const Op op;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, ia = 0, ib = 0;
    for (int d = p.ndim - 1; d >= 0; --d) {
      const int64_t c = rem % p.shape[d];
      rem /= p.shape[d];
      ia += c * p.a_stride[d];
      ib += c * p.b_stride[d];
    }
    y[i] = from_f32<T>(op(to_f32(a[ia]), to_f32(b[ib])));
  }
}

inline rma_status binary_supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err,
                                   const char* op) {
  if (call.num_inputs != 2 || call.num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs (a, b) and one output", op);
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  if (a.dtype != b.dtype || y.dtype != a.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: a, b, y must share one dtype (%s, %s, %s)",
                op, dtype_label(a.dtype), dtype_label(b.dtype), dtype_label(y.dtype));
  if (rma_status st = require_float_on(dev, op, "a", a, err)) return st;
  const int nd = std::max(a.ndim, b.ndim);
  if (a.ndim < 0 || b.ndim < 0 || y.ndim != nd || nd > RMA_MAX_DIMS)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y must have the broadcast rank %d", op, nd);
  for (int i = 0; i < nd; ++i) {
    const int ia = i - (nd - a.ndim), ib = i - (nd - b.ndim);
    const int64_t da = ia >= 0 ? a.shape[ia] : 1, db = ib >= 0 ? b.shape[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: shapes do not broadcast at dim %d (%lld vs %lld)", op, i,
                  static_cast<long long>(da), static_cast<long long>(db));
    if (y.shape[i] != (da == 1 ? db : da))
      return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y has the wrong shape at dim %d", op, i);
  }
  return require_dense(op, {&a, &b, &y}, err);
}

template <class Op>
rma_status binary_run(const Context& ctx, const rma_op_call& call, rma_error* err, const char* op) {
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  const int64_t n = numel(y);
  if (n == 0) return RMA_STATUS_OK;
  const BroadcastPlan p = plan_broadcast(a, b, y);
  const int threads = 256;
  return with_float_type(y.dtype, [&]<class T>() {
    const T* pa = ptr<const T>(a);
    const T* pb = ptr<const T>(b);
    T* py = ptr<T>(y);
    if (p.ndim == 1) {
      binary_flat_kernel<T, Op><<<grid_for(n, threads), threads, 0, ctx.stream>>>(
          pa, pb, py, n, p.a_stride[0], p.b_stride[0]);
    } else if (p.ndim == 2) {
      const int64_t cols = p.shape[1], rows = p.shape[0];
      const dim3 grid(grid_for(cols, threads) > 1024 ? 1024 : grid_for(cols, threads),
                      static_cast<unsigned>(std::min<int64_t>(rows, kMaxGridY)));
      binary_rows_kernel<T, Op><<<grid, threads, 0, ctx.stream>>>(
          pa, pb, py, rows, cols, p.a_stride[0], p.a_stride[1], p.b_stride[0], p.b_stride[1]);
    } else {
      binary_general_kernel<T, Op>
          <<<grid_for(n, threads), threads, 0, ctx.stream>>>(pa, pb, py, n, p);
    }
    return check_launch(op, call, err);
  });
}

}  // namespace rma::cuda
