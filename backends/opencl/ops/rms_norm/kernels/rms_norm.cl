// y = x / sqrt(mean(x^2) + eps) * w per row of x[rows, h], f32. One
// work-group per row (LOCAL_SIZE work-items, a power of two, chosen by the
// launcher): work-items stride over the row in float8 chunks (vload8 needs
// only float alignment, so any offset works) with a scalar tail, then a tree
// reduction in local memory.
__kernel void rms_norm_f32(__global const float* x, ulong x_off, __global const float* w,
                           ulong w_off, __global float* y, ulong y_off, long h, float eps) {
  __local float partial[LOCAL_SIZE];
  const long row = get_group_id(0);
  const int lid = get_local_id(0);
  __global const float* xr = x + x_off + row * h;
  __global const float* wr = w + w_off;
  __global float* yr = y + y_off + row * h;
  const long nv = h / 8;  // whole float8 chunks; [8 * nv, h) is the tail
  float8 s8 = (float8)(0.f);
  for (long k = lid; k < nv; k += LOCAL_SIZE) {
    const float8 v = vload8(k, xr);
    s8 += v * v;
  }
  const float4 s4 = s8.lo + s8.hi;
  float s = (s4.s0 + s4.s1) + (s4.s2 + s4.s3);
  for (long k = 8 * nv + lid; k < h; k += LOCAL_SIZE) s += xr[k] * xr[k];
  partial[lid] = s;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int stride = LOCAL_SIZE / 2; stride > 0; stride /= 2) {
    if (lid < stride) partial[lid] += partial[lid + stride];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float inv = 1.f / sqrt(partial[0] / (float)h + eps);
  for (long k = lid; k < nv; k += LOCAL_SIZE)
    vstore8(vload8(k, xr) * inv * vload8(k, wr), k, yr);
  for (long k = 8 * nv + lid; k < h; k += LOCAL_SIZE) yr[k] = xr[k] * inv * wr[k];
}
