// Shared by the Tier-2 modules (unary, binary, matmul, reduce, cast, where,
// gather, concat, slice, transpose, expand): build options naming any plain
// dtype, N-d plans for strided and broadcast kernels, and reading small
// index tensors back to the host for checks.
//
// An N-d plan walks a shape in row-major order; operand k reads (or writes)
// element base[k] + sum_d i_d * stride[k][d] (stride 0 on broadcast dims,
// negative for reversed slices). Plans are collapsed before launch: dims of
// extent 1 are dropped and neighbours merged where every operand steps
// through them contiguously, so a same-shape op becomes 1-D and a row
// broadcast 2-D. Elementwise kernels then run a 3-D range {inner, mid,
// outer} and take each operand's base and three strides as scalars
// (set_plan_operand); plans of more than 3 dims also pass the plan's table
// (upload_plan) to their `_nd` kernel twin. common/kernels/nd_plan.cl is the
// kernel side.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "common/cl_device.h"

namespace rma::opencl {

constexpr int kPlanOperands = 3;
constexpr int kPlanLongs = 1 + RMA_MAX_DIMS + kPlanOperands * RMA_MAX_DIMS + kPlanOperands;

struct NdPlan {
  int ndim = 0;
  int64_t shape[RMA_MAX_DIMS] = {};
  int64_t stride[kPlanOperands][RMA_MAX_DIMS] = {};
  int64_t base[kPlanOperands] = {};

  // The range kernels run: the last dim, the one before it, and the
  // product of the others.
  int64_t inner() const { return ndim ? shape[ndim - 1] : 1; }
  int64_t mid() const { return ndim >= 2 ? shape[ndim - 2] : 1; }
  int64_t outer() const {
    int64_t r = 1;
    for (int d = 0; d + 2 < ndim; ++d) r *= shape[d];
    return r;
  }
  int64_t numel() const { return inner() * mid() * outer(); }
};

// Drops extent-1 dims and merges dim d into d + 1 wherever every operand's
// stride[d] equals stride[d + 1] * shape[d + 1]. A plan with no dims left
// becomes [1].
inline NdPlan collapse(const NdPlan& p, int operands) {
  NdPlan rev;  // dims innermost first
  for (int k = 0; k < kPlanOperands; ++k) rev.base[k] = p.base[k];
  for (int d = p.ndim - 1; d >= 0; --d) {
    if (p.shape[d] == 1) continue;
    if (rev.ndim > 0) {
      const int last = rev.ndim - 1;
      bool contiguous = true;
      for (int k = 0; k < operands; ++k)
        contiguous &= p.stride[k][d] == rev.stride[k][last] * rev.shape[last];
      if (contiguous) {
        rev.shape[last] *= p.shape[d];
        continue;
      }
    }
    rev.shape[rev.ndim] = p.shape[d];
    for (int k = 0; k < operands; ++k) rev.stride[k][rev.ndim] = p.stride[k][d];
    ++rev.ndim;
  }
  NdPlan out;
  for (int k = 0; k < kPlanOperands; ++k) out.base[k] = p.base[k];
  if (rev.ndim == 0) {
    out.ndim = 1;
    out.shape[0] = 1;
    return out;
  }
  out.ndim = rev.ndim;
  for (int d = 0; d < rev.ndim; ++d) {
    out.shape[d] = rev.shape[rev.ndim - 1 - d];
    for (int k = 0; k < operands; ++k) out.stride[k][d] = rev.stride[k][rev.ndim - 1 - d];
  }
  return out;
}

// Row-major element strides of t (size-1 dims included).
inline void dense_strides(const rma_tensor& t, int64_t* out) {
  int64_t s = 1;
  for (int d = t.ndim - 1; d >= 0; --d) {
    out[d] = s;
    s *= t.shape[d];
  }
}

// Strides that read t broadcast (numpy rules, aligned at the back) to an
// output of out_ndim dims: 0 on dims t lacks or has as 1.
inline void broadcast_strides(const rma_tensor& t, int out_ndim, int64_t* out) {
  int64_t dense[RMA_MAX_DIMS] = {};
  dense_strides(t, dense);
  for (int d = 0; d < out_ndim; ++d) {
    const int td = d - (out_ndim - t.ndim);
    out[d] = td < 0 || t.shape[td] == 1 ? 0 : dense[td];
  }
}

// The plan's table [ndim, shape[8], stride[3][8], base[3]] as a small
// read-only buffer, for kernels that walk a plan themselves (reduce) and for
// the `_nd` twins. The caller releases it once the kernel is enqueued
// (OpenCL keeps it alive until the kernel has run).
inline rma_status upload_plan(const Context& ctx, const NdPlan& p, const char* op, cl_mem* out,
                              rma_error* err) {
  cl_long meta[kPlanLongs] = {};
  meta[0] = p.ndim;
  for (int d = 0; d < RMA_MAX_DIMS; ++d) {
    meta[1 + d] = p.shape[d];
    for (int k = 0; k < kPlanOperands; ++k)
      meta[1 + RMA_MAX_DIMS + k * RMA_MAX_DIMS + d] = p.stride[k][d];
  }
  for (int k = 0; k < kPlanOperands; ++k)
    meta[1 + RMA_MAX_DIMS + kPlanOperands * RMA_MAX_DIMS + k] = p.base[k];
  cl_int st = CL_SUCCESS;
  *out = clCreateBuffer(ctx.dev.context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof(meta),
                        meta, &st);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): %s: plan table: %s",
                ctx.dev.name.c_str(), op, cl_error_name(st));
  return RMA_STATUS_OK;
}
// The table where an elementwise kernel needs one (plans of more than 3
// dims, run by the `_nd` twin); null otherwise.
inline rma_status plan_table(const Context& ctx, const NdPlan& p, const char* op, cl_mem* out,
                             rma_error* err) {
  *out = nullptr;
  return p.ndim > 3 ? upload_plan(ctx, p, op, out, err) : RMA_STATUS_OK;
}

// Sets operand k's PLAN_OPERAND arguments (common/kernels/nd_plan.cl):
// base, then its strides on the outer (used without a table: 3-dim plans),
// mid and inner range dims.
inline void set_plan_operand(ArgSetter& set, const NdPlan& p, int k) {
  const int nd = p.ndim;
  set(cl_long(p.base[k]))(cl_long(nd == 3 ? p.stride[k][0] : 0))(
      cl_long(nd >= 2 ? p.stride[k][nd - 2] : 0))(cl_long(p.stride[k][nd - 1]));
}

// The kernel for a plan: `name`, or its `_nd` twin that takes the table.
inline std::string plan_kernel(const std::string& name, const NdPlan& p) {
  return p.ndim > 3 ? name + "_nd" : name;
}

// Sets the table (when the plan has one: the `_nd` kernels) and the range
// sizes, the kernels' last arguments; enqueues `kernel` over
// {inner, mid, outer} and releases it and the table.
inline rma_status launch_plan(const Context& ctx, cl_kernel kernel, ArgSetter& set, const char* op,
                              const NdPlan& p, cl_mem table, rma_error* err) {
  if (table) set(table);
  set(cl_long(p.inner()))(cl_long(p.mid()))(cl_long(p.outer()));
  const size_t global[3] = {size_t(p.inner()), size_t(p.mid()), size_t(p.outer())};
  const rma_status st = launch(ctx, kernel, op, set.status(), 3, global, nullptr, err);
  if (table) clReleaseMemObject(table);
  return st;
}

// The token common/kernels/numeric.cl (with dtype.cl) knows a numeric dtype
// by: f32, f16, bf16, i32, i64, boolean; null for others.
inline const char* numeric_token(int32_t dt) {
  switch (dt) {
    case RMA_DTYPE_F32:
      return "f32";
    case RMA_DTYPE_F16:
      return "f16";
    case RMA_DTYPE_BF16:
      return "bf16";
    case RMA_DTYPE_I32:
      return "i32";
    case RMA_DTYPE_I64:
      return "i64";
    case RMA_DTYPE_BOOL:
      return "boolean";
    default:
      return nullptr;
  }
}
// " -DDTYPE=i64" for (macro "DTYPE", RMA_DTYPE_I64).
inline std::string numeric_option(const char* macro, int32_t dt) {
  const char* token = numeric_token(dt);
  return std::string(" -D") + macro + "=" + (token ? token : "unknown");
}

// Ops that only move elements (where, gather, concat, slice, transpose,
// expand) copy them as unsigned integers of their size: one program per
// element size serves every dtype. Quantized dtypes have no element.
inline bool is_plain_dtype(int32_t dt) {
  return dt == RMA_DTYPE_F32 || dt == RMA_DTYPE_F16 || dt == RMA_DTYPE_BF16 || dt == RMA_DTYPE_I8 ||
         dt == RMA_DTYPE_I32 || dt == RMA_DTYPE_I64 || dt == RMA_DTYPE_BOOL;
}
inline std::string element_option(int32_t dt) {
  switch (element_bytes(dt)) {
    case 1:
      return " -DELEM=uchar";
    case 2:
      return " -DELEM=ushort";
    case 8:
      return " -DELEM=ulong";
    default:
      return " -DELEM=uint";
  }
}
inline rma_status require_plain(const char* op, const char* what, const rma_tensor& t,
                                rma_error* err) {
  if (is_plain_dtype(t.dtype)) return RMA_STATUS_OK;
  return fail(err, RMA_STATUS_INVALID_ARGUMENT,
              "%s: %s must be f32, f16, bf16, i8, i32, i64 or bool (got %s)", op, what,
              dtype_label(t.dtype));
}

// Reads an i32 or i64 tensor back to the host as int64 (a blocking read,
// ordered after earlier work on the queue): for checks the reference makes
// on values (gather's indices, integer divisors).
inline rma_status read_ints(const Context& ctx, const rma_tensor& t, const char* op,
                            const char* what, std::vector<int64_t>* out, rma_error* err) {
  const int64_t n = numel(t);
  out->assign(size_t(n), 0);
  if (n == 0) return RMA_STATUS_OK;
  const bool i64 = t.dtype == RMA_DTYPE_I64;
  std::vector<unsigned char> raw(size_t(n) * (i64 ? 8 : 4));
  const cl_int st = clEnqueueReadBuffer(ctx.queue, mem_of(t), CL_TRUE, t.offset, raw.size(),
                                        raw.data(), 0, nullptr, nullptr);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): %s: reading %s back: %s",
                ctx.dev.name.c_str(), op, what, cl_error_name(st));
  for (int64_t i = 0; i < n; ++i) {
    if (i64) {
      std::memcpy(&(*out)[size_t(i)], raw.data() + i * 8, 8);
    } else {
      int32_t v = 0;
      std::memcpy(&v, raw.data() + i * 4, 4);
      (*out)[size_t(i)] = v;
    }
  }
  return RMA_STATUS_OK;
}

// Copies x to y along a collapsed plan (operand 0 reads x, operand 1 writes
// y; bases include the tensors' element offsets) with the plan_copy kernel
// of `source` (common/kernels/plan_copy.cl, spliced into each module's
// program). A plan that is one contiguous run on both sides is a buffer copy.
inline rma_status run_plan_copy(const Context& ctx, const char* op, const std::string& source,
                                cl_mem x, cl_mem y, int32_t dtype, const NdPlan& plan,
                                rma_error* err) {
  const int64_t n = plan.numel();
  if (n == 0) return RMA_STATUS_OK;
  const cl_ulong es = element_bytes(dtype);
  if (plan.ndim == 1 && (plan.stride[0][0] == 1 || n == 1) && (plan.stride[1][0] == 1 || n == 1)) {
    const cl_int st =
        clEnqueueCopyBuffer(ctx.queue, x, y, size_t(plan.base[0]) * es, size_t(plan.base[1]) * es,
                            size_t(n) * es, 0, nullptr, nullptr);
    if (st != CL_SUCCESS)
      return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): %s: copy: %s", ctx.dev.name.c_str(),
                  op, cl_error_name(st));
    return RMA_STATUS_OK;
  }
  cl_mem table = nullptr;
  if (rma_status st = plan_table(ctx, plan, op, &table, err)) return st;
  cl_kernel k = nullptr;
  if (rma_status st = get_kernel(ctx.dev, source, plan_kernel("plan_copy", plan).c_str(),
                                 element_option(dtype), &k, err)) {
    if (table) clReleaseMemObject(table);
    return st;
  }
  ArgSetter set(k);
  set(x);
  set_plan_operand(set, plan, 0);
  set(y);
  set_plan_operand(set, plan, 1);
  return launch_plan(ctx, k, set, op, plan, table, err);
}

// y = a <kind> b (rma_binary_kind), checked by the caller: the binary
// module's kernels (ops/binary), shared with the Tier-1 add and mul ops.
rma_status launch_binary(const Context& ctx, const rma_tensor& a, const rma_tensor& b,
                         const rma_tensor& y, int32_t kind, rma_error* err);

}  // namespace rma::opencl
