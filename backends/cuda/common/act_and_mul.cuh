// Shared by silu_and_mul and gelu_and_mul: x[..., 2I] -> y[..., I] with
// y = act(x[..., :I]) * x[..., I:], f32, f16 or bf16 (computed in f32,
// rounded once). Rows over the grid's y dimension, columns over x.
#pragma once

#include <algorithm>

#include "common/kernel_utils.cuh"
#include "common/op_checks.h"

namespace rma::cuda {

template <class T, class Act>
__global__ void act_and_mul_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows,
                                   int64_t inner, Act act) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const T* xr = x + r * 2 * inner;
    T* yr = y + r * inner;
    for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < inner;
         c += int64_t(gridDim.x) * blockDim.x)
      yr[c] = from_f32<T>(act(to_f32(xr[c])) * to_f32(xr[inner + c]));
  }
}

inline rma_status act_and_mul_supported(const CudaDevice& dev, const rma_op_call& call,
                                        rma_error* err, const char* op) {
  if (call.num_inputs < 1 || call.num_outputs < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x and one output", op);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (y.dtype != x.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: x and y must share one dtype", op);
  if (rma_status st = require_float_on(dev, op, "x", x, err)) return st;
  if (x.ndim < 1 || last_dim(x) % 2 != 0 || y.ndim != x.ndim || last_dim(y) * 2 != last_dim(x) ||
      leading_rows(y) != leading_rows(x))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected x[..., 2I] and y[..., I]", op);
  return require_dense(op, {&x, &y}, err);
}

template <class Act>
rma_status act_and_mul_run(const Context& ctx, const rma_op_call& call, rma_error* err,
                           const char* op, Act act) {
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const int64_t inner = last_dim(y), rows = leading_rows(x);
  if (rows == 0 || inner == 0) return RMA_STATUS_OK;
  const int threads = 256;
  const dim3 grid(std::min<unsigned>(grid_for(inner, threads), 1024u),
                  static_cast<unsigned>(std::min<int64_t>(rows, kMaxGridY)));
  return with_float_type(x.dtype, [&]<class T>() {
    act_and_mul_kernel<T, Act>
        <<<grid, threads, 0, ctx.stream>>>(ptr<const T>(x), ptr<T>(y), rows, inner, act);
    return check_launch(op, call, err);
  });
}

}  // namespace rma::cuda
