// rma/plugin_util.h — small C++ helpers for plugin authors over the ABI's
// plain structs (rma/plugin.h): error reporting and tensor shape queries.
// Header-only, so a plugin built out of tree needs nothing but the headers.
// Every in-tree backend's op header pulls these in with
// `using namespace rma::abi;`.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>

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

}  // namespace rma::abi
