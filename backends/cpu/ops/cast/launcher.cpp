// cpu cast: y = x converted to another dtype (docs/ops.md "cast"), between
// f32, f16, bf16, i32, i64 and bool. Each block goes through one
// intermediate: f32 for float sources (SIMD widening), int64 for integer and
// bool sources; then to y's dtype (floats: SIMD narrowing, round to nearest
// even; ints: truncation toward zero, saturating where C leaves it
// undefined; bool: != 0).
#include <algorithm>
#include <cmath>
#include <limits>

#include "common/float_rows.h"
#include "ops/cast/config.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "cast";
namespace cfg = cast_config;

bool castable(int32_t dt) {
  return is_float_dtype(dt) || dt == RMA_DTYPE_I32 || dt == RMA_DTYPE_I64 || dt == RMA_DTYPE_BOOL;
}

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_arity(call, err, kOp, 1, 1, true)) return st;
  const auto* a = static_cast<const rma_cast_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (a->struct_size < sizeof(rma_cast_attrs) || a->dtype != y.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_cast_attrs too small or not y's dtype",
                kOp);
  if (!castable(x.dtype) || !castable(y.dtype) || !same_shape(x, y))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: %s -> %s, or shapes differ", kOp,
                dtype_name(x.dtype), dtype_name(y.dtype));
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the cpu runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// f32 -> integer T, truncated toward zero; NaN gives 0 and out-of-range
// values saturate (the contract leaves them undefined, C's conversion UB).
template <class T>
T truncate(float v) {
  constexpr double lo = double(std::numeric_limits<T>::min());
  constexpr double hi = double(std::numeric_limits<T>::max());
  if (!(v == v)) return 0;
  if (double(v) <= lo) return std::numeric_limits<T>::min();
  if (double(v) >= hi) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

void from_floats(const float* f, const rma_tensor& y, int64_t i, int64_t n) {
  switch (y.dtype) {
    case RMA_DTYPE_I32:
      for (int64_t j = 0; j < n; ++j) data<int32_t>(y)[i + j] = truncate<int32_t>(f[j]);
      break;
    case RMA_DTYPE_I64:
      for (int64_t j = 0; j < n; ++j) data<int64_t>(y)[i + j] = truncate<int64_t>(f[j]);
      break;
    case RMA_DTYPE_BOOL:
      for (int64_t j = 0; j < n; ++j) data<uint8_t>(y)[i + j] = f[j] != 0;  // NaN: true
      break;
    default:
      store_f32(y.dtype, f, elem_ptr(y, i), n);
  }
}

void from_ints(const int64_t* v, float* fbuf, const rma_tensor& y, int64_t i, int64_t n) {
  switch (y.dtype) {
    case RMA_DTYPE_I32:  // wraps
      for (int64_t j = 0; j < n; ++j) data<int32_t>(y)[i + j] = static_cast<int32_t>(v[j]);
      break;
    case RMA_DTYPE_I64:
      std::copy(v, v + n, data<int64_t>(y) + i);
      break;
    case RMA_DTYPE_BOOL:
      for (int64_t j = 0; j < n; ++j) data<uint8_t>(y)[i + j] = v[j] != 0;
      break;
    default:  // to f32 (nearest), then narrowed like a float source
      for (int64_t j = 0; j < n; ++j) fbuf[j] = static_cast<float>(v[j]);
      store_f32(y.dtype, fbuf, elem_ptr(y, i), n);
  }
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  ctx.pool.parallel_for(numel(x), cfg::kChunkElems, [&](int64_t i0, int64_t i1) {
    float fbuf[cfg::kBlockElems];
    int64_t ibuf[cfg::kBlockElems];
    for (int64_t i = i0; i < i1; i += cfg::kBlockElems) {
      const int64_t n = std::min(cfg::kBlockElems, i1 - i);
      switch (x.dtype) {
        case RMA_DTYPE_I32:
          std::copy(data<const int32_t>(x) + i, data<const int32_t>(x) + i + n, ibuf);
          from_ints(ibuf, fbuf, y, i, n);
          break;
        case RMA_DTYPE_I64:
          from_ints(data<const int64_t>(x) + i, fbuf, y, i, n);
          break;
        case RMA_DTYPE_BOOL:
          for (int64_t j = 0; j < n; ++j) ibuf[j] = data<const uint8_t>(x)[i + j] != 0;
          from_ints(ibuf, fbuf, y, i, n);
          break;
        default:
          from_floats(read_f32(x, i, n, fbuf), y, i, n);
      }
    }
  });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_CAST, supported, run);

}  // namespace rma::cpu
