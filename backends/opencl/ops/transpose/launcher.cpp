// opencl transpose: y.shape[d] = x.shape[perm[d]] for any non-quantized
// dtype (docs/ops.md "transpose"). The permutation is collapsed first
// (axes that stay neighbours merge); a swap of the last two axes (2-D, or
// batched 3-D) runs the local-memory tiled kernel where config.h says it
// pays, anything else the plan copy, and a permutation that moves nothing
// is a buffer copy. RMA_OPENCL_TRANSPOSE=tiled|copy forces one kernel for
// such swaps.
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/tier2.h"
#include "ops/transpose/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "transpose";
constexpr const char* kSource = "transpose/transpose";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs != 1 || call.num_outputs != 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x, attrs and one output",
                kOp);
  const auto* a = static_cast<const rma_transpose_attrs*>(call.attrs);
  if (a->struct_size < sizeof(rma_transpose_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_transpose_attrs too small", kOp);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (rma_status st = require_plain(kOp, "x", x, err)) return st;
  if (y.dtype != x.dtype || y.ndim != x.ndim || x.ndim > RMA_MAX_DIMS)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y must have x's dtype and rank", kOp);
  uint32_t seen = 0;
  for (int d = 0; d < x.ndim; ++d) {
    const int32_t p = a->perm[d];
    if (p < 0 || p >= x.ndim || (seen >> p & 1) || y.shape[d] != x.shape[p])
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: perm must be a permutation of x's axes with y.shape[d] = x.shape[perm[d]]",
                  kOp);
    seen |= 1u << p;
  }
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// Whether a swap of the last two axes runs the tiled kernel: config.h's
// policy, or RMA_OPENCL_TRANSPOSE=tiled|copy.
bool tiled_for(const ClDevice& dev) {
  const char* v = std::getenv("RMA_OPENCL_TRANSPOSE");
  if (v && std::strcmp(v, "tiled") == 0) return true;
  if (v && std::strcmp(v, "copy") == 0) return false;
  return transpose_config::use_tiled(dev.type & CL_DEVICE_TYPE_CPU);
}

// The tiled kernel for y [B, R, C] = x [B, C, R] swapped; *ran stays false
// (the caller then runs the plan copy) where the device takes fewer than
// TILE x TILE work-items for it.
rma_status run_tiled(const Context& ctx, const rma_tensor& x, const rma_tensor& y, int64_t batches,
                     int64_t rows, int64_t cols, bool* ran, rma_error* err) {
  using transpose_config::kTile;
  *ran = false;
  cl_kernel k = nullptr;
  if (rma_status st =
          get_kernel(ctx.dev, kSource, "transpose_tiled",
                     "-DTILE=" + std::to_string(kTile) + element_option(x.dtype), &k, err))
    return st;
  size_t limit = 0;
  if (clGetKernelWorkGroupInfo(k, ctx.dev.id, CL_KERNEL_WORK_GROUP_SIZE, sizeof(limit), &limit,
                               nullptr) != CL_SUCCESS ||
      limit < kTile * kTile) {
    clReleaseKernel(k);
    return RMA_STATUS_OK;
  }
  *ran = true;
  ArgSetter set(k);
  set(mem_of(x))(elem_offset(x))(mem_of(y))(elem_offset(y))(cl_long(rows))(cl_long(cols));
  const size_t global[3] = {size_t(rows), size_t(cols), size_t(batches)};
  const size_t local[3] = {kTile, kTile, 1};
  return launch(ctx, k, kOp, set.status(), 3, global, local, err);
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& a = *static_cast<const rma_transpose_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (numel(y) == 0) return RMA_STATUS_OK;
  int64_t xs[RMA_MAX_DIMS] = {};
  dense_strides(x, xs);
  NdPlan plan;
  plan.ndim = y.ndim;
  for (int d = 0; d < y.ndim; ++d) {
    plan.shape[d] = y.shape[d];
    plan.stride[0][d] = xs[a.perm[d]];
  }
  dense_strides(y, plan.stride[1]);
  plan.base[0] = int64_t(elem_offset(x));
  plan.base[1] = int64_t(elem_offset(y));
  plan = collapse(plan, 2);
  // Swapped last two axes: y [B, R, C] reads x with strides [R*C, 1, R].
  const int nd = plan.ndim;
  if (nd == 2 || nd == 3) {
    const int64_t rows = plan.shape[nd - 2], cols = plan.shape[nd - 1];
    const int64_t* s = plan.stride[0];
    if (tiled_for(ctx.dev) && s[nd - 2] == 1 && s[nd - 1] == rows &&
        (nd == 2 || s[0] == rows * cols)) {
      bool ran = false;
      rma_status st = run_tiled(ctx, x, y, nd == 3 ? plan.shape[0] : 1, rows, cols, &ran, err);
      if (st != RMA_STATUS_OK || ran) return st;
    }
  }
  return run_plan_copy(ctx, kOp, kSource, mem_of(x), mem_of(y), x.dtype, plan, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_TRANSPOSE, supported, run);

}  // namespace rma::opencl
