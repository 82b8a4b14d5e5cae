// y[t, n] = act(alpha * sum_k A[t, k] * B[k, n] + bias[n]), f32, tiled:
// each TILE x TILE work-group stages a tile of A and of B in local memory per
// step of TILE along K. A = x[T, K], or x stored [K, T] (trans_a); B = w
// stored [N, K] read transposed (trans_b), or w stored [K, N].
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

__kernel __attribute__((reqd_work_group_size(TILE, TILE, 1)))
void linear_f32(__global const float* x, ulong x_off, __global const float* w, ulong w_off,
                __global const float* bias, ulong b_off, int has_bias, __global float* y,
                ulong y_off, long T, long N, long K, int trans_a, int trans_b, float alpha,
                int act, float act_param) {
  __local float a_tile[TILE][TILE];
  __local float b_tile[TILE][TILE + 1];  // +1: no bank conflicts on column reads
  const int lx = get_local_id(0), ly = get_local_id(1);
  const long col = get_global_id(0), row = get_global_id(1);
  float acc = 0.f;
  for (long k0 = 0; k0 < K; k0 += TILE) {
    const long ka = k0 + lx, kb = k0 + ly;
    a_tile[ly][lx] = (row < T && ka < K)
                         ? (trans_a ? x[x_off + ka * T + row] : x[x_off + row * K + ka]) : 0.f;
    b_tile[ly][lx] = (kb < K && col < N)
                         ? (trans_b ? w[w_off + col * K + kb] : w[w_off + kb * N + col]) : 0.f;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int kk = 0; kk < TILE; ++kk) acc += a_tile[ly][kk] * b_tile[kk][lx];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (row < T && col < N) {
    float v = alpha * acc;
    if (has_bias) v += bias[b_off + col];
    y[y_off + row * N + col] = activate(v, act, act_param);
  }
}
