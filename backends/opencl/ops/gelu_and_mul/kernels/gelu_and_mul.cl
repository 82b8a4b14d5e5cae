// y[r, c] = gelu(x[r, c]) * x[r, i + c] for x[rows, 2i], f32; one work-item
// per output element. gelu is the erf form, or the tanh form when `tanh_form`.
__kernel void gelu_and_mul_f32(__global const float* x, ulong x_off, __global float* y,
                               ulong y_off, long i, long n, int tanh_form) {
  const long e = get_global_id(0);
  if (e >= n) return;
  const long r = e / i, c = e % i;
  const float g = x[x_off + r * 2 * i + c];
  const float u = x[x_off + r * 2 * i + i + c];
  float act;
  if (tanh_form) {
    const float k = 0.7978845608028654f;  // sqrt(2 / pi)
    act = 0.5f * g * (1.f + tanh(k * (g + 0.044715f * g * g * g)));
  } else {
    act = 0.5f * g * (1.f + erf(g * 0.7071067811865476f));
  }
  y[y_off + e] = act * u;
}
