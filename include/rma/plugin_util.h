// rma/plugin_util.h — small C++ helpers for plugin authors over the ABI's
// plain structs (rma/plugin.h): error reporting, tensor shape queries and the
// ABI contract checks backends share.
// Header-only, so a plugin built out of tree needs nothing but the headers.
// Every in-tree backend's op header pulls these in with
// `using namespace rma::abi;`.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>

#include "rma/dtype.h"
#include "rma/plugin.h"

namespace rma::abi {

// Formats into err->message (when err is given) and returns `status`.
inline rma_status fail(rma_error* err, rma_status status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
inline rma_status fail(rma_error* err, rma_status status, const char* fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
  }
  return status;
}

// An optional tensor that was given (absent ones have ndim == -1).
inline bool present(const rma_tensor& t) { return t.ndim >= 0; }
inline int64_t numel(const rma_tensor& t) {
  int64_t n = 1;
  for (int i = 0; i < t.ndim; ++i) n *= t.shape[i];
  return n;
}
inline int64_t last_dim(const rma_tensor& t) { return t.ndim > 0 ? t.shape[t.ndim - 1] : 1; }
// Rows of t [..., K]: the product of its leading dims (also when K = 0).
inline int64_t leading_rows(const rma_tensor& t) {
  int64_t r = 1;
  for (int i = 0; i + 1 < t.ndim; ++i) r *= t.shape[i];
  return r;
}
// Row-major with no gaps (size-1 dims may have any stride).
inline bool is_dense(const rma_tensor& t) {
  int64_t stride = 1;
  for (int i = t.ndim - 1; i >= 0; --i) {
    if (t.shape[i] != 1 && t.strides[i] != stride) return false;
    stride *= t.shape[i];
  }
  return true;
}
inline bool same_shape(const rma_tensor& a, const rma_tensor& b) {
  if (a.ndim != b.ndim) return false;
  for (int i = 0; i < a.ndim; ++i)
    if (a.shape[i] != b.shape[i]) return false;
  return true;
}
inline bool is_float_dtype(int32_t dt) {
  return dt == RMA_DTYPE_F32 || dt == RMA_DTYPE_F16 || dt == RMA_DTYPE_BF16;
}
inline bool is_int_dtype(int32_t dt) { return dt == RMA_DTYPE_I32 || dt == RMA_DTYPE_I64; }

// Whether t broadcasts (numpy rules) to y's shape.
inline bool broadcasts_to(const rma_tensor& t, const rma_tensor& y) {
  if (t.ndim < 0 || t.ndim > y.ndim || y.ndim > RMA_MAX_DIMS) return false;
  for (int d = 0; d < t.ndim; ++d) {
    const int64_t dt = t.shape[d], dy = y.shape[d + y.ndim - t.ndim];
    if (dt != dy && dt != 1) return false;
  }
  return true;
}

// ---- the ABI's contract for some Tier-2 ops (rma/plugin.h), checked the
// same way by every backend; each adds what it itself cannot run (layouts).
namespace detail {
inline const char* dtype_str(int32_t dt) {
  return is_valid(dt) ? kDTypeInfo[dt].name.data() : "invalid";
}
}  // namespace detail

// binary: kind, dtypes (comparisons give bool, logic takes bool, pow
// floats) and broadcasting of a and b to y.
inline rma_status check_binary_call(const char* op, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs != 2 || call.num_outputs != 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs (a, b), attrs, one output",
                op);
  const auto* attrs = static_cast<const rma_binary_attrs*>(call.attrs);
  if (attrs->struct_size < sizeof(rma_binary_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_binary_attrs too small", op);
  const int32_t k = attrs->kind;
  if (k < 0 || k >= RMA_BINARY_COUNT)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: unknown kind %d", op, k);
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  const bool logic = k >= RMA_BINARY_AND && k <= RMA_BINARY_XOR;
  const bool comparison = k >= RMA_BINARY_EQUAL && k <= RMA_BINARY_GREATER_EQUAL;
  const bool dtype_ok = logic                 ? a.dtype == RMA_DTYPE_BOOL
                        : k == RMA_BINARY_POW ? is_float_dtype(a.dtype)
                                              : is_float_dtype(a.dtype) || is_int_dtype(a.dtype);
  const int32_t y_dtype = comparison ? RMA_DTYPE_BOOL : a.dtype;
  if (!dtype_ok || b.dtype != a.dtype || y.dtype != y_dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: kind %d with a %s, b %s, y %s", op, k,
                detail::dtype_str(a.dtype), detail::dtype_str(b.dtype), detail::dtype_str(y.dtype));
  if (!broadcasts_to(a, y) || !broadcasts_to(b, y))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: a and b must broadcast to y's shape", op);
  return RMA_STATUS_OK;
}

// gather: the axis, non-quantized data with y of its dtype, int indices,
// and y = data[:axis] + indices + data[axis+1:].
inline rma_status check_gather_call(const char* op, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs != 2 || call.num_outputs != 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected inputs (data, indices), attrs, one output", op);
  const auto* a = static_cast<const rma_axis_attrs*>(call.attrs);
  const rma_tensor &d = call.inputs[0], &idx = call.inputs[1], &y = call.outputs[0];
  if (a->struct_size < sizeof(rma_axis_attrs) || a->axis < 0 || a->axis >= d.ndim)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad attrs or axis for a %d-D data", op,
                d.ndim);
  if (!is_valid(d.dtype) || is_quantized(static_cast<DType>(d.dtype)) || y.dtype != d.dtype ||
      !is_int_dtype(idx.dtype))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: bad dtypes (data %s, indices %s, y %s): indices must be i32 or i64", op,
                detail::dtype_str(d.dtype), detail::dtype_str(idx.dtype),
                detail::dtype_str(y.dtype));
  bool ok = idx.ndim >= 0 && y.ndim == d.ndim - 1 + idx.ndim;
  for (int i = 0; ok && i < y.ndim; ++i) {
    const int64_t want = i < a->axis              ? d.shape[i]
                         : i < a->axis + idx.ndim ? idx.shape[i - a->axis]
                                                  : d.shape[i - idx.ndim + 1];
    ok = y.shape[i] == want;
  }
  if (!ok)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: y's shape is not data[:axis] + indices + data[axis+1:]", op);
  return RMA_STATUS_OK;
}

}  // namespace rma::abi
