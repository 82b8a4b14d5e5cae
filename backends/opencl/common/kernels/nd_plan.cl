// N-d plans as the Tier-2 launchers pass them (common/tier2.h). A kernel
// runs a 3-D range {inner, mid, outer}: the plan's last dim, the one before
// it, and every dim before those folded into one. Each operand comes as
// scalar arguments PLAN_OPERAND(name): its base offset and its strides on
// the outer, mid and inner range dims, so a plan of at most 3 dims needs no
// division. Longer plans run the kernel's `_nd` twin, which also takes the
// table
//   [ndim, shape[8], stride[3][8], base[3]]
// to split the outer index into its dims. Both twins call one inline body
// with the table (a literal null in the plain kernel, so the split folds
// away and the work-item loop stays a straight line the compiler can
// vectorise: PoCL ran same-shape and row-broadcast binary 3-5x slower with
// one kernel testing the table at run time). Spliced into kernel sources at
// build time by cmake/embed_kernel.cmake.
#define PLAN_NDIM(t) ((int)(t)[0])
#define PLAN_SHAPE(t, d) ((t)[1 + (d)])
#define PLAN_STRIDE(t, k, d) ((t)[9 + 8 * (k) + (d)])

#define PLAN_OPERAND(name) long name##_base, long name##_so, long name##_sm, long name##_si
// The same four, passed on to an inline body.
#define PLAN_ARGS(name) name##_base, name##_so, name##_sm, name##_si

// Operand k's offset for the outer index o: o * stride without a table,
// else o split over the table's dims [0, ndim - 2).
inline long plan_outer(__constant const long* table, int k, long o, long stride) {
  if (!table) return o * stride;
  long off = 0;
  for (int d = PLAN_NDIM(table) - 3; d > 0; --d) {
    const long e = PLAN_SHAPE(table, d);
    off += (o % e) * PLAN_STRIDE(table, k, d);
    o /= e;
  }
  return off + o * PLAN_STRIDE(table, k, 0);
}

// Operand `name` (index k in the table) at range position (o, m, j).
#define PLAN_OFFSET(name, table, k, o, m, j) \
  (name##_base + plan_outer(table, k, o, name##_so) + (m) * name##_sm + (j) * name##_si)

// Kernels that walk a plan themselves (reduce) read the whole table:
// PLAN_BASE and the offset of element i, in row-major order over all the
// plan's dims, from that base.
#define PLAN_BASE(t, k) ((t)[33 + (k)])
inline long plan_index_offset(__constant const long* table, int k, long i) {
  long off = 0;
  for (int d = PLAN_NDIM(table) - 1; d > 0; --d) {
    const long e = PLAN_SHAPE(table, d);
    off += (i % e) * PLAN_STRIDE(table, k, d);
    i /= e;
  }
  return off + i * PLAN_STRIDE(table, k, 0);
}
