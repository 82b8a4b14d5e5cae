// r = x + residual (stored to r_out), y = r / sqrt(mean(r^2) + eps) * w per
// row of [rows, h]; every tensor has dtype DTYPE (f32, f16 or bf16; computed
// in f32). r_out is rounded to DTYPE once and the norm is taken of r as
// stored (docs/ops.md). One work-group per row (LOCAL_SIZE work-items, a
// power of two, chosen by the launcher), chunks of 8 (vector loads need only
// element alignment) with a scalar tail. Each work-item reads back only the
// r_out elements it wrote itself, so r_out may alias x or residual.
#include "common/kernels/dtype.cl"

__kernel void add_rms_norm(__global const STORAGE(DTYPE)* x, ulong x_off,
                           __global const STORAGE(DTYPE)* res, ulong res_off,
                           __global const STORAGE(DTYPE)* w, ulong w_off,
                           __global STORAGE(DTYPE)* y, ulong y_off,
                           __global STORAGE(DTYPE)* r_out, ulong r_off, long h, float eps) {
  __local float partial[LOCAL_SIZE];
  const long row = get_group_id(0);
  const int lid = get_local_id(0);
  __global const STORAGE(DTYPE)* xr = x + x_off + row * h;
  __global const STORAGE(DTYPE)* rr = res + res_off + row * h;
  __global const STORAGE(DTYPE)* wr = w + w_off;
  __global STORAGE(DTYPE)* yr = y + y_off + row * h;
  __global STORAGE(DTYPE)* ro = r_out + r_off + row * h;
  const long nv = h / 8;  // whole chunks of 8; [8 * nv, h) is the tail
  float8 s8 = (float8)(0.f);
  for (long k = lid; k < nv; k += LOCAL_SIZE) {
    const float8 v = ROUND8(DTYPE, LOAD8(DTYPE, k, xr) + LOAD8(DTYPE, k, rr));
    STORE8(DTYPE, v, k, ro);
    s8 += v * v;
  }
  const float4 s4 = s8.lo + s8.hi;
  float s = (s4.s0 + s4.s1) + (s4.s2 + s4.s3);
  for (long k = 8 * nv + lid; k < h; k += LOCAL_SIZE) {
    const float v = ROUND(DTYPE, LOAD(DTYPE, k, xr) + LOAD(DTYPE, k, rr));
    STORE(DTYPE, v, k, ro);
    s += v * v;
  }
  partial[lid] = s;
  barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
  for (int stride = LOCAL_SIZE / 2; stride > 0; stride /= 2) {
    if (lid < stride) partial[lid] += partial[lid + stride];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float inv = 1.f / sqrt(partial[0] / (float)h + eps);
  for (long k = lid; k < nv; k += LOCAL_SIZE)
    STORE8(DTYPE, LOAD8(DTYPE, k, ro) * inv * LOAD8(DTYPE, k, wr), k, yr);
  for (long k = 8 * nv + lid; k < h; k += LOCAL_SIZE)
    STORE(DTYPE, LOAD(DTYPE, k, ro) * inv * LOAD(DTYPE, k, wr), k, yr);
}
