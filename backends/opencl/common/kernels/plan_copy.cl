// plan_copy: y[off_y] = x[off_x] over an N-d plan's range
// (common/kernels/nd_plan.cl, spliced in before this file): operand 0 reads
// x, operand 1 writes y. Elements are moved as unsigned integers of their
// size, ELEM (a build option: uchar, ushort, uint, ulong), so one program
// serves every dtype of that size. slice, transpose, expand and concat
// differ only in the plan their launchers build (common/tier2.h);
// plan_copy_nd is the twin for plans of more than 3 dims.
inline void plan_copy_at(__global const ELEM* x, PLAN_OPERAND(x), __global ELEM* y,
                         PLAN_OPERAND(y), __constant const long* table, long inner, long mid,
                         long outer) {
  const long j = get_global_id(0), m = get_global_id(1), o = get_global_id(2);
  if (j >= inner || m >= mid || o >= outer) return;
  y[PLAN_OFFSET(y, table, 1, o, m, j)] = x[PLAN_OFFSET(x, table, 0, o, m, j)];
}

__kernel void plan_copy(__global const ELEM* x, PLAN_OPERAND(x), __global ELEM* y,
                        PLAN_OPERAND(y), long inner, long mid, long outer) {
  plan_copy_at(x, PLAN_ARGS(x), y, PLAN_ARGS(y), 0, inner, mid, outer);
}

__kernel void plan_copy_nd(__global const ELEM* x, PLAN_OPERAND(x), __global ELEM* y,
                           PLAN_OPERAND(y), __constant long* table, long inner, long mid,
                           long outer) {
  plan_copy_at(x, PLAN_ARGS(x), y, PLAN_ARGS(y), table, inner, mid, outer);
}
