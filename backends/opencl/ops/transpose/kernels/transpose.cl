// transpose: y's axis d is x's axis perm[d].
// plan_copy (common/kernels/plan_copy.cl): any permutation, one work-item
// per element of y reading x through the permuted strides.
// transpose_tiled: the last two axes swapped, x [B, C, R] to y [B, R, C],
// through a TILE x TILE tile in local memory so that both the reads of x
// and the writes of y run along contiguous rows (a 2-D transpose is B = 1).
// ELEM is a build option; TILE too for transpose_tiled, which is compiled
// only when it is given.
#include "common/kernels/nd_plan.cl"
#include "common/kernels/plan_copy.cl"

#ifdef TILE
__kernel __attribute__((reqd_work_group_size(TILE, TILE, 1)))
void transpose_tiled(__global const ELEM* x, ulong x_off, __global ELEM* y, ulong y_off, long R,
                     long C) {
  __local ELEM tile[TILE][TILE + 1];  // +1: columns fall in different banks
  const int lx = get_local_id(0), ly = get_local_id(1);
  const long b = get_global_id(2);
  const long r0 = (long)get_group_id(0) * TILE, c0 = (long)get_group_id(1) * TILE;
  const long r = r0 + lx, c = c0 + ly;
  if (r < R && c < C) tile[ly][lx] = x[x_off + (b * C + c) * R + r];
  barrier(CLK_LOCAL_MEM_FENCE);
  const long yr = r0 + ly, yc = c0 + lx;
  if (yr < R && yc < C) y[y_off + (b * R + yr) * C + yc] = tile[lx][ly];
}
#endif
