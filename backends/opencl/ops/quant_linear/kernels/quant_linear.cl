// y[t, n] = act(alpha * sum_k x[t, k] * deq(w)[n, k] + bias[n]), w [N, K]
// block-quantized (q8_0, q4_0, q4_1, q4_k, q5_k, q6_k) or f16 / bf16, and
// dequantized here exactly as include/rma/block_decode.h does. x, bias and y
// share the float dtype XT (a build option: f32, f16 or bf16, see
// common/kernels/dtype.cl); the arithmetic is f32 and y is rounded once.
//
// One work-group per (output row n, tile of TOKENS tokens), LANES x TOKENS
// work-items. Per step the group decodes CHUNK = LANES * TOKENS consecutive
// weights of row n into local memory (one each), then item (lane, tt)
// accumulates token t0 + tt over the chunk's k = lane (mod LANES); lanes are
// reduced in local memory at the end.
//
// The block decoders come from common/kernels/block_decode.cl.
#pragma OPENCL FP_CONTRACT OFF
#include "common/kernels/block_decode.cl"
#include "common/kernels/dtype.cl"
#define CHUNK (LANES * TOKENS)

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

__kernel __attribute__((reqd_work_group_size(LANES, TOKENS, 1)))
void quant_linear_tiled(__global const STORAGE(XT)* x, ulong x_off, __global const uchar* w,
                        ulong w_off, ulong row_bytes, int fmt, __global const STORAGE(XT)* bias,
                        ulong b_off, int has_bias, __global STORAGE(XT)* y, ulong y_off, long T,
                        long N, long K, float alpha, int act, float act_param) {
  __local float wdec[CHUNK];
  __local float part[TOKENS][LANES + 1];
  const int lane = get_local_id(0), tt = get_local_id(1);
  const long n = get_group_id(0);
  const long t = get_group_id(1) * TOKENS + tt;
  const int li = tt * LANES + lane;  // this item's slot in the chunk
  __global const uchar* wrow = w + w_off + n * row_bytes;
  const ulong xrow = x_off + (t < T ? t : 0) * K;  // element index of x[t, 0]
  float acc = 0.f;
  for (long k0 = 0; k0 < K; k0 += CHUNK) {
    const long kd = k0 + li;
    wdec[li] = (n < N && kd < K) ? decode(wrow, fmt, kd) : 0.f;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (t < T) {
      const int kend = (int)min((long)CHUNK, K - k0);
      for (int kk = lane; kk < kend; kk += LANES) acc += LOAD(XT, xrow + k0 + kk, x) * wdec[kk];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  part[tt][lane] = acc;
  barrier(CLK_LOCAL_MEM_FENCE);
  if (lane == 0 && t < T && n < N) {
    float s = 0.f;
    for (int i = 0; i < LANES; ++i) s += part[tt][i];
    float v = alpha * s;
    if (has_bias) v += LOAD(XT, b_off + n, bias);
    STORE(XT, activate(v, act, act_param), y_off + t * N + n, y);
  }
}

// ---------------------------------------------------------------------------
// Decode path (T <= DEC_TMAX, launcher-chosen): one work-item per output row
// n, DEC_WG items per group. The item walks its row 32 weights at a time,
// decodes them once into private memory with the same arithmetic as decode()
// above (so the same values, bit for bit), and dots them with every one of
// the T activation rows (read from global memory: small and cached). f16 /
// bf16 rows may end in a partial chunk, read element by element.

// Weights c * 32 .. c * 32 + 31 of a row into out[32].
void decode32(__global const uchar* row, int fmt, long c, float* out) {
  if (fmt == FMT_F16) {
    __global const half* h = (__global const half*)row + c * 32;
    for (int i = 0; i < 8; ++i) vstore4(vload_half4(i, h), i, out);
    return;
  }
  if (fmt == FMT_BF16) {
    __global const ushort* h = (__global const ushort*)row + c * 32;
    for (int i = 0; i < 4; ++i) vstore8(as_float8(convert_uint8(vload8(i, h)) << 16), i, out);
    return;
  }
  if (fmt == FMT_F32) {
    __global const float* f = (__global const float*)row + c * 32;
    for (int i = 0; i < 32; ++i) out[i] = f[i];
    return;
  }
  if (fmt == FMT_Q8_0) {
    __global const uchar* b = row + c * 34;
    const float d = f16_at(b);
    for (int i = 0; i < 32; ++i) out[i] = d * (float)((char)b[2 + i]);
    return;
  }
  if (fmt == FMT_Q4_0) {
    __global const uchar* b = row + c * 18;
    const float d = f16_at(b);
    for (int i = 0; i < 16; ++i) {
      const uchar q = b[2 + i];
      out[i] = d * (float)((int)(q & 0x0F) - 8);
      out[i + 16] = d * (float)((int)(q >> 4) - 8);
    }
    return;
  }
  if (fmt == FMT_Q4_1) {
    __global const uchar* b = row + c * 20;
    const float d = f16_at(b), m = f16_at(b + 2);
    for (int i = 0; i < 16; ++i) {
      const uchar q = b[4 + i];
      const float lo = d * (float)(q & 0x0F), hi = d * (float)(q >> 4);
      out[i] = lo + m;
      out[i + 16] = hi + m;
    }
    return;
  }
  if (fmt == FMT_Q4_K) {
    __global const uchar* b = row + (c / 8) * 144;
    __global const uchar* s = b + 4;
    const int sub = (int)(c % 8), k = sub / 2, upper = sub & 1;
    int sc, mn;
    k4_scale_min(sub, s, &sc, &mn);
    const float d = f16_at(b), dmin = f16_at(b + 2);
    const float d0 = d * (float)sc, m0 = dmin * (float)mn;
    __global const uchar* qs = b + 16 + 32 * k;
    for (int i = 0; i < 32; ++i) {
      const uchar q = qs[i];
      const int nib = upper ? (q >> 4) : (q & 0x0F);
      const float dq = d0 * (float)nib;
      out[i] = dq - m0;
    }
    return;
  }
  if (fmt == FMT_Q5_K) {
    __global const uchar* b = row + (c / 8) * 176;
    const int sub = (int)(c % 8), k = sub / 2, upper = sub & 1;
    int sc, mn;
    k4_scale_min(sub, b + 4, &sc, &mn);
    const float d = f16_at(b), dmin = f16_at(b + 2);
    const float d0 = d * (float)sc, m0 = dmin * (float)mn;
    __global const uchar* qs = b + 48 + 32 * k;
    __global const uchar* qh = b + 16;
    for (int i = 0; i < 32; ++i) {
      const uchar q = qs[i];
      const int v = (upper ? (q >> 4) : (q & 0x0F)) | (((qh[i] >> sub) & 1) << 4);
      const float dq = d0 * (float)v;
      out[i] = dq - m0;
    }
    return;
  }
  // FMT_Q6_K
  __global const uchar* b = row + (c / 8) * 210;
  const int r8 = (int)(c % 8), h = r8 / 4, r = r8 % 4;
  const float d = f16_at(b + 208);
  const float ds0 = d * (float)((char)b[192 + 8 * h + 2 * r]);
  const float ds1 = d * (float)((char)b[192 + 8 * h + 1 + 2 * r]);
  __global const uchar* qlp = b + 64 * h + 32 * (r & 1);
  __global const uchar* qhp = b + 128 + 32 * h;
  for (int l = 0; l < 32; ++l) {
    const uchar ql = qlp[l];
    const int lo = r < 2 ? (ql & 0x0F) : (ql >> 4);
    const int hi = (qhp[l] >> (2 * r)) & 3;
    const int q = (lo | (hi << 4)) - 32;
    out[l] = (l < 16 ? ds0 : ds1) * (float)q;
  }
}

__kernel __attribute__((reqd_work_group_size(DEC_WG, 1, 1)))
void quant_linear_decode(__global const STORAGE(XT)* x, ulong x_off, __global const uchar* w,
                         ulong w_off, ulong row_bytes, int fmt,
                         __global const STORAGE(XT)* bias, ulong b_off, int has_bias,
                         __global STORAGE(XT)* y, ulong y_off, long T, long N, long K,
                         float alpha, int act, float act_param) {
  const long n = get_global_id(0);
  if (n >= N) return;
  __global const uchar* wrow = w + w_off + n * row_bytes;
  float acc[DEC_TMAX];
  for (int t = 0; t < DEC_TMAX; ++t) acc[t] = 0.f;
  float wv[32];
  const long nc = K / 32;
  for (long c = 0; c < nc; ++c) {
    decode32(wrow, fmt, c, wv);
    for (int t = 0; t < (int)T; ++t) {
      const ulong xr = x_off + t * K + c * 32;
      float s = acc[t];
      for (int i = 0; i < 32; ++i) s += LOAD(XT, xr + i, x) * wv[i];
      acc[t] = s;
    }
  }
  for (long k = nc * 32; k < K; ++k) {
    const float wk = decode(wrow, fmt, k);
    for (int t = 0; t < (int)T; ++t) acc[t] += LOAD(XT, x_off + t * K + k, x) * wk;
  }
  for (int t = 0; t < (int)T; ++t) {
    float v = alpha * acc[t];
    if (has_bias) v += LOAD(XT, b_off + n, bias);
    STORE(XT, activate(v, act, act_param), y_off + t * N + n, y);
  }
}
