// y[r, c] = silu(x[r, c]) * x[r, i + c] for x[rows, 2i], f32. 2-D range:
// dimension 0 walks a row in chunks of 8 outputs per work-item (vload8 needs
// only float alignment), dimension 1 is the row; a chunk past the row's end
// falls back to scalar code. No division per element.
__kernel void silu_and_mul_f32(__global const float* x, ulong x_off, __global float* y,
                               ulong y_off, long i) {
  const long c = get_global_id(0) * 8, r = get_global_id(1);
  if (c >= i) return;
  __global const float* g = x + x_off + r * 2 * i;
  __global const float* u = g + i;
  __global float* yr = y + y_off + r * i;
  if (c + 8 <= i) {
    const float8 gv = vload8(0, g + c);
    vstore8(gv / (1.f + exp(-gv)) * vload8(0, u + c), 0, yr + c);
  } else {
    for (long k = c; k < i; ++k) yr[k] = g[k] / (1.f + exp(-g[k])) * u[k];
  }
}
