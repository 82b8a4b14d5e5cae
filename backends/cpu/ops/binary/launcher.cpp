// cpu binary: y = a <kind> b with numpy broadcasting (docs/ops.md "binary").
// The output is walked as rows (common/nd_loop.h) where a and b are each a
// row or a broadcast scalar; f32 arithmetic runs the SIMD kernel (f16/bf16
// converted in blocks), integer arithmetic, comparisons and logic are plain
// loops the compiler vectorises. Large outputs are split across the pool.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "common/float_rows.h"
#include "common/nd_loop.h"
#include "ops/binary/config.h"
#include "ops/binary/kernels/binary_kernel.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "binary";
namespace cfg = binary_config;

bool is_comparison(int32_t k) { return k >= RMA_BINARY_EQUAL && k <= RMA_BINARY_GREATER_EQUAL; }

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_binary_call(kOp, call, err)) return st;
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  if (!is_dense(a) || !is_dense(b) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the cpu runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// y[i] = f(a[i * as], b[i * bs]), steps 0 or 1, each case its own loop so
// the compiler vectorises it.
template <class T, class R, class F>
void map2(const T* a, int64_t as, const T* b, int64_t bs, R* y, int64_t n, F f) {
  if (as && bs) {
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  } else if (as) {
    const T bv = b[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], bv);
  } else if (bs) {
    const T av = a[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(av, b[i]);
  } else {
    std::fill(y, y + n, f(a[0], b[0]));
  }
}

// Comparisons of numbers of type T into bool bytes.
template <class T>
void compare_row(int32_t k, const T* a, int64_t as, const T* b, int64_t bs, uint8_t* y, int64_t n) {
  switch (k) {
    case RMA_BINARY_EQUAL:
      return map2(a, as, b, bs, y, n, [](T u, T v) -> uint8_t { return u == v; });
    case RMA_BINARY_LESS:
      return map2(a, as, b, bs, y, n, [](T u, T v) -> uint8_t { return u < v; });
    case RMA_BINARY_LESS_EQUAL:
      return map2(a, as, b, bs, y, n, [](T u, T v) -> uint8_t { return u <= v; });
    case RMA_BINARY_GREATER:
      return map2(a, as, b, bs, y, n, [](T u, T v) -> uint8_t { return u > v; });
    default:
      return map2(a, as, b, bs, y, n, [](T u, T v) -> uint8_t { return u >= v; });
  }
}

// Integer arithmetic in two's complement: + - * wrap (through the unsigned
// type); division truncates, min / -1 wraps to min; the remainder takes the
// divisor's sign. b has no zero when dividing (checked before).
template <class T>
void int_row(int32_t k, const T* a, int64_t as, const T* b, int64_t bs, T* y, int64_t n) {
  using U = std::make_unsigned_t<T>;
  switch (k) {
    case RMA_BINARY_ADD:
      return map2(a, as, b, bs, y, n, [](T u, T v) { return T(U(u) + U(v)); });
    case RMA_BINARY_SUB:
      return map2(a, as, b, bs, y, n, [](T u, T v) { return T(U(u) - U(v)); });
    case RMA_BINARY_MUL:
      return map2(a, as, b, bs, y, n, [](T u, T v) { return T(U(u) * U(v)); });
    case RMA_BINARY_MAX:
      return map2(a, as, b, bs, y, n, [](T u, T v) { return u < v ? v : u; });
    case RMA_BINARY_MIN:
      return map2(a, as, b, bs, y, n, [](T u, T v) { return v < u ? v : u; });
    case RMA_BINARY_DIV:
      return map2(a, as, b, bs, y, n, [](T u, T v) { return v == -1 ? T(U(0) - U(u)) : T(u / v); });
    case RMA_BINARY_MOD:
      return map2(a, as, b, bs, y, n, [](T u, T v) {
        if (v == -1) return T(0);
        const T r = u % v;
        return r != 0 && (r < 0) != (v < 0) ? T(r + v) : r;
      });
    default:
      return;  // comparisons: compare_row
  }
}

// One piece of an integer row.
template <class T>
void int_piece(int32_t k, const uint8_t* a, int64_t as, const uint8_t* b, int64_t bs, uint8_t* y,
               int64_t n) {
  const auto* ta = reinterpret_cast<const T*>(a);
  const auto* tb = reinterpret_cast<const T*>(b);
  if (is_comparison(k))
    compare_row(k, ta, as, tb, bs, y, n);
  else
    int_row(k, ta, as, tb, bs, reinterpret_cast<T*>(y), n);
}

void logic_row(int32_t k, const uint8_t* a, int64_t as, const uint8_t* b, int64_t bs, uint8_t* y,
               int64_t n) {
  switch (k) {
    case RMA_BINARY_AND:
      return map2(a, as, b, bs, y, n,
                  [](uint8_t u, uint8_t v) -> uint8_t { return (u != 0) & (v != 0); });
    case RMA_BINARY_OR:
      return map2(a, as, b, bs, y, n,
                  [](uint8_t u, uint8_t v) -> uint8_t { return (u != 0) | (v != 0); });
    default:
      return map2(a, as, b, bs, y, n,
                  [](uint8_t u, uint8_t v) -> uint8_t { return (u != 0) ^ (v != 0); });
  }
}

// One piece of a float row: f32 in place, f16/bf16 through f32 blocks.
void float_piece(int32_t k, int32_t dt, const uint8_t* a, int64_t as, const uint8_t* b, int64_t bs,
                 uint8_t* y, int64_t n) {
  const bool cmp = is_comparison(k);
  if (dt == RMA_DTYPE_F32) {
    const auto* fa = reinterpret_cast<const float*>(a);
    const auto* fb = reinterpret_cast<const float*>(b);
    if (cmp)
      compare_row(k, fa, as, fb, bs, y, n);
    else
      binary_f32(k, fa, as, fb, bs, reinterpret_cast<float*>(y), n);
    return;
  }
  float ba[cfg::kConvertElems], bb[cfg::kConvertElems], by[cfg::kConvertElems];
  for (int64_t c = 0; c < n; c += cfg::kConvertElems) {
    const int64_t m = std::min(cfg::kConvertElems, n - c);
    load_f32(dt, a + c * as * 2, ba, as ? m : 1);
    load_f32(dt, b + c * bs * 2, bb, bs ? m : 1);
    if (cmp) {
      compare_row(k, ba, as, bb, bs, y + c, m);
    } else {
      binary_f32(k, ba, as, bb, bs, by, m);
      store_f32(dt, by, y + c * 2, m);
    }
  }
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const int32_t k = static_cast<const rma_binary_attrs*>(call.attrs)->kind;
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  if (numel(y) == 0) return RMA_STATUS_OK;
  // Integer division by zero is an error (every element of b is used).
  if (is_int_dtype(b.dtype) && (k == RMA_BINARY_DIV || k == RMA_BINARY_MOD))
    for (int64_t i = 0; i < numel(b); ++i)
      if ((b.dtype == RMA_DTYPE_I32 ? data<const int32_t>(b)[i] : data<const int64_t>(b)[i]) == 0)
        return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                    "%s: integer %s by zero: element %lld of b is 0", kOp,
                    k == RMA_BINARY_DIV ? "division" : "modulo", static_cast<long long>(i));

  const auto sy = dense_strides(y.ndim, y.shape);
  const auto sa = broadcast_strides(a, y.ndim), sb = broadcast_strides(b, y.ndim);
  const NdLoop<3> l = make_loop<3>(y.ndim, y.shape, {sy.data(), sa.data(), sb.data()});
  const int64_t as = l.inner_stride(1), bs = l.inner_stride(2);
  const int64_t in_es = bytes_for(dtype_of(a), 1), out_es = bytes_for(dtype_of(y), 1);
  parallel_rows(ctx.pool, l, cfg::kChunkElems,
                [&](const std::array<int64_t, 3>& off, int64_t c0, int64_t c1) {
                  const uint8_t* pa = data<const uint8_t>(a) + (off[1] + c0 * as) * in_es;
                  const uint8_t* pb = data<const uint8_t>(b) + (off[2] + c0 * bs) * in_es;
                  uint8_t* py = data<uint8_t>(y) + (off[0] + c0) * out_es;
                  const int64_t n = c1 - c0;
                  switch (a.dtype) {
                    case RMA_DTYPE_I32:
                      return int_piece<int32_t>(k, pa, as, pb, bs, py, n);
                    case RMA_DTYPE_I64:
                      return int_piece<int64_t>(k, pa, as, pb, bs, py, n);
                    case RMA_DTYPE_BOOL:
                      return logic_row(k, pa, as, pb, bs, py, n);
                    default:
                      return float_piece(k, a.dtype, pa, as, pb, bs, py, n);
                  }
                });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_BINARY, supported, run);

}  // namespace rma::cpu
