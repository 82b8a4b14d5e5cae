// y[r, c] = silu(x[r, c]) * x[r, i + c] for x[rows, 2i], f32; one work-item
// per output element.
__kernel void silu_and_mul_f32(__global const float* x, ulong x_off, __global float* y,
                               ulong y_off, long i, long n) {
  const long e = get_global_id(0);
  if (e >= n) return;
  const long r = e / i, c = e % i;
  const float g = x[x_off + r * 2 * i + c];
  const float u = x[x_off + r * 2 * i + i + c];
  y[y_off + e] = g / (1.f + exp(-g)) * u;
}
