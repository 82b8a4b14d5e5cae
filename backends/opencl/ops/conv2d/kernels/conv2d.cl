// conv2d: y = act(cross-correlation(x, w) + bias) over NCHW tensors
// (docs/ops.md "conv2d"); x, w, bias, y share one dtype DTYPE (f32, f16 or
// bf16): products and sums in f32, y rounded once.
// One work-item per output pixel (dim 0) and block of FB filters of one
// group (dim 1), per image (dim 2): each input tap is loaded once and used
// by all FB filters, whose weights are read by every work-item of the
// group alike (cached). Taps outside x are the zero padding, skipped.
#include "common/kernels/dtype.cl"

float activate(float v, int act, float p) {
  switch (act) {
    case 1: return v > 0.f ? v : 0.f;                                  // relu
    case 2: return v > 0.f ? v : p * v;                                // leaky_relu
    case 3: return 0.5f * v * (1.f + erf(v * 0.70710678118654752f));   // gelu (erf)
    case 4: {                                                          // gelu_tanh
      const float u = 0.79788456080286536f * (v + 0.044715f * v * v * v);
      return 0.5f * v * (1.f + tanh(u));
    }
    case 5: return v / (1.f + exp(-v));                                // silu
    case 6: return 1.f / (1.f + exp(-v));                              // sigmoid
    case 7: return tanh(v);                                            // tanh
    default: return v;
  }
}

// dims: C, H, W, M, Cg (C/group), Mg (M/group), KH, KW, OH, OW.
// window: SH, SW, DH, DW, PT (pad top), PL (pad left).
__kernel void conv2d(__global const STORAGE(DTYPE)* x, ulong x_off,
                     __global const STORAGE(DTYPE)* w, ulong w_off,
                     __global const STORAGE(DTYPE)* bias, ulong bias_off, int has_bias,
                     __global STORAGE(DTYPE)* y, ulong y_off, long C, long H, long W, long M,
                     long Cg, long Mg, long KH, long KW, long OH, long OW, int SH, int SW, int DH,
                     int DW, int PT, int PL, int act, float act_param) {
  const long pixel = get_global_id(0);
  if (pixel >= OH * OW) return;
  const long blocks = (Mg + FB - 1) / FB;
  const long gb = get_global_id(1);
  const long g = gb / blocks, m0 = g * Mg + (gb % blocks) * FB;
  const int count = (int)min((long)FB, g * Mg + Mg - m0);
  const long n = get_global_id(2);
  const long oh = pixel / OW, ow = pixel % OW;
  const long h0 = oh * SH - PT, w0 = ow * SW - PL;
  const long taps = Cg * KH * KW;

  float acc[FB];
  for (int f = 0; f < FB; ++f) acc[f] = 0.f;
  for (long c = 0; c < Cg; ++c) {
    const long plane = x_off + (n * C + g * Cg + c) * H * W;
    for (long r = 0; r < KH; ++r) {
      const long hi = h0 + r * DH;
      if (hi < 0 || hi >= H) continue;
      for (long q = 0; q < KW; ++q) {
        const long wi = w0 + q * DW;
        if (wi < 0 || wi >= W) continue;
        const float v = LOAD(DTYPE, plane + hi * W + wi, x);
        const long tap = (c * KH + r) * KW + q;
        for (int f = 0; f < FB; ++f)
          if (f < count) acc[f] += v * LOAD(DTYPE, w_off + (m0 + f) * taps + tap, w);
      }
    }
  }
  for (int f = 0; f < FB; ++f) {
    if (f >= count) break;
    float v = acc[f];
    if (has_bias) v += LOAD(DTYPE, bias_off + m0 + f, bias);
    STORE(DTYPE, activate(v, act, act_param), y_off + (n * M + m0 + f) * OH * OW + pixel, y);
  }
}
