// opencl unary: y = f(x) elementwise for every rma_unary_kind
// (docs/ops.md "unary"). f32, f16 and bf16 are computed in f32 and rounded
// once; neg, abs, sign, relu and clip also take i32 and i64 (int64
// arithmetic, wrapping); not takes bool.
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>

#include "common/tier2.h"
#include "ops/unary/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "unary";

bool takes_ints(int32_t kind) {
  return kind == RMA_UNARY_NEG || kind == RMA_UNARY_ABS || kind == RMA_UNARY_SIGN ||
         kind == RMA_UNARY_RELU || kind == RMA_UNARY_CLIP;
}

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs != 1 || call.num_outputs != 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x, attrs and one output",
                kOp);
  const auto* a = static_cast<const rma_unary_attrs*>(call.attrs);
  if (a->struct_size < sizeof(rma_unary_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_unary_attrs too small", kOp);
  if (a->kind < 0 || a->kind >= RMA_UNARY_COUNT)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: unknown kind %d", kOp, a->kind);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const bool dtype_ok = a->kind == RMA_UNARY_NOT ? x.dtype == RMA_DTYPE_BOOL
                        : takes_ints(a->kind)    ? is_float_dtype(x.dtype) || is_int_dtype(x.dtype)
                                                 : is_float_dtype(x.dtype);
  if (!dtype_ok)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: kind %d does not take %s", kOp, a->kind,
                dtype_label(x.dtype));
  if (y.dtype != x.dtype || !same_shape(x, y))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y must have x's shape and dtype", kOp);
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// clip's float bound made an integer bound within [lo, hi]: rounded up for
// the minimum, down for the maximum, saturated (as the reference).
cl_long int_bound(float p, bool is_min, int64_t lo, int64_t hi) {
  const double r = is_min ? std::ceil(double(p)) : std::floor(double(p));
  if (r <= double(lo)) return lo;
  if (r >= double(hi)) return hi;
  return static_cast<cl_long>(r);
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& a = *static_cast<const rma_unary_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const cl_long n = numel(x);
  if (n == 0) return RMA_STATUS_OK;
  const bool i32 = x.dtype == RMA_DTYPE_I32;
  const int64_t min =
      i32 ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int64_t>::min();
  const int64_t max =
      i32 ? std::numeric_limits<int32_t>::max() : std::numeric_limits<int64_t>::max();
  const cl_long lo = int_bound(a.param0, true, min, max), hi = int_bound(a.param1, false, min, max);
  cl_kernel k = nullptr;
  if (rma_status st = get_kernel(
          ctx.dev, "unary/unary", "unary",
          "-DKIND=" + std::to_string(a.kind) + numeric_option("DTYPE", x.dtype), &k, err))
    return st;
  ArgSetter set(k);
  set(mem_of(x))(elem_offset(x))(mem_of(y))(elem_offset(y))(n)(a.param0)(a.param1)(lo)(hi);
  const size_t global = size_t(n);
  return launch(ctx, k, kOp, set.status(), 1, &global, nullptr, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_UNARY, supported, run);

}  // namespace rma::opencl
