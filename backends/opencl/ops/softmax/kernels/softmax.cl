// Softmax over the last axis of x[rows, n], max subtracted for range; x and y
// share one dtype DTYPE (f32, f16 or bf16; computed in f32, y rounded once).
// One work-group per row with LOCAL_SIZE work-items (a power of two). Work-
// items stride over the row in chunks of 8 (vector loads need only element
// alignment, so any row offset works) with a scalar tail. Pass 1 finds the
// max; pass 2 sums e = exp(x - max); pass 3 writes e / sum. In f32, pass 2
// stores e to y and pass 3 scales it there, so exp runs once per element; a
// narrower y cannot hold e unrounded, so there pass 3 evaluates exp again.
// Each work-item reads back only the elements it wrote (so y may alias x).
// With LOG_SOFTMAX=1 (log_softmax) pass 2 stores nothing and pass 3 writes
// x - max - log(sum).
#include "common/kernels/dtype.cl"

float row_max(__local float* partial, float v) {
  const int lid = get_local_id(0);
  partial[lid] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int stride = LOCAL_SIZE / 2; stride > 0; stride /= 2) {
    if (lid < stride) partial[lid] = fmax(partial[lid], partial[lid + stride]);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float r = partial[0];
  barrier(CLK_LOCAL_MEM_FENCE);  // partial is reused by the next reduction
  return r;
}

float row_sum(__local float* partial, float v) {
  const int lid = get_local_id(0);
  partial[lid] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int stride = LOCAL_SIZE / 2; stride > 0; stride /= 2) {
    if (lid < stride) partial[lid] += partial[lid + stride];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float r = partial[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return r;
}

__kernel void softmax(__global const STORAGE(DTYPE)* x, ulong x_off, __global STORAGE(DTYPE)* y,
                      ulong y_off, long n) {
  __local float partial[LOCAL_SIZE];
  const long row = get_group_id(0);
  const int lid = get_local_id(0);
  __global const STORAGE(DTYPE)* xr = x + x_off + row * n;
  __global STORAGE(DTYPE)* yr = y + y_off + row * n;
  const long nv = n / 8;  // whole chunks of 8; elements [8 * nv, n) are the tail
  float8 m8 = (float8)(-INFINITY);
  for (long k = lid; k < nv; k += LOCAL_SIZE) m8 = fmax(m8, LOAD8(DTYPE, k, xr));
  const float4 m4 = fmax(m8.lo, m8.hi);
  float m = fmax(fmax(m4.s0, m4.s1), fmax(m4.s2, m4.s3));
  for (long k = 8 * nv + lid; k < n; k += LOCAL_SIZE) m = fmax(m, LOAD(DTYPE, k, xr));
  m = row_max(partial, m);

  float8 s8 = (float8)(0.f);
  for (long k = lid; k < nv; k += LOCAL_SIZE) {
    const float8 e = exp(LOAD8(DTYPE, k, xr) - m);
#if IS_F32(DTYPE) && !LOG_SOFTMAX
    STORE8(DTYPE, e, k, yr);
#endif
    s8 += e;
  }
  const float4 s4 = s8.lo + s8.hi;
  float s = (s4.s0 + s4.s1) + (s4.s2 + s4.s3);
  for (long k = 8 * nv + lid; k < n; k += LOCAL_SIZE) {
    const float e = exp(LOAD(DTYPE, k, xr) - m);
#if IS_F32(DTYPE) && !LOG_SOFTMAX
    STORE(DTYPE, e, k, yr);
#endif
    s += e;
  }
#if LOG_SOFTMAX
  const float shift = m + log(row_sum(partial, s));
  for (long k = lid; k < nv; k += LOCAL_SIZE) STORE8(DTYPE, LOAD8(DTYPE, k, xr) - shift, k, yr);
  for (long k = 8 * nv + lid; k < n; k += LOCAL_SIZE) STORE(DTYPE, LOAD(DTYPE, k, xr) - shift, k, yr);
#else
  const float inv = 1.f / row_sum(partial, s);
#if IS_F32(DTYPE)
  for (long k = lid; k < nv; k += LOCAL_SIZE) STORE8(DTYPE, LOAD8(DTYPE, k, yr) * inv, k, yr);
  for (long k = 8 * nv + lid; k < n; k += LOCAL_SIZE) STORE(DTYPE, LOAD(DTYPE, k, yr) * inv, k, yr);
#else
  for (long k = lid; k < nv; k += LOCAL_SIZE)
    STORE8(DTYPE, exp(LOAD8(DTYPE, k, xr) - m) * inv, k, yr);
  for (long k = 8 * nv + lid; k < n; k += LOCAL_SIZE)
    STORE(DTYPE, exp(LOAD(DTYPE, k, xr) - m) * inv, k, yr);
#endif
#endif  // LOG_SOFTMAX
}
