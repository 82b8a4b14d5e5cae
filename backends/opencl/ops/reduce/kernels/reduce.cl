// Reductions over an axis mask (docs/ops.md "reduce"). DTYPE is x's dtype,
// OUT y's (i64 for argmax/argmin, else DTYPE) and KIND the rma_reduce_kind:
// build options. Floats accumulate in f32 and y is rounded once; ints in
// int64, wrapping. Two N-d plans (common/kernels/nd_plan.cl) walk x: `kept`
// maps an output index to the offset of its first element (base includes
// x's offset), `red` maps a reduced index to an offset from there.
// reduce_rows: one work-item per output, the reduced elements in order.
// reduce_groups: one work-group of LOCAL_SIZE (a power of two) per output,
// work-items striding over the reduced elements, then a tree in local
// memory. argmax/argmin take the first index of ties and, as the
// reference's scan, skip NaN unless the first element is NaN (then 0).
#include "common/kernels/dtype.cl"
#include "common/kernels/numeric.cl"
#include "common/kernels/nd_plan.cl"

#define REDUCE_SUM 0
#define REDUCE_MEAN 1
#define REDUCE_MAX 2
#define REDUCE_MIN 3
#define REDUCE_PROD 4
#define REDUCE_SUM_SQUARE 5
#define REDUCE_ARGMAX 6
#define REDUCE_ARGMIN 7
#define IS_ARG (KIND == REDUCE_ARGMAX || KIND == REDUCE_ARGMIN)

#if IS_FLOAT(DTYPE)
#define ADD(a, b) ((a) + (b))
#define MUL(a, b) ((a) * (b))
#define LOWEST (-INFINITY)
#define HIGHEST INFINITY
#define IS_NAN(v) isnan(v)
#else
#define ADD(a, b) wrap_add((a), (b))
#define MUL(a, b) wrap_mul((a), (b))
#define LOWEST LONG_MIN
#define HIGHEST LONG_MAX
#define IS_NAN(v) 0
#endif

// IDENTITY, STEP(acc, v) folding one element in, COMBINE(a, b) two partials.
// max/min never take a NaN (v > acc is false), as the reference.
#if KIND == REDUCE_SUM || KIND == REDUCE_MEAN
#define IDENTITY 0
#define STEP(acc, v) ADD(acc, v)
#define COMBINE(a, b) ADD(a, b)
#elif KIND == REDUCE_SUM_SQUARE
#define IDENTITY 0
#define STEP(acc, v) ADD(acc, MUL(v, v))
#define COMBINE(a, b) ADD(a, b)
#elif KIND == REDUCE_PROD
#define IDENTITY 1
#define STEP(acc, v) MUL(acc, v)
#define COMBINE(a, b) MUL(a, b)
#elif KIND == REDUCE_MAX
#define IDENTITY LOWEST
#define STEP(acc, v) ((v) > (acc) ? (v) : (acc))
#define COMBINE(a, b) STEP(a, b)
#elif KIND == REDUCE_MIN
#define IDENTITY HIGHEST
#define STEP(acc, v) ((v) < (acc) ? (v) : (acc))
#define COMBINE(a, b) STEP(a, b)
#elif KIND == REDUCE_ARGMAX
#define BETTER(v, best) ((v) > (best))
#elif KIND == REDUCE_ARGMIN
#define BETTER(v, best) ((v) < (best))
#else
#error "reduce: unknown KIND"
#endif

#if KIND == REDUCE_MEAN
#define FINISH(acc, count) ((acc) / (float)(count))  // 0 / 0 = NaN over nothing
#else
#define FINISH(acc, count) (acc)
#endif

// Offset of the first element of output o.
inline long output_base(__constant long* kept, long o) {
  return PLAN_BASE(kept, 0) + plan_index_offset(kept, 0, o);
}

// Offset of reduced element r from an output's base.
inline long reduced_offset(__constant long* red, long r) {
  return PLAN_NDIM(red) == 1 ? r * PLAN_STRIDE(red, 0, 0) : plan_index_offset(red, 0, r);
}

__kernel void reduce_rows(__global const STORAGE(DTYPE)* x, __global STORAGE(OUT)* y, ulong y_off,
                          __constant long* kept, __constant long* red, long n_out, long count) {
  const long o = get_global_id(0);
  if (o >= n_out) return;
  const long base = output_base(kept, o);
#if IS_ARG
  // One reduced axis: red is [n] with x's stride on it (or [1]).
  const long stride = PLAN_STRIDE(red, 0, 0);
  long best = 0;
  VALUE(DTYPE) best_v = LOAD(DTYPE, base, x);
  for (long j = 1; j < count; ++j) {
    const VALUE(DTYPE) v = LOAD(DTYPE, base + j * stride, x);
    if (BETTER(v, best_v)) {
      best = j;
      best_v = v;
    }
  }
  STORE(OUT, best, y_off + o, y);
#else
  VALUE(DTYPE) acc = IDENTITY;
  const int nd = PLAN_NDIM(red);
  const long inner = PLAN_SHAPE(red, nd - 1), stride = PLAN_STRIDE(red, 0, nd - 1);
  for (long r0 = 0; r0 < count; r0 += inner) {
    const long row_base = base + reduced_offset(red, r0);
    for (long j = 0; j < inner; ++j) acc = STEP(acc, LOAD(DTYPE, row_base + j * stride, x));
  }
  STORE(OUT, FINISH(acc, count), y_off + o, y);
#endif
}

#ifdef LOCAL_SIZE
__kernel void reduce_groups(__global const STORAGE(DTYPE)* x, __global STORAGE(OUT)* y,
                            ulong y_off, __constant long* kept, __constant long* red, long n_out,
                            long count) {
  const long o = get_group_id(0);
  const int lid = get_local_id(0);
  const long base = output_base(kept, o);
#if IS_ARG
  __local VALUE(DTYPE) part_v[LOCAL_SIZE];
  __local long part_i[LOCAL_SIZE];
  const long stride = PLAN_STRIDE(red, 0, 0);
  // This work-item's elements lid, lid + LOCAL_SIZE, ... in order: the first
  // best non-NaN one (-1: none yet).
  long best = -1;
  VALUE(DTYPE) best_v = 0;
  for (long j = lid; j < count; j += LOCAL_SIZE) {
    const VALUE(DTYPE) v = LOAD(DTYPE, base + j * stride, x);
    if (best < 0 ? !IS_NAN(v) : BETTER(v, best_v)) {
      best = j;
      best_v = v;
    }
  }
  part_v[lid] = best_v;
  part_i[lid] = best;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int span = LOCAL_SIZE / 2; span > 0; span /= 2) {
    if (lid < span) {
      const long i = part_i[lid + span];
      const VALUE(DTYPE) v = part_v[lid + span];
      const long mine = part_i[lid];
      if (i >= 0 &&
          (mine < 0 || BETTER(v, part_v[lid]) || (v == part_v[lid] && i < mine))) {
        part_i[lid] = i;
        part_v[lid] = v;
      }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) {
    const bool first_nan = IS_NAN(LOAD(DTYPE, base, x));
    STORE(OUT, first_nan || part_i[0] < 0 ? 0 : part_i[0], y_off + o, y);
  }
#else
  __local VALUE(DTYPE) partial[LOCAL_SIZE];
  VALUE(DTYPE) acc = IDENTITY;
  for (long r = lid; r < count; r += LOCAL_SIZE)
    acc = STEP(acc, LOAD(DTYPE, base + reduced_offset(red, r), x));
  partial[lid] = acc;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int span = LOCAL_SIZE / 2; span > 0; span /= 2) {
    if (lid < span) partial[lid] = COMBINE(partial[lid], partial[lid + span]);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) STORE(OUT, FINISH(partial[0], count), y_off + o, y);
#endif
}
#endif
