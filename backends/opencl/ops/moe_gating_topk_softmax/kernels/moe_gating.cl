// Router softmax and top-k over logits[tokens, experts] of dtype DTYPE (f32,
// f16 or bf16; computed in f32) -> weights[tokens, k] f32 and ids[tokens, k]
// i32. One work-group per token row (LOCAL_SIZE work-items, a power of two):
// a max and a sum reduction for the softmax, then k arg-max reductions.
// Experts are ranked by logit (the probability is monotonic in it) with ties
// to the lower id; selection j takes the best expert strictly after selection
// j-1 in that order, so nothing is marked.
#include "common/kernels/dtype.cl"

// (v, i) ranks before (bv, bi): larger value, or equal value and lower id;
// id -1 is "none" and ranks last.
inline bool ranks_before(float v, int i, float bv, int bi) {
  if (i < 0) return false;
  if (bi < 0) return true;
  return v > bv || (v == bv && i < bi);
}

__kernel void moe_gating(__global const STORAGE(DTYPE)* x, ulong x_off, __global float* w,
                         ulong w_off, __global int* ids, ulong ids_off, int experts, int k,
                         int renormalize) {
  __local float partial[LOCAL_SIZE];
  __local float best_v[LOCAL_SIZE];
  __local int best_i[LOCAL_SIZE];
  const long row = get_group_id(0);
  const int lid = get_local_id(0);
  __global const STORAGE(DTYPE)* xr = x + x_off + row * (long)experts;
  __global float* wr = w + w_off + row * (long)k;
  __global int* ir = ids + ids_off + row * (long)k;

  // Rank key: NaN ranks last (as -inf; ties among those go by id).
  float m = -INFINITY;
  for (int e = lid; e < experts; e += LOCAL_SIZE) m = fmax(m, LOAD(DTYPE, e, xr));
  partial[lid] = m;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = LOCAL_SIZE / 2; s > 0; s /= 2) {
    if (lid < s) partial[lid] = fmax(partial[lid], partial[lid + s]);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  m = partial[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  float sum = 0.f;
  for (int e = lid; e < experts; e += LOCAL_SIZE) sum += exp(LOAD(DTYPE, e, xr) - m);
  partial[lid] = sum;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = LOCAL_SIZE / 2; s > 0; s /= 2) {
    if (lid < s) partial[lid] += partial[lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float inv_sum = 1.f / partial[0];

  float prev_v = INFINITY;
  int prev_i = -1;  // none selected yet: every expert ranks after it
  float kept = 0.f;
  for (int j = 0; j < k; ++j) {
    float bv = -INFINITY;
    int bi = -1;
    for (int e = lid; e < experts; e += LOCAL_SIZE) {
      float v = LOAD(DTYPE, e, xr);
      if (isnan(v)) v = -INFINITY;
      const bool after = prev_i < 0 || v < prev_v || (v == prev_v && e > prev_i);
      if (after && ranks_before(v, e, bv, bi)) {
        bv = v;
        bi = e;
      }
    }
    best_v[lid] = bv;
    best_i[lid] = bi;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = LOCAL_SIZE / 2; s > 0; s /= 2) {
      if (lid < s && ranks_before(best_v[lid + s], best_i[lid + s], best_v[lid], best_i[lid])) {
        best_v[lid] = best_v[lid + s];
        best_i[lid] = best_i[lid + s];
      }
      barrier(CLK_LOCAL_MEM_FENCE);
    }
    prev_v = best_v[0];
    prev_i = best_i[0];
    barrier(CLK_LOCAL_MEM_FENCE);  // all have read the winner before reuse
    const float p = prev_i >= 0 ? exp(LOAD(DTYPE, prev_i, xr) - m) * inv_sum : 0.f;
    kept += p;
    if (lid == 0) {
      wr[j] = p;
      ir[j] = prev_i >= 0 ? prev_i : 0;
    }
  }
  if (renormalize && lid == 0 && kept > 0.f) {
    const float inv_kept = 1.f / kept;
    for (int j = 0; j < k; ++j) wr[j] *= inv_kept;
  }
}
