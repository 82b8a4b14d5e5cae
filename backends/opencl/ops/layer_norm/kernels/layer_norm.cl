// y = (x - mean) / sqrt(var + eps) * w + b per row of x[rows, h] (biased
// variance); x, w, b, y share one dtype DTYPE (f32, f16 or bf16; computed in
// f32, y rounded once); b is read only when has_b. One work-group per row
// (LOCAL_SIZE work-items, a power of two, chosen by the launcher) in chunks
// of 8 (vector loads need only element alignment) with a scalar tail: a
// reduction for the mean, then one for the centred sum of squares.
#include "common/kernels/dtype.cl"

float row_sum(__local float* partial, float s) {
  const int lid = get_local_id(0);
  partial[lid] = s;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int stride = LOCAL_SIZE / 2; stride > 0; stride /= 2) {
    if (lid < stride) partial[lid] += partial[lid + stride];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float total = partial[0];
  barrier(CLK_LOCAL_MEM_FENCE);  // partial is reused by the next sum
  return total;
}

float hsum8(float8 v) {
  const float4 s4 = v.lo + v.hi;
  return (s4.s0 + s4.s1) + (s4.s2 + s4.s3);
}

__kernel void layer_norm(__global const STORAGE(DTYPE)* x, ulong x_off,
                         __global const STORAGE(DTYPE)* w, ulong w_off,
                         __global const STORAGE(DTYPE)* b, ulong b_off, int has_b,
                         __global STORAGE(DTYPE)* y, ulong y_off, long h, float eps) {
  __local float partial[LOCAL_SIZE];
  const long row = get_group_id(0);
  const int lid = get_local_id(0);
  __global const STORAGE(DTYPE)* xr = x + x_off + row * h;
  __global const STORAGE(DTYPE)* wr = w + w_off;
  __global const STORAGE(DTYPE)* br = b + b_off;
  __global STORAGE(DTYPE)* yr = y + y_off + row * h;
  const long nv = h / 8;  // whole chunks of 8; [8 * nv, h) is the tail
  float8 s8 = (float8)(0.f);
  for (long k = lid; k < nv; k += LOCAL_SIZE) s8 += LOAD8(DTYPE, k, xr);
  float s = hsum8(s8);
  for (long k = 8 * nv + lid; k < h; k += LOCAL_SIZE) s += LOAD(DTYPE, k, xr);
  const float mean = row_sum(partial, s) / (float)h;
  float8 q8 = (float8)(0.f);
  for (long k = lid; k < nv; k += LOCAL_SIZE) {
    const float8 d = LOAD8(DTYPE, k, xr) - mean;
    q8 += d * d;
  }
  float q = hsum8(q8);
  for (long k = 8 * nv + lid; k < h; k += LOCAL_SIZE) {
    const float d = LOAD(DTYPE, k, xr) - mean;
    q += d * d;
  }
  const float inv = 1.f / sqrt(row_sum(partial, q) / (float)h + eps);
  if (has_b) {
    for (long k = lid; k < nv; k += LOCAL_SIZE)
      STORE8(DTYPE, (LOAD8(DTYPE, k, xr) - mean) * inv * LOAD8(DTYPE, k, wr) + LOAD8(DTYPE, k, br),
             k, yr);
    for (long k = 8 * nv + lid; k < h; k += LOCAL_SIZE)
      STORE(DTYPE, (LOAD(DTYPE, k, xr) - mean) * inv * LOAD(DTYPE, k, wr) + LOAD(DTYPE, k, br), k,
            yr);
  } else {
    for (long k = lid; k < nv; k += LOCAL_SIZE)
      STORE8(DTYPE, (LOAD8(DTYPE, k, xr) - mean) * inv * LOAD8(DTYPE, k, wr), k, yr);
    for (long k = 8 * nv + lid; k < h; k += LOCAL_SIZE)
      STORE(DTYPE, (LOAD(DTYPE, k, xr) - mean) * inv * LOAD(DTYPE, k, wr), k, yr);
  }
}
