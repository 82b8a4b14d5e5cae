// y[t, n] = act(alpha * sum_k A[t, k] * B[k, n] + bias[n]); x, w, bias, y
// share one dtype DTYPE (f32, f16 or bf16): products and sums in f32, y
// rounded once. A = x[T, K], or x stored [K, T] (TRANS_A); B = w stored
// [N, K] read transposed (TRANS_B), or w stored [K, N].
//
// linear (GEMM): a WG x WG work-group computes a (WG*TM) x (WG*TN) block
// of y; each work-item keeps a TM x TN register block (rows ly + i*WG, columns
// lx + j*WG, so neighbouring work-items touch neighbouring columns). Per step
// of TK along K the group stages A and B tiles in local memory, loading along
// whichever axis is contiguous in global memory.
// linear_rows (few rows, decode): one work-item per column n, the K loop
// over float4 when K and the offsets allow; every row of A per work-item.
// linear_epilogue: bias and activation on CLBlast's f32 GEMM result (alpha
// already applied), stored to y in DTYPE; in place when y is that f32 buffer.
// linear_widen: an f16 / bf16 operand widened to an f32 scratch for CLBlast's
// SGEMM (exact).
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

#ifdef WG
#define BM (WG * TM)
#define BN (WG * TN)
#define NT (WG * WG)

__kernel __attribute__((reqd_work_group_size(WG, WG, 1)))
void linear(__global const STORAGE(DTYPE)* x, ulong x_off, __global const STORAGE(DTYPE)* w,
            ulong w_off, __global const STORAGE(DTYPE)* bias, ulong b_off, int has_bias,
            __global STORAGE(DTYPE)* y, ulong y_off, long T, long N, long K, float alpha, int act,
            float act_param) {
  __local float a_tile[TK][BM + 1];
  __local float b_tile[TK][BN + 1];
  x += x_off;
  w += w_off;
  const int lx = get_local_id(0), ly = get_local_id(1);
  const int lid = ly * WG + lx;
  const long row0 = (long)get_group_id(1) * BM, col0 = (long)get_group_id(0) * BN;
  float acc[TM][TN];
  for (int i = 0; i < TM; ++i)
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  for (long k0 = 0; k0 < K; k0 += TK) {
    for (int e = lid; e < BM * TK; e += NT) {
#if TRANS_A  // x[K, T]: rows of the tile are contiguous
      const int r = e % BM, c = e / BM;
      const long gr = row0 + r, gk = k0 + c;
      a_tile[c][r] = (gr < T && gk < K) ? LOAD(DTYPE, gk * T + gr, x) : 0.f;
#else        // x[T, K]: k is contiguous
      const int c = e % TK, r = e / TK;
      const long gr = row0 + r, gk = k0 + c;
      a_tile[c][r] = (gr < T && gk < K) ? LOAD(DTYPE, gr * K + gk, x) : 0.f;
#endif
    }
    for (int e = lid; e < BN * TK; e += NT) {
#if TRANS_B  // w[N, K]: k is contiguous
      const int c = e % TK, n = e / TK;
      const long gn = col0 + n, gk = k0 + c;
      b_tile[c][n] = (gn < N && gk < K) ? LOAD(DTYPE, gn * K + gk, w) : 0.f;
#else        // w[K, N]: n is contiguous
      const int n = e % BN, c = e / BN;
      const long gn = col0 + n, gk = k0 + c;
      b_tile[c][n] = (gn < N && gk < K) ? LOAD(DTYPE, gk * N + gn, w) : 0.f;
#endif
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int kk = 0; kk < TK; ++kk) {
      float a[TM], b[TN];
      for (int i = 0; i < TM; ++i) a[i] = a_tile[kk][ly + i * WG];
      for (int j = 0; j < TN; ++j) b[j] = b_tile[kk][lx + j * WG];
      for (int i = 0; i < TM; ++i)
        for (int j = 0; j < TN; ++j) acc[i][j] = mad(a[i], b[j], acc[i][j]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }

  for (int i = 0; i < TM; ++i) {
    const long r = row0 + ly + i * WG;
    if (r >= T) break;
    for (int j = 0; j < TN; ++j) {
      const long c = col0 + lx + j * WG;
      if (c < N) {
        float v = alpha * acc[i][j];
        if (has_bias) v += LOAD(DTYPE, b_off + c, bias);
        STORE(DTYPE, activate(v, act, act_param), y_off + r * N + c, y);
      }
    }
  }
}
#endif  // WG

#ifdef ROWS
// T <= ROWS rows of x (no trans_a), w stored [N, K] (trans_b) or [K, N].
__kernel void linear_rows(__global const STORAGE(DTYPE)* x, ulong x_off,
                          __global const STORAGE(DTYPE)* w, ulong w_off,
                          __global const STORAGE(DTYPE)* bias, ulong b_off, int has_bias,
                          __global STORAGE(DTYPE)* y, ulong y_off, long T, long N, long K,
                          float alpha, int act, float act_param) {
  const long n = get_global_id(0);
  if (n >= N) return;
  x += x_off;
  w += w_off;
  float acc[ROWS];
  for (int t = 0; t < ROWS; ++t) acc[t] = 0.f;
#if TRANS_B
  __global const STORAGE(DTYPE)* wr = w + n * K;
#if VEC4  // K % 4 == 0 and x, w offsets multiples of 4 elements
  for (long k = 0; k < K; k += 4) {
    const float4 wv = LOAD4(DTYPE, 0, wr + k);
    for (int t = 0; t < ROWS; ++t)
      if (t < T) {
        const float4 p = LOAD4(DTYPE, 0, x + t * K + k) * wv;
        acc[t] += (p.x + p.y) + (p.z + p.w);
      }
  }
#else
  for (long k = 0; k < K; ++k) {
    const float wv = LOAD(DTYPE, k, wr);
    for (int t = 0; t < ROWS; ++t)
      if (t < T) acc[t] = mad(LOAD(DTYPE, t * K + k, x), wv, acc[t]);
  }
#endif
#else
  for (long k = 0; k < K; ++k) {
    const float wv = LOAD(DTYPE, k * N + n, w);
    for (int t = 0; t < ROWS; ++t)
      if (t < T) acc[t] = mad(LOAD(DTYPE, t * K + k, x), wv, acc[t]);
  }
#endif
  for (int t = 0; t < ROWS; ++t) {
    if (t >= T) break;
    float v = alpha * acc[t];
    if (has_bias) v += LOAD(DTYPE, b_off + n, bias);
    STORE(DTYPE, activate(v, act, act_param), y_off + t * N + n, y);
  }
}
#endif  // ROWS

__kernel void linear_epilogue(__global const float* acc, ulong acc_off,
                              __global const STORAGE(DTYPE)* bias, ulong b_off, int has_bias,
                              __global STORAGE(DTYPE)* y, ulong y_off, long total, long N, int act,
                              float act_param) {
  const long i = get_global_id(0);
  if (i >= total) return;
  float v = acc[acc_off + i];
  if (has_bias) v += LOAD(DTYPE, b_off + i % N, bias);
  STORE(DTYPE, activate(v, act, act_param), y_off + i, y);
}

// 8 elements per work-item (vector loads need only element alignment), a
// scalar tail in the last work-item.
__kernel void linear_widen(__global const STORAGE(DTYPE)* src, ulong src_off, __global float* dst,
                           long n) {
  const long c = get_global_id(0) * 8;
  if (c >= n) return;
  src += src_off;
  if (c + 8 <= n) {
    vstore8(LOAD8(DTYPE, 0, src + c), 0, dst + c);
  } else {
    for (long i = c; i < n; ++i) dst[i] = LOAD(DTYPE, i, src);
  }
}
