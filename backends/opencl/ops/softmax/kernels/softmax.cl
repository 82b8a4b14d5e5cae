// Softmax over the last axis of x[rows, n], f32, max subtracted for range.
// One work-group per row with LOCAL_SIZE work-items (a power of two). Work-
// items stride over the row in float8 chunks (vload8 needs only float
// alignment, so any row offset works) with a scalar tail. exp is evaluated
// once per element: pass 1 finds the max, pass 2 stores e = exp(x - max) to y
// and sums it, pass 3 scales y by 1/sum, reading back only the elements the
// same work-item wrote (so y may alias x).
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

__kernel void softmax_f32(__global const float* x, ulong x_off, __global float* y, ulong y_off,
                          long n) {
  __local float partial[LOCAL_SIZE];
  const long row = get_group_id(0);
  const int lid = get_local_id(0);
  __global const float* xr = x + x_off + row * n;
  __global float* yr = y + y_off + row * n;
  const long nv = n / 8;  // whole float8 chunks; elements [8 * nv, n) are the tail
  float8 m8 = (float8)(-INFINITY);
  for (long k = lid; k < nv; k += LOCAL_SIZE) m8 = fmax(m8, vload8(k, xr));
  const float4 m4 = fmax(m8.lo, m8.hi);
  float m = fmax(fmax(m4.s0, m4.s1), fmax(m4.s2, m4.s3));
  for (long k = 8 * nv + lid; k < n; k += LOCAL_SIZE) m = fmax(m, xr[k]);
  m = row_max(partial, m);

  float8 s8 = (float8)(0.f);
  for (long k = lid; k < nv; k += LOCAL_SIZE) {
    const float8 e = exp(vload8(k, xr) - m);
    vstore8(e, k, yr);
    s8 += e;
  }
  const float4 s4 = s8.lo + s8.hi;
  float s = (s4.s0 + s4.s1) + (s4.s2 + s4.s3);
  for (long k = 8 * nv + lid; k < n; k += LOCAL_SIZE) {
    const float e = exp(xr[k] - m);
    yr[k] = e;
    s += e;
  }
  const float inv = 1.f / row_sum(partial, s);
  for (long k = lid; k < nv; k += LOCAL_SIZE) vstore8(vload8(k, yr) * inv, k, yr);
  for (long k = 8 * nv + lid; k < n; k += LOCAL_SIZE) yr[k] *= inv;
}
