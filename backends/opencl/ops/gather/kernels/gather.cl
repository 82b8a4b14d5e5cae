// y = data indexed along an axis: data seen as [outer, n, inner], y as
// [outer, count, inner]; a 2-D range {inner, outer * count}. Indices are
// IDX (int or long) and may be negative (k + n); the host has checked them
// all against [-n, n). Elements move as unsigned integers of their size,
// ELEM. Both are build options.
__kernel void gather(__global const ELEM* data, ulong data_off, __global const IDX* indices,
                     ulong indices_off, __global ELEM* y, ulong y_off, long n, long count,
                     long inner, long pairs) {
  const long e = get_global_id(0), p = get_global_id(1);
  if (e >= inner || p >= pairs) return;
  const long o = p / count;
  long k = indices[indices_off + p % count];
  if (k < 0) k += n;
  y[y_off + p * inner + e] = data[data_off + (o * n + k) * inner + e];
}
