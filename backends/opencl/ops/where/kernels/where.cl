// y = cond ? a : b with numpy broadcasting over the collapsed N-d plan's
// range (common/kernels/nd_plan.cl): operand 0 is cond (bool bytes), 1 is
// a, 2 is b; y is dense; where_nd is the twin for plans of more than 3
// dims. Elements move as unsigned integers of their size, ELEM (a
// build option), so one program serves every dtype of that size.
#include "common/kernels/nd_plan.cl"

inline void where_at(__global const uchar* cond, PLAN_OPERAND(c), __global const ELEM* a,
                     PLAN_OPERAND(a), __global const ELEM* b, PLAN_OPERAND(b), __global ELEM* y,
                     ulong y_off, __constant const long* table, long inner, long mid, long outer) {
  const long j = get_global_id(0), m = get_global_id(1), o = get_global_id(2);
  if (j >= inner || m >= mid || o >= outer) return;
  y[y_off + (o * mid + m) * inner + j] = cond[PLAN_OFFSET(c, table, 0, o, m, j)]
                                             ? a[PLAN_OFFSET(a, table, 1, o, m, j)]
                                             : b[PLAN_OFFSET(b, table, 2, o, m, j)];
}

__kernel void where(__global const uchar* cond, PLAN_OPERAND(c), __global const ELEM* a,
                    PLAN_OPERAND(a), __global const ELEM* b, PLAN_OPERAND(b), __global ELEM* y,
                    ulong y_off, long inner, long mid, long outer) {
  where_at(cond, PLAN_ARGS(c), a, PLAN_ARGS(a), b, PLAN_ARGS(b), y, y_off, 0, inner, mid, outer);
}

__kernel void where_nd(__global const uchar* cond, PLAN_OPERAND(c), __global const ELEM* a,
                       PLAN_OPERAND(a), __global const ELEM* b, PLAN_OPERAND(b), __global ELEM* y,
                       ulong y_off, __constant long* table, long inner, long mid, long outer) {
  where_at(cond, PLAN_ARGS(c), a, PLAN_ARGS(a), b, PLAN_ARGS(b), y, y_off, table, inner, mid,
           outer);
}
