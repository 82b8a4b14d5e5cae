// y = a + b with numpy broadcasting, f32. meta: [ndim, out_shape[8],
// a_strides[8], b_strides[8]] (stride 0 on broadcast dims); ndim = -1 means
// a, b and y share one shape.
__kernel void add_f32(__global const float* a, ulong a_off, __global const float* b, ulong b_off,
                      __global float* y, ulong y_off, __constant long* meta, long n) {
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
  y[y_off + i] = a[a_off + ia] + b[b_off + ib];
}
