// y[r, c] = silu(x[r, c]) * x[r, i + c] for x[rows, 2i]; x and y share one
// dtype DTYPE (f32, f16 or bf16; computed in f32, y rounded once). 2-D range:
// dimension 0 walks a row in chunks of 8 outputs per work-item (vector loads
// need only element alignment), dimension 1 is the row; a chunk past the
// row's end falls back to scalar code. No division per element.
#include "common/kernels/dtype.cl"

__kernel void silu_and_mul(__global const STORAGE(DTYPE)* x, ulong x_off,
                           __global STORAGE(DTYPE)* y, ulong y_off, long i) {
  const long c = get_global_id(0) * 8, r = get_global_id(1);
  if (c >= i) return;
  __global const STORAGE(DTYPE)* g = x + x_off + r * 2 * i;
  __global const STORAGE(DTYPE)* u = g + i;
  __global STORAGE(DTYPE)* yr = y + y_off + r * i;
  if (c + 8 <= i) {
    const float8 gv = LOAD8(DTYPE, 0, g + c);
    STORE8(DTYPE, gv / (1.f + exp(-gv)) * LOAD8(DTYPE, 0, u + c), 0, yr + c);
  } else {
    for (long k = c; k < i; ++k) {
      const float gk = LOAD(DTYPE, k, g);
      STORE(DTYPE, gk / (1.f + exp(-gk)) * LOAD(DTYPE, k, u), k, yr);
    }
  }
}
