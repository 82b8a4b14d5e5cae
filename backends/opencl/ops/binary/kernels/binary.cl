// y = a <KIND> b with numpy broadcasting (docs/ops.md "binary"). DTYPE is
// a's and b's dtype, OUT y's (boolean for comparisons, else DTYPE), KIND the
// rma_binary_kind: build options, so each (kind, dtype) is a straight loop.
// Floats are computed in f32 and rounded once; ints in int64, wrapping, as
// the reference (division truncates, min / -1 wraps to min with remainder
// 0, the remainder takes the divisor's sign; the host has checked that no
// divisor is 0). The range is the collapsed N-d plan's
// (common/kernels/nd_plan.cl): operand 0 is a, 1 is b; y is dense;
// binary_nd is the twin for plans of more than 3 dims.
#include "common/kernels/dtype.cl"
#include "common/kernels/numeric.cl"
#include "common/kernels/nd_plan.cl"

#define BINARY_ADD 0
#define BINARY_SUB 1
#define BINARY_MUL 2
#define BINARY_DIV 3
#define BINARY_POW 4
#define BINARY_MAX 5
#define BINARY_MIN 6
#define BINARY_MOD 7
#define BINARY_EQUAL 8
#define BINARY_LESS 9
#define BINARY_LESS_EQUAL 10
#define BINARY_GREATER 11
#define BINARY_GREATER_EQUAL 12
#define BINARY_AND 13
#define BINARY_OR 14
#define BINARY_XOR 15

#if IS_FLOAT(DTYPE)
#if KIND == BINARY_ADD
#define APPLY(a, b) ((a) + (b))
#elif KIND == BINARY_SUB
#define APPLY(a, b) ((a) - (b))
#elif KIND == BINARY_MUL
#define APPLY(a, b) ((a) * (b))
#elif KIND == BINARY_DIV
#define APPLY(a, b) ((a) / (b))
#elif KIND == BINARY_POW
#define APPLY(a, b) pow((a), (b))
#elif KIND == BINARY_MOD
#define APPLY(a, b) fmod((a), (b))
#endif
#else
inline long int_div(long a, long b) { return b == -1 ? wrap_sub(0, a) : a / b; }
inline long int_mod(long a, long b) {
  if (b == -1) return 0;
  const long r = a % b;
  return r != 0 && (r < 0) != (b < 0) ? r + b : r;
}
#if KIND == BINARY_ADD
#define APPLY(a, b) wrap_add((a), (b))
#elif KIND == BINARY_SUB
#define APPLY(a, b) wrap_sub((a), (b))
#elif KIND == BINARY_MUL
#define APPLY(a, b) wrap_mul((a), (b))
#elif KIND == BINARY_DIV
#define APPLY(a, b) int_div((a), (b))
#elif KIND == BINARY_MOD
#define APPLY(a, b) int_mod((a), (b))
#elif KIND == BINARY_AND
#define APPLY(a, b) ((a) != 0 && (b) != 0)
#elif KIND == BINARY_OR
#define APPLY(a, b) ((a) != 0 || (b) != 0)
#elif KIND == BINARY_XOR
#define APPLY(a, b) (((a) != 0) != ((b) != 0))
#endif
#endif

// max and min as std::max / std::min: a NaN in a is kept, one in b is not.
#if KIND == BINARY_MAX
#define APPLY(a, b) ((a) < (b) ? (b) : (a))
#elif KIND == BINARY_MIN
#define APPLY(a, b) ((b) < (a) ? (b) : (a))
#elif KIND == BINARY_EQUAL
#define APPLY(a, b) ((a) == (b))
#elif KIND == BINARY_LESS
#define APPLY(a, b) ((a) < (b))
#elif KIND == BINARY_LESS_EQUAL
#define APPLY(a, b) ((a) <= (b))
#elif KIND == BINARY_GREATER
#define APPLY(a, b) ((a) > (b))
#elif KIND == BINARY_GREATER_EQUAL
#define APPLY(a, b) ((a) >= (b))
#endif

#ifndef APPLY
#error "binary: KIND does not apply to DTYPE"
#endif

inline void binary_at(__global const STORAGE(DTYPE)* a, PLAN_OPERAND(a),
                      __global const STORAGE(DTYPE)* b, PLAN_OPERAND(b), __global STORAGE(OUT)* y,
                      ulong y_off, __constant const long* table, long inner, long mid,
                      long outer) {
  const long j = get_global_id(0), m = get_global_id(1), o = get_global_id(2);
  if (j >= inner || m >= mid || o >= outer) return;
  const VALUE(DTYPE) va = LOAD(DTYPE, PLAN_OFFSET(a, table, 0, o, m, j), a);
  const VALUE(DTYPE) vb = LOAD(DTYPE, PLAN_OFFSET(b, table, 1, o, m, j), b);
  STORE(OUT, APPLY(va, vb), y_off + (o * mid + m) * inner + j, y);
}

__kernel void binary(__global const STORAGE(DTYPE)* a, PLAN_OPERAND(a),
                     __global const STORAGE(DTYPE)* b, PLAN_OPERAND(b), __global STORAGE(OUT)* y,
                     ulong y_off, long inner, long mid, long outer) {
  binary_at(a, PLAN_ARGS(a), b, PLAN_ARGS(b), y, y_off, 0, inner, mid, outer);
}

__kernel void binary_nd(__global const STORAGE(DTYPE)* a, PLAN_OPERAND(a),
                        __global const STORAGE(DTYPE)* b, PLAN_OPERAND(b),
                        __global STORAGE(OUT)* y, ulong y_off, __constant long* table,
                        long inner, long mid, long outer) {
  binary_at(a, PLAN_ARGS(a), b, PLAN_ARGS(b), y, y_off, table, inner, mid, outer);
}
