// Softmax over the last axis of x[rows, n], f32, max subtracted for range.
// One work-group per row with LOCAL_SIZE work-items (a power of two) and two
// tree reductions (max, then sum) in local memory.
__kernel void softmax_f32(__global const float* x, ulong x_off, __global float* y, ulong y_off,
                          long n) {
  __local float partial[LOCAL_SIZE];
  const long row = get_group_id(0);
  const int lid = get_local_id(0);
  __global const float* xr = x + x_off + row * n;
  __global float* yr = y + y_off + row * n;
  float m = -INFINITY;
  for (long k = lid; k < n; k += LOCAL_SIZE) m = fmax(m, xr[k]);
  partial[lid] = m;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int stride = LOCAL_SIZE / 2; stride > 0; stride /= 2) {
    if (lid < stride) partial[lid] = fmax(partial[lid], partial[lid + stride]);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  m = partial[0];
  barrier(CLK_LOCAL_MEM_FENCE);  // everyone has read the max before reuse
  float s = 0.f;
  for (long k = lid; k < n; k += LOCAL_SIZE) s += exp(xr[k] - m);
  partial[lid] = s;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int stride = LOCAL_SIZE / 2; stride > 0; stride /= 2) {
    if (lid < stride) partial[lid] += partial[lid + stride];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float inv = 1.f / partial[0];
  for (long k = lid; k < n; k += LOCAL_SIZE) yr[k] = exp(xr[k] - m) * inv;
}
