// Batched y[batch] = a[batch] . b[batch] (docs/ops.md "matmul"): a [M, K]
// and b [K, N] row-major per batch, y dense [batches, M, N]; one dtype DTYPE
// (f32, f16 or bf16): products and sums in f32, y rounded once. batch_off
// holds each batch's element offsets into a and b (two per batch, the
// tensors' own offsets included; broadcast batches repeat them), worked out
// by the host: one load per work-item instead of splitting the batch index.
//
// matmul_tiled (ROWS not given, WG given): a WG x WG work-group computes a
// (WG*TM) x (WG*TN) block of one batch's y, each work-item a TM x TN
// register block, with TK-deep tiles of a and b staged in local memory
// (loaded along their contiguous axes). Dim 2 of the range is the batch.
// matmul_rows (ROWS given): M <= ROWS; one work-item per (column n, batch)
// keeps M sums, so neighbouring work-items read neighbouring columns of b.
// matmul_widen / matmul_narrow: f16 / bf16 operands to f32 scratch for
// CLBlast's SGEMM and its f32 product rounded back into y.
#include "common/kernels/dtype.cl"

#ifdef WG
#define BM (WG * TM)
#define BN (WG * TN)
#define NT (WG * WG)

__kernel __attribute__((reqd_work_group_size(WG, WG, 1)))
void matmul_tiled(__global const STORAGE(DTYPE)* a, __global const STORAGE(DTYPE)* b,
                  __global STORAGE(DTYPE)* y, ulong y_off, __global const long* batch_off,
                  long M, long N, long K) {
  __local float a_tile[TK][BM + 1];
  __local float b_tile[TK][BN + 1];
  const long batch = get_global_id(2);
  const long a_off = batch_off[2 * batch], b_off = batch_off[2 * batch + 1];
  const int lx = get_local_id(0), ly = get_local_id(1);
  const int lid = ly * WG + lx;
  const long row0 = (long)get_group_id(1) * BM, col0 = (long)get_group_id(0) * BN;
  float acc[TM][TN];
  for (int i = 0; i < TM; ++i)
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  for (long k0 = 0; k0 < K; k0 += TK) {
    for (int e = lid; e < BM * TK; e += NT) {  // a[m, k]: k is contiguous
      const int c = e % TK, r = e / TK;
      const long gr = row0 + r, gk = k0 + c;
      a_tile[c][r] = (gr < M && gk < K) ? LOAD(DTYPE, a_off + gr * K + gk, a) : 0.f;
    }
    for (int e = lid; e < BN * TK; e += NT) {  // b[k, n]: n is contiguous
      const int n = e % BN, c = e / BN;
      const long gn = col0 + n, gk = k0 + c;
      b_tile[c][n] = (gn < N && gk < K) ? LOAD(DTYPE, b_off + gk * N + gn, b) : 0.f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int kk = 0; kk < TK; ++kk) {
      float av[TM], bv[TN];
      for (int i = 0; i < TM; ++i) av[i] = a_tile[kk][ly + i * WG];
      for (int j = 0; j < TN; ++j) bv[j] = b_tile[kk][lx + j * WG];
      for (int i = 0; i < TM; ++i)
        for (int j = 0; j < TN; ++j) acc[i][j] = mad(av[i], bv[j], acc[i][j]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }

  for (int i = 0; i < TM; ++i) {
    const long r = row0 + ly + i * WG;
    if (r >= M) break;
    for (int j = 0; j < TN; ++j) {
      const long c = col0 + lx + j * WG;
      if (c < N) STORE(DTYPE, acc[i][j], y_off + (batch * M + r) * N + c, y);
    }
  }
}
#endif  // WG

#ifdef ROWS
__kernel void matmul_rows(__global const STORAGE(DTYPE)* a, __global const STORAGE(DTYPE)* b,
                          __global STORAGE(DTYPE)* y, ulong y_off,
                          __global const long* batch_off, long M, long N, long K, long batches) {
  const long n = get_global_id(0), batch = get_global_id(1);
  if (n >= N || batch >= batches) return;
  const long a_off = batch_off[2 * batch], b_off = batch_off[2 * batch + 1];
  float acc[ROWS];
  for (int m = 0; m < ROWS; ++m) acc[m] = 0.f;
  for (long k = 0; k < K; ++k) {
    const float bv = LOAD(DTYPE, b_off + k * N + n, b);
    for (int m = 0; m < ROWS; ++m)
      if (m < M) acc[m] = mad(LOAD(DTYPE, a_off + m * K + k, a), bv, acc[m]);
  }
  for (int m = 0; m < ROWS; ++m) {
    if (m >= M) break;
    STORE(DTYPE, acc[m], y_off + (batch * M + m) * N + n, y);
  }
}
#endif  // ROWS

__kernel void matmul_widen(__global const STORAGE(DTYPE)* src, ulong src_off, __global float* dst,
                           long n) {
  const long i = get_global_id(0);
  if (i < n) dst[i] = LOAD(DTYPE, src_off + i, src);
}

__kernel void matmul_narrow(__global const float* src, __global STORAGE(DTYPE)* dst, ulong dst_off,
                            long n) {
  const long i = get_global_id(0);
  if (i < n) STORE(DTYPE, src[i], dst_off + i, dst);
}
