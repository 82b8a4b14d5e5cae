// opencl reduce: sum, mean, max, min, prod, sum_square, argmax and argmin
// over the axes in a mask (docs/ops.md "reduce"); f32/f16/bf16 accumulate
// in f32, i32/i64 in int64 (wrapping); arg* give i64, the first index of
// ties. The kept and the reduced axes are each collapsed into an N-d plan,
// so a last-axis reduction reads contiguous rows.
#include <string>

#include "common/tier2.h"
#include "ops/reduce/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "reduce";

bool is_arg(int32_t kind) { return kind == RMA_REDUCE_ARGMAX || kind == RMA_REDUCE_ARGMIN; }

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs != 1 || call.num_outputs != 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x, attrs and one output",
                kOp);
  const auto* a = static_cast<const rma_reduce_attrs*>(call.attrs);
  if (a->struct_size < sizeof(rma_reduce_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_reduce_attrs too small", kOp);
  if (a->kind < 0 || a->kind >= RMA_REDUCE_COUNT)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: unknown kind %d", kOp, a->kind);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const bool dtype_ok = a->kind == RMA_REDUCE_MEAN
                            ? is_float_dtype(x.dtype)
                            : is_float_dtype(x.dtype) || is_int_dtype(x.dtype);
  const int32_t y_dtype = is_arg(a->kind) ? RMA_DTYPE_I64 : x.dtype;
  if (!dtype_ok || y.dtype != y_dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: kind %d with x %s, y %s", kOp, a->kind,
                dtype_label(x.dtype), dtype_label(y.dtype));
  const uint32_t all = x.ndim >= 32 ? ~0u : (1u << x.ndim) - 1;
  if (x.ndim > RMA_MAX_DIMS || a->axes == 0 || (a->axes & ~all) != 0 ||
      (is_arg(a->kind) && (a->axes & (a->axes - 1)) != 0))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad axes mask 0x%x for a %d-D x", kOp,
                a->axes, x.ndim);
  // y: x's shape without the reduced axes (kept as 1 with keepdims).
  int yd = 0;
  bool ok = true;
  for (int d = 0; d < x.ndim && ok; ++d) {
    const bool reduced = a->axes >> d & 1;
    if (reduced && !a->keepdims) continue;
    ok = yd < y.ndim && y.shape[yd] == (reduced ? 1 : x.shape[d]);
    ++yd;
  }
  if (!ok || yd != y.ndim)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y's shape does not match the axes", kOp);
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& a = *static_cast<const rma_reduce_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const cl_long n_out = numel(y);
  if (n_out == 0) return RMA_STATUS_OK;
  int64_t xs[RMA_MAX_DIMS] = {};
  dense_strides(x, xs);
  NdPlan kept, red;
  cl_long count = 1;
  for (int d = 0; d < x.ndim; ++d) {
    NdPlan& p = (a.axes >> d & 1) ? red : kept;
    p.shape[p.ndim] = x.shape[d];
    p.stride[0][p.ndim] = xs[d];
    ++p.ndim;
    if (a.axes >> d & 1) count *= x.shape[d];
  }
  kept.base[0] = int64_t(elem_offset(x));
  cl_mem metas[2] = {nullptr, nullptr};
  auto release = [&] {
    for (cl_mem m : metas)
      if (m) clReleaseMemObject(m);
  };
  red = collapse(red, 1);
  if (rma_status st = upload_plan(ctx, collapse(kept, 1), kOp, &metas[0], err)) return st;
  if (rma_status st = upload_plan(ctx, red, kOp, &metas[1], err)) {
    release();
    return st;
  }
  // One program per (kind, dtype) holds both kernels; LOCAL_SIZE shrinks
  // (rebuilding) where the device allows fewer work-items per group.
  size_t local = (ctx.dev.type & CL_DEVICE_TYPE_CPU) ? reduce_config::kCpuLocalSize
                                                     : reduce_config::kGpuLocalSize;
  const bool contiguous = red.stride[0][red.ndim - 1] == 1;
  const bool groups = count >= reduce_config::kGroupMinCount &&
                      (contiguous || n_out < reduce_config::kGroupMaxStridedOutputs);
  cl_kernel k = nullptr;
  for (;;) {
    const std::string options = "-DKIND=" + std::to_string(a.kind) +
                                " -DLOCAL_SIZE=" + std::to_string(local) +
                                numeric_option("DTYPE", x.dtype) + numeric_option("OUT", y.dtype);
    if (rma_status st = get_kernel(ctx.dev, "reduce/reduce",
                                   groups ? "reduce_groups" : "reduce_rows", options, &k, err)) {
      release();
      return st;
    }
    size_t limit = 0;
    if (!groups ||
        clGetKernelWorkGroupInfo(k, ctx.dev.id, CL_KERNEL_WORK_GROUP_SIZE, sizeof(limit), &limit,
                                 nullptr) != CL_SUCCESS ||
        limit >= local || local == 1)
      break;
    clReleaseKernel(k);
    while (local > limit && local > 1) local /= 2;
  }
  ArgSetter set(k);
  set(mem_of(x))(mem_of(y))(elem_offset(y))(metas[0])(metas[1])(n_out)(count);
  rma_status st;
  if (groups) {
    const size_t global = size_t(n_out) * local;
    st = launch(ctx, k, kOp, set.status(), 1, &global, &local, err);
  } else {
    const size_t global = size_t(n_out);
    st = launch(ctx, k, kOp, set.status(), 1, &global, nullptr, err);
  }
  release();
  return st;
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_REDUCE, supported, run);

}  // namespace rma::opencl
