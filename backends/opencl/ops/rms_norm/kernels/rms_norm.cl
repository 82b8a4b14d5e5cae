// y = x / sqrt(mean(x^2) + eps) * w per row of x[rows, h], f32. One
// work-group per row: work-items stride over the row, then a tree reduction
// in local memory (LOCAL_SIZE, a power of two, comes from config.h).
__kernel void rms_norm_f32(__global const float* x, ulong x_off, __global const float* w,
                           ulong w_off, __global float* y, ulong y_off, long h, float eps) {
  __local float partial[LOCAL_SIZE];
  const long row = get_group_id(0);
  const int lid = get_local_id(0);
  __global const float* xr = x + x_off + row * h;
  __global float* yr = y + y_off + row * h;
  float s = 0.f;
  for (long k = lid; k < h; k += LOCAL_SIZE) s += xr[k] * xr[k];
  partial[lid] = s;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int stride = LOCAL_SIZE / 2; stride > 0; stride /= 2) {
    if (lid < stride) partial[lid] += partial[lid + stride];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float inv = 1.f / sqrt(partial[0] / (float)h + eps);
  for (long k = lid; k < h; k += LOCAL_SIZE) yr[k] = xr[k] * inv * w[w_off + k];
}
