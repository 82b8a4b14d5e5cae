// cpu reduce: sum, mean, max, min, prod, sum_square, argmax, argmin over the
// axes of a mask (docs/ops.md "reduce"). x's dims are merged into groups of
// reduced and kept axes, which gives one of three plans:
//   rows     [outer, R]: each output reduces one contiguous row (SIMD
//            kernel for floats), rows in parallel;
//   columns  [outer, R, inner]: rows of `inner` outputs accumulate R input
//            rows (vectorised loops), column blocks in parallel;
//   general  (several reduced groups): x is first permuted so the reduced
//            axes come last (common/strided_copy), then rows.
// Floats accumulate in double past f32 lanes; ints in int64, wrapping.
#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "common/float_rows.h"
#include "common/strided_copy.h"
#include "ops/reduce/config.h"
#include "ops/reduce/kernels/reduce_kernel.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "reduce";
namespace cfg = reduce_config;

bool is_arg(int32_t k) { return k == RMA_REDUCE_ARGMAX || k == RMA_REDUCE_ARGMIN; }
bool is_int(int32_t dt) { return dt == RMA_DTYPE_I32 || dt == RMA_DTYPE_I64; }

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_arity(call, err, kOp, 1, 1, true)) return st;
  const auto* a = static_cast<const rma_reduce_attrs*>(call.attrs);
  if (a->struct_size < sizeof(rma_reduce_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_reduce_attrs too small", kOp);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (a->kind < 0 || a->kind >= RMA_REDUCE_COUNT || (a->keepdims != 0 && a->keepdims != 1))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad kind %d or keepdims %d", kOp, a->kind,
                a->keepdims);
  const bool dtype_ok = a->kind == RMA_REDUCE_MEAN ? is_float_dtype(x.dtype)
                                                   : is_float_dtype(x.dtype) || is_int(x.dtype);
  if (!dtype_ok || y.dtype != (is_arg(a->kind) ? RMA_DTYPE_I64 : x.dtype))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: kind %d with x %s, y %s", kOp, a->kind,
                dtype_name(x.dtype), dtype_name(y.dtype));
  const uint32_t all = (1u << x.ndim) - 1;
  if (a->axes == 0 || (a->axes & ~all) || (is_arg(a->kind) && (a->axes & (a->axes - 1))))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad axes mask 0x%x for a %d-D x", kOp,
                a->axes, x.ndim);
  // y's shape: x's with the reduced axes dropped (or kept as 1).
  int yd = 0;
  bool shape_ok = true;
  for (int d = 0; d < x.ndim; ++d) {
    const bool reduced = a->axes >> d & 1;
    if (reduced && x.shape[d] == 0 && a->kind != RMA_REDUCE_SUM && a->kind != RMA_REDUCE_MEAN &&
        a->kind != RMA_REDUCE_PROD && a->kind != RMA_REDUCE_SUM_SQUARE)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: kind %d over an empty axis %d", kOp,
                  a->kind, d);
    if (reduced && !a->keepdims) continue;
    shape_ok &= yd < y.ndim && y.shape[yd] == (reduced ? 1 : x.shape[d]);
    ++yd;
  }
  if (!shape_ok || yd != y.ndim)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y's shape does not match x and the axes",
                kOp);
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the cpu runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// ------------------------------------------------------------ accumulation

template <class T>
T identity(int32_t k) {
  switch (k) {
    case RMA_REDUCE_PROD:
      return T(1);
    case RMA_REDUCE_MAX:
      return std::numeric_limits<T>::lowest();
    case RMA_REDUCE_MIN:
      return std::numeric_limits<T>::max();
    default:
      return T(0);
  }
}
template <>
double identity<double>(int32_t k) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  return k == RMA_REDUCE_PROD  ? 1.0
         : k == RMA_REDUCE_MAX ? -kInf
         : k == RMA_REDUCE_MIN ? kInf
                               : 0.0;
}

// acc[j] = acc[j] (kind) v[j] for j < n: doubles for floats, int64 for ints
// (sums and products through uint64, so they wrap). One loop per kind.
template <class A, class V>
void fold(int32_t k, A* acc, const V* v, int64_t n) {
  using W = std::conditional_t<std::is_integral_v<A>, uint64_t, A>;
  switch (k) {
    case RMA_REDUCE_SUM:
    case RMA_REDUCE_MEAN:
      for (int64_t j = 0; j < n; ++j) acc[j] = A(W(acc[j]) + W(v[j]));
      break;
    case RMA_REDUCE_SUM_SQUARE:
      for (int64_t j = 0; j < n; ++j) acc[j] = A(W(acc[j]) + W(v[j]) * W(v[j]));
      break;
    case RMA_REDUCE_PROD:
      for (int64_t j = 0; j < n; ++j) acc[j] = A(W(acc[j]) * W(v[j]));
      break;
    case RMA_REDUCE_MAX:
      for (int64_t j = 0; j < n; ++j) acc[j] = A(v[j]) > acc[j] ? A(v[j]) : acc[j];
      break;
    default:
      for (int64_t j = 0; j < n; ++j) acc[j] = A(v[j]) < acc[j] ? A(v[j]) : acc[j];
  }
}

// acc (kind) v[0] (kind) ... (kind) v[n-1] for ints, wrapping.
int64_t fold_row(int32_t k, int64_t acc, const int64_t* v, int64_t n) {
  uint64_t u = static_cast<uint64_t>(acc);
  switch (k) {
    case RMA_REDUCE_SUM:
      for (int64_t j = 0; j < n; ++j) u += static_cast<uint64_t>(v[j]);
      return static_cast<int64_t>(u);
    case RMA_REDUCE_SUM_SQUARE:
      for (int64_t j = 0; j < n; ++j)
        u += static_cast<uint64_t>(v[j]) * static_cast<uint64_t>(v[j]);
      return static_cast<int64_t>(u);
    case RMA_REDUCE_PROD:
      for (int64_t j = 0; j < n; ++j) u *= static_cast<uint64_t>(v[j]);
      return static_cast<int64_t>(u);
    case RMA_REDUCE_MAX:
      return std::max(acc, *std::max_element(v, v + n));
    default:
      return std::min(acc, *std::min_element(v, v + n));
  }
}

// Two partial results of one output merged (blocks of a 16-bit row).
double merge(int32_t k, double a, double b) {
  switch (k) {
    case RMA_REDUCE_PROD:
      return a * b;
    case RMA_REDUCE_MAX:
      return std::max(a, b);
    case RMA_REDUCE_MIN:
      return std::min(a, b);
    default:
      return a + b;
  }
}

// ------------------------------------------------------------------ output

struct Out {
  const rma_tensor& y;
  int32_t kind;
  int64_t count;  // elements reduced into each output (mean divides by it)

  void put_float(int64_t i, double v) const {
    const float f = static_cast<float>(kind == RMA_REDUCE_MEAN ? v / double(count) : v);
    store_f32(y.dtype, &f, elem_ptr(y, i), 1);
  }
  void put_int(int64_t i, int64_t v) const {
    if (y.dtype == RMA_DTYPE_I32)
      data<int32_t>(y)[i] = static_cast<int32_t>(v);  // wraps
    else
      data<int64_t>(y)[i] = v;
  }
};

// ------------------------------------------------------------------- input

// Elements of x as T (floats as f32, ints as int64), from element i.
struct In {
  const uint8_t* p;
  int32_t dtype;

  // n elements from i as f32: in place for f32, else converted into buf.
  const float* floats(int64_t i, int64_t n, float* buf) const {
    if (dtype == RMA_DTYPE_F32) return reinterpret_cast<const float*>(p) + i;
    load_f32(dtype, p + i * 2, buf, n);
    return buf;
  }
  void ints(int64_t i, int64_t n, int64_t* buf) const {
    for (int64_t j = 0; j < n; ++j)
      buf[j] = dtype == RMA_DTYPE_I32 ? reinterpret_cast<const int32_t*>(p)[i + j]
                                      : reinterpret_cast<const int64_t*>(p)[i + j];
  }
};

// ------------------------------------------------------------------- plans

// y[o] = reduce(x[o, 0:r]) for o < outer.
void reduce_rows(ThreadPool& pool, const In& x, const Out& y, int64_t outer, int64_t r) {
  const int32_t k = y.kind;
  const bool floats = is_float_dtype(x.dtype);
  pool.parallel_for(
      outer, std::max<int64_t>(1, cfg::kChunkElems / std::max<int64_t>(r, 1)),
      [&](int64_t o0, int64_t o1) {
        float fbuf[cfg::kConvertElems];
        int64_t ibuf[cfg::kConvertElems];
        for (int64_t o = o0; o < o1; ++o) {
          double acc = identity<double>(k);
          int64_t iacc = identity<int64_t>(k);
          double best = 0;  // arg-reductions: the extreme so far and its index
          int64_t best_i = 0, best_int = 0;
          for (int64_t c = 0; c < r; c += cfg::kConvertElems) {
            const int64_t m = std::min(cfg::kConvertElems, r - c), at = o * r + c;
            if (floats && is_arg(k)) {
              const float* v = x.floats(at, m, fbuf);
              for (int64_t j = 0; j < m; ++j)
                if ((c == 0 && j == 0) || (k == RMA_REDUCE_ARGMAX ? v[j] > best : v[j] < best)) {
                  best = v[j];
                  best_i = c + j;
                }
            } else if (floats) {
              acc = merge(k, acc, reduce_row_f32(k, x.floats(at, m, fbuf), m));
            } else {
              x.ints(at, m, ibuf);
              if (is_arg(k)) {
                for (int64_t j = 0; j < m; ++j)
                  if ((c == 0 && j == 0) ||
                      (k == RMA_REDUCE_ARGMAX ? ibuf[j] > best_int : ibuf[j] < best_int)) {
                    best_int = ibuf[j];
                    best_i = c + j;
                  }
              } else {
                iacc = fold_row(k, iacc, ibuf, m);
              }
            }
          }
          if (is_arg(k))
            y.put_int(o, best_i);
          else if (floats)
            y.put_float(o, acc);
          else
            y.put_int(o, iacc);
        }
      });
}

// y[o, i] = reduce over j of x[o, j, i]: blocks of kColumns outputs
// accumulate r input rows.
void reduce_columns(ThreadPool& pool, const In& x, const Out& y, int64_t outer, int64_t r,
                    int64_t inner) {
  const int32_t k = y.kind;
  const bool floats = is_float_dtype(x.dtype);
  const int64_t blocks = (inner + cfg::kColumns - 1) / cfg::kColumns;
  const int64_t grain =
      std::max<int64_t>(1, cfg::kChunkElems / std::max<int64_t>(r * cfg::kColumns, 1));
  pool.parallel_for(outer * blocks, grain, [&](int64_t p0, int64_t p1) {
    float fbuf[cfg::kColumns];
    int64_t ibuf[cfg::kColumns], iacc[cfg::kColumns], best_i[cfg::kColumns];
    double acc[cfg::kColumns];
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t o = p / blocks, c0 = (p % blocks) * cfg::kColumns;
      const int64_t m = std::min(cfg::kColumns, inner - c0);
      std::fill(acc, acc + m, identity<double>(k));
      std::fill(iacc, iacc + m, identity<int64_t>(k));
      std::fill(best_i, best_i + m, 0);
      for (int64_t j = 0; j < r; ++j) {
        const int64_t at = (o * r + j) * inner + c0;
        if (floats) {
          const float* v = x.floats(at, m, fbuf);
          if (!is_arg(k)) {
            fold(k, acc, v, m);
            continue;
          }
          for (int64_t i = 0; i < m; ++i)
            if (j == 0 || (k == RMA_REDUCE_ARGMAX ? v[i] > acc[i] : v[i] < acc[i])) {
              acc[i] = v[i];
              best_i[i] = j;
            }
        } else {
          x.ints(at, m, ibuf);
          if (!is_arg(k)) {
            fold(k, iacc, ibuf, m);
            continue;
          }
          for (int64_t i = 0; i < m; ++i)
            if (j == 0 || (k == RMA_REDUCE_ARGMAX ? ibuf[i] > iacc[i] : ibuf[i] < iacc[i])) {
              iacc[i] = ibuf[i];
              best_i[i] = j;
            }
        }
      }
      for (int64_t i = 0; i < m; ++i) {
        const int64_t at = o * inner + c0 + i;
        if (is_arg(k))
          y.put_int(at, best_i[i]);
        else if (floats)
          y.put_float(at, acc[i]);
        else
          y.put_int(at, iacc[i]);
      }
    }
  });
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& a = *static_cast<const rma_reduce_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (numel(y) == 0) return RMA_STATUS_OK;

  // x's dims as groups: size-1 dims dropped, neighbours of one kind merged.
  struct Group {
    int64_t size, stride;
    bool reduced;
  };
  std::vector<Group> groups;
  int64_t stride = 1, count = 1;
  for (int d = x.ndim - 1; d >= 0; --d) {
    const bool reduced = a.axes >> d & 1;
    if (reduced) count *= x.shape[d];
    if (x.shape[d] != 1) {
      if (!groups.empty() && groups.front().reduced == reduced)
        groups.front().size *= x.shape[d];
      else
        groups.insert(groups.begin(), {x.shape[d], stride, reduced});
    }
    stride *= x.shape[d];
  }
  const Out out{y, a.kind, count};
  const int num_reduced = static_cast<int>(
      std::count_if(groups.begin(), groups.end(), [](const Group& g) { return g.reduced; }));
  const In in{data<const uint8_t>(x), x.dtype};
  if (num_reduced <= 1) {
    // [outer, r, inner]: kept groups before and after the reduced one.
    int64_t outer = 1, inner = 1;
    bool after = false;
    for (const Group& g : groups) {
      if (g.reduced)
        after = true;
      else
        (after ? inner : outer) *= g.size;
    }
    if (inner == 1)
      reduce_rows(ctx.pool, in, out, outer, count);
    else
      reduce_columns(ctx.pool, in, out, outer, count, inner);
    return RMA_STATUS_OK;
  }
  // General: kept groups first, then reduced ones, copied to a scratch.
  std::vector<int64_t> shape, strides;
  for (int pass = 0; pass < 2; ++pass)
    for (const Group& g : groups)
      if (g.reduced == (pass == 1)) {
        shape.push_back(g.size);
        strides.push_back(g.stride);
      }
  const int64_t es = bytes_for(dtype_of(x), 1);
  std::vector<uint8_t> scratch;
  try {
    scratch.resize(static_cast<size_t>(numel(x) * es));
  } catch (const std::bad_alloc&) {
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, "%s: no memory to permute x (%lld bytes)", kOp,
                static_cast<long long>(numel(x) * es));
  }
  strided_copy(ctx.pool, es, static_cast<int>(shape.size()), shape.data(), in.p, strides.data(),
               scratch.data());
  reduce_rows(ctx.pool, In{scratch.data(), x.dtype}, out, numel(y), count);
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_REDUCE, supported, run);

}  // namespace rma::cpu
