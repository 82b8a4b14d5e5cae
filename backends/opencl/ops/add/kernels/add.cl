// y = a + b with numpy broadcasting; a, b, y share one dtype DTYPE (f32,
// f16 or bf16; computed in f32, rounded once). meta: [ndim, out_shape[8],
// a_strides[8], b_strides[8]] (stride 0 on broadcast dims); ndim = -1 means
// a, b and y share one shape.
#include "common/kernels/dtype.cl"

__kernel void add(__global const STORAGE(DTYPE)* a, ulong a_off, __global const STORAGE(DTYPE)* b,
                  ulong b_off, __global STORAGE(DTYPE)* y, ulong y_off, __constant long* meta,
                  long n) {
  const long i = get_global_id(0);
  if (i >= n) return;
  long ia = i, ib = i;
  const int nd = (int)meta[0];
  if (nd >= 0) {
    long rem = i;
    ia = 0;
    ib = 0;
    for (int d = nd - 1; d >= 0; --d) {
      const long c = rem % meta[1 + d];
      rem /= meta[1 + d];
      ia += c * meta[9 + d];
      ib += c * meta[17 + d];
    }
  }
  STORE(DTYPE, LOAD(DTYPE, a_off + ia, a) + LOAD(DTYPE, b_off + ib, b), y_off + i, y);
}
