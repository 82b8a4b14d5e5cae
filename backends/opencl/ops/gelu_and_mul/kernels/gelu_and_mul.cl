// y[r, c] = gelu(x[r, c]) * x[r, i + c] for x[rows, 2i]; x and y share one
// dtype DTYPE (f32, f16 or bf16; computed in f32, y rounded once). gelu is
// the erf form, or the tanh form when `tanh_form`. 2-D range: dimension 0
// walks a row in chunks of 8 outputs per work-item (vector loads need only
// element alignment), dimension 1 is the row; a chunk past the row's end
// falls back to scalar code. No division per element.
#include "common/kernels/dtype.cl"

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

__kernel void gelu_and_mul(__global const STORAGE(DTYPE)* x, ulong x_off,
                           __global STORAGE(DTYPE)* y, ulong y_off, long i, int tanh_form) {
  const long c = get_global_id(0) * 8, r = get_global_id(1);
  if (c >= i) return;
  __global const STORAGE(DTYPE)* g = x + x_off + r * 2 * i;
  __global const STORAGE(DTYPE)* u = g + i;
  __global STORAGE(DTYPE)* yr = y + y_off + r * i;
  if (c + 8 <= i) {
    STORE8(DTYPE, gelu8(LOAD8(DTYPE, 0, g + c), tanh_form) * LOAD8(DTYPE, 0, u + c), 0, yr + c);
  } else {
    for (long k = c; k < i; ++k)
      STORE(DTYPE, gelu1(LOAD(DTYPE, k, g), tanh_form) * LOAD(DTYPE, k, u), k, yr);
  }
}
