// Rotary embedding of one [T, H, D] tensor of dtype DTYPE (f32, f16 or bf16;
// computed in f32, rounded once). A 2-D range: dim 1 is the (token, head)
// row, dim 0 the column c: c < r/2 rotates pair c (neox: c and c + r/2;
// gptj: 2c and 2c + 1) by position * inv_freq[c]; c >= r/2 copies element
// r + (c - r/2) through. Each work-item reads its elements before writing
// them, so `out` may alias `x`. positions are i32 or i64 (pos_i64),
// addressed by byte offset.
#include "common/kernels/dtype.cl"

__kernel void rope(__global const STORAGE(DTYPE)* x, ulong x_off, __global STORAGE(DTYPE)* out,
                   ulong out_off, __global const uchar* pos, ulong pos_off, int pos_i64,
                   __global const float* inv_freq, long heads, long d, long r, int gptj,
                   long rows) {
  const long c = get_global_id(0), row = get_global_id(1);
  const long nhalf = r / 2;
  if (row >= rows || c >= nhalf + (d - r)) return;
  __global const STORAGE(DTYPE)* xr = x + x_off + row * d;
  __global STORAGE(DTYPE)* yr = out + out_off + row * d;
  if (c >= nhalf) {
    const long j = r + (c - nhalf);
    STORE(DTYPE, LOAD(DTYPE, j, xr), j, yr);  // exact: a stored value round-trips
    return;
  }
  const long t = row / heads;
  const float p = pos_i64 ? (float)(*(__global const long*)(pos + pos_off + t * 8))
                          : (float)(*(__global const int*)(pos + pos_off + t * 4));
  const float a = p * inv_freq[c];
  const float cs = cos(a), sn = sin(a);
  const long i0 = gptj ? 2 * c : c;
  const long i1 = gptj ? 2 * c + 1 : c + nhalf;
  const float x0 = LOAD(DTYPE, i0, xr), x1 = LOAD(DTYPE, i1, xr);
  STORE(DTYPE, x0 * cs - x1 * sn, i0, yr);
  STORE(DTYPE, x1 * cs + x0 * sn, i1, yr);
}
