// y = (x - mean) / sqrt(var + eps) * w + b per row of x[rows, h] (biased
// variance), f32; b is read only when has_b. One work-group per row: a
// reduction for the mean, then one for the centred sum of squares.
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

__kernel void layer_norm_f32(__global const float* x, ulong x_off, __global const float* w,
                             ulong w_off, __global const float* b, ulong b_off, int has_b,
                             __global float* y, ulong y_off, long h, float eps) {
  __local float partial[LOCAL_SIZE];
  const long row = get_group_id(0);
  const int lid = get_local_id(0);
  __global const float* xr = x + x_off + row * h;
  __global float* yr = y + y_off + row * h;
  float s = 0.f;
  for (long k = lid; k < h; k += LOCAL_SIZE) s += xr[k];
  const float mean = row_sum(partial, s) / (float)h;
  float q = 0.f;
  for (long k = lid; k < h; k += LOCAL_SIZE) {
    const float d = xr[k] - mean;
    q += d * d;
  }
  const float inv = 1.f / sqrt(row_sum(partial, q) / (float)h + eps);
  for (long k = lid; k < h; k += LOCAL_SIZE) {
    const float v = (xr[k] - mean) * inv * w[w_off + k];
    yr[k] = has_b ? v + b[b_off + k] : v;
  }
}
