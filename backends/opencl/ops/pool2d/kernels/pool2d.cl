// pool2d: max or average over each window of each (n, c) plane of an NCHW
// tensor (docs/ops.md "pool2d"); x and y of one dtype DTYPE (f32, f16 or
// bf16), computed in f32 and rounded once. One work-item per output
// element. Padding never wins a max; an average divides by the taps inside
// x, or with include_pad by those inside the padded plane [-PT, H + PB) x
// [-PL, W + PR) (a ceil_mode window may reach past it).
#include "common/kernels/dtype.cl"

__kernel void pool2d(__global const STORAGE(DTYPE)* x, ulong x_off, __global STORAGE(DTYPE)* y,
                     ulong y_off, long total, long H, long W, long OH, long OW, int KH, int KW,
                     int SH, int SW, int DH, int DW, int PT, int PL, int PB, int PR, int is_max,
                     int include_pad) {
  const long i = get_global_id(0);
  if (i >= total) return;
  const long ow = i % OW, oh = i / OW % OH, plane = i / (OW * OH);
  const long h0 = oh * SH - PT, w0 = ow * SW - PL;
  const long base = x_off + plane * H * W;
  float best = -INFINITY, sum = 0.f;
  int inside = 0, inside_padded = 0;
  for (int r = 0; r < KH; ++r) {
    const long hi = h0 + (long)r * DH;
    for (int q = 0; q < KW; ++q) {
      const long wi = w0 + (long)q * DW;
      if (hi < H + PB && wi < W + PR) ++inside_padded;
      if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
      const float v = LOAD(DTYPE, base + hi * W + wi, x);
      best = fmax(best, v);
      sum += v;
      ++inside;
    }
  }
  const int count = include_pad ? inside_padded : inside;
  const float out = is_max ? best : count > 0 ? sum / (float)count : 0.f;
  STORE(DTYPE, out, y_off + i, y);
}
