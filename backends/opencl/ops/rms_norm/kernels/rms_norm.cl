// y = x / sqrt(mean(x^2) + eps) * w per row of x[rows, h]; x, w, y share one
// dtype DTYPE (f32, f16 or bf16; computed in f32, y rounded once). One
// work-group per row (LOCAL_SIZE work-items, a power of two, chosen by the
// launcher): work-items stride over the row in chunks of 8 (vector loads need
// only element alignment, so any offset works) with a scalar tail, then a
// tree reduction in local memory.
#include "common/kernels/dtype.cl"

__kernel void rms_norm(__global const STORAGE(DTYPE)* x, ulong x_off,
                       __global const STORAGE(DTYPE)* w, ulong w_off, __global STORAGE(DTYPE)* y,
                       ulong y_off, long h, float eps) {
  __local float partial[LOCAL_SIZE];
  const long row = get_group_id(0);
  const int lid = get_local_id(0);
  __global const STORAGE(DTYPE)* xr = x + x_off + row * h;
  __global const STORAGE(DTYPE)* wr = w + w_off;
  __global STORAGE(DTYPE)* yr = y + y_off + row * h;
  const long nv = h / 8;  // whole chunks of 8; [8 * nv, h) is the tail
  float8 s8 = (float8)(0.f);
  for (long k = lid; k < nv; k += LOCAL_SIZE) {
    const float8 v = LOAD8(DTYPE, k, xr);
    s8 += v * v;
  }
  const float4 s4 = s8.lo + s8.hi;
  float s = (s4.s0 + s4.s1) + (s4.s2 + s4.s3);
  for (long k = 8 * nv + lid; k < h; k += LOCAL_SIZE) {
    const float v = LOAD(DTYPE, k, xr);
    s += v * v;
  }
  partial[lid] = s;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int stride = LOCAL_SIZE / 2; stride > 0; stride /= 2) {
    if (lid < stride) partial[lid] += partial[lid + stride];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float inv = 1.f / sqrt(partial[0] / (float)h + eps);
  for (long k = lid; k < nv; k += LOCAL_SIZE)
    STORE8(DTYPE, LOAD8(DTYPE, k, xr) * inv * LOAD8(DTYPE, k, wr), k, yr);
  for (long k = 8 * nv + lid; k < h; k += LOCAL_SIZE)
    STORE(DTYPE, LOAD(DTYPE, k, xr) * inv * LOAD(DTYPE, k, wr), k, yr);
}
