// y[r, c] = gelu(x[r, c]) * x[r, i + c] for x[rows, 2i], f32. gelu is the erf
// form, or the tanh form when `tanh_form`. 2-D range: dimension 0 walks a row
// in chunks of 8 outputs per work-item (vload8 needs only float alignment),
// dimension 1 is the row; a chunk past the row's end falls back to scalar
// code. No division per element.
float8 gelu8(float8 g, int tanh_form) {
  if (tanh_form) {
    const float k = 0.7978845608028654f;  // sqrt(2 / pi)
    return 0.5f * g * (1.f + tanh(k * (g + 0.044715f * g * g * g)));
  }
  return 0.5f * g * (1.f + erf(g * 0.7071067811865476f));
}

float gelu1(float g, int tanh_form) {
  if (tanh_form) {
    const float k = 0.7978845608028654f;
    return 0.5f * g * (1.f + tanh(k * (g + 0.044715f * g * g * g)));
  }
  return 0.5f * g * (1.f + erf(g * 0.7071067811865476f));
}

__kernel void gelu_and_mul_f32(__global const float* x, ulong x_off, __global float* y,
                               ulong y_off, long i, int tanh_form) {
  const long c = get_global_id(0) * 8, r = get_global_id(1);
  if (c >= i) return;
  __global const float* g = x + x_off + r * 2 * i;
  __global const float* u = g + i;
  __global float* yr = y + y_off + r * i;
  if (c + 8 <= i) {
    vstore8(gelu8(vload8(0, g + c), tanh_form) * vload8(0, u + c), 0, yr + c);
  } else {
    for (long k = c; k < i; ++k) yr[k] = gelu1(g[k], tanh_form) * u[k];
  }
}
