// cpu unary: y = f(x) elementwise (docs/ops.md "unary"). Float kinds run
// the SIMD kernel in f32 (f16/bf16 converted in blocks); the integer kinds
// and bool not are plain loops the compiler vectorises. Large tensors are
// split across the pool.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "common/float_rows.h"
#include "ops/unary/config.h"
#include "ops/unary/kernels/unary_kernel.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "unary";
namespace cfg = unary_config;

bool int_kind(int32_t kind) {
  return kind == RMA_UNARY_NEG || kind == RMA_UNARY_ABS || kind == RMA_UNARY_SIGN ||
         kind == RMA_UNARY_RELU || kind == RMA_UNARY_CLIP;
}

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_arity(call, err, kOp, 1, 1, true)) return st;
  const auto* a = static_cast<const rma_unary_attrs*>(call.attrs);
  if (a->struct_size < sizeof(rma_unary_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_unary_attrs too small", kOp);
  if (a->kind < 0 || a->kind >= RMA_UNARY_COUNT)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: unknown kind %d", kOp, a->kind);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (x.dtype != y.dtype || !same_shape(x, y))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y must have x's shape and dtype", kOp);
  const bool ok =
      a->kind == RMA_UNARY_NOT
          ? x.dtype == RMA_DTYPE_BOOL
          : is_float_dtype(x.dtype) ||
                (int_kind(a->kind) && (x.dtype == RMA_DTYPE_I32 || x.dtype == RMA_DTYPE_I64));
  if (!ok)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: kind %d does not take dtype %s", kOp,
                a->kind, dtype_name(x.dtype));
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the cpu runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// clip's float bound as an integer bound of T: ceil for the minimum, floor
// for the maximum, saturated to T's range.
template <class T>
T int_bound(float p, bool is_min) {
  const double r = is_min ? std::ceil(double(p)) : std::floor(double(p));
  if (r <= double(std::numeric_limits<T>::min())) return std::numeric_limits<T>::min();
  if (r >= double(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(r);
}

template <class T>
void int_unary(int32_t kind, float p0, float p1, const T* x, T* y, int64_t n) {
  using U = std::make_unsigned_t<T>;  // negation wraps instead of overflowing
  switch (kind) {
    case RMA_UNARY_NEG:
      for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(U(0) - U(x[i]));
      break;
    case RMA_UNARY_ABS:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0 ? static_cast<T>(U(0) - U(x[i])) : x[i];
      break;
    case RMA_UNARY_SIGN:
      for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>((x[i] > 0) - (x[i] < 0));
      break;
    case RMA_UNARY_RELU:
      for (int64_t i = 0; i < n; ++i) y[i] = std::max<T>(x[i], 0);
      break;
    case RMA_UNARY_CLIP: {
      const T lo = int_bound<T>(p0, true), hi = int_bound<T>(p1, false);
      for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(x[i], lo), hi);
      break;
    }
    default:
      break;
  }
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  const auto& a = *static_cast<const rma_unary_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const int64_t n = numel(x);
  ctx.pool.parallel_for(n, cfg::kChunkElems, [&](int64_t i0, int64_t i1) {
    switch (x.dtype) {
      case RMA_DTYPE_F32:
        unary_f32(a.kind, a.param0, a.param1, data<const float>(x) + i0, data<float>(y) + i0,
                  i1 - i0);
        break;
      case RMA_DTYPE_F16:
      case RMA_DTYPE_BF16: {
        float buf[cfg::kConvertElems];
        for (int64_t i = i0; i < i1; i += cfg::kConvertElems) {
          const int64_t m = std::min(cfg::kConvertElems, i1 - i);
          load_f32(x.dtype, elem_ptr(x, i), buf, m);
          unary_f32(a.kind, a.param0, a.param1, buf, buf, m);
          store_f32(y.dtype, buf, elem_ptr(y, i), m);
        }
        break;
      }
      case RMA_DTYPE_I32:
        int_unary(a.kind, a.param0, a.param1, data<const int32_t>(x) + i0, data<int32_t>(y) + i0,
                  i1 - i0);
        break;
      case RMA_DTYPE_I64:
        int_unary(a.kind, a.param0, a.param1, data<const int64_t>(x) + i0, data<int64_t>(y) + i0,
                  i1 - i0);
        break;
      default:  // bool: not
        for (int64_t i = i0; i < i1; ++i) data<uint8_t>(y)[i] = data<const uint8_t>(x)[i] == 0;
    }
  });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_UNARY, supported, run);

}  // namespace rma::cpu
