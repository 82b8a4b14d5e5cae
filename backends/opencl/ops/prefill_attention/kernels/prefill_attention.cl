// Prefill attention over packed sequences: q[T,Hq,D], k/v[T,Hkv,D],
// cu_seqlens[B+1] i32, optional alibi slopes[Hq] f32 -> o[T,Hq,D]. q, k, v, o
// share one dtype DTYPE (f32, f16 or bf16); scores, softmax and accumulators
// are f32, o is rounded once.
//
// One work-group of LOCAL_SIZE work-items per (block of QPB consecutive
// tokens, kv head g, chunk of GH query heads of g's group); work-item r owns
// the row (token t0 + r / GH, head g * G + hc * GH + r % GH) and keeps its
// query, accumulators, running max m and denominator l in private memory.
// Keys are visited in tiles of TILE rows: the work-group copies the K and V
// tile of kv head g into local memory once and every row of the block scores
// and accumulates it (tile-wise online softmax). Tiles come from the union of
// the block's attended key ranges (tokens are global indices, so a block may
// span sequences: each row only takes keys of its own sequence in its own
// range [klo, khi]); tiles outside it, e.g. past the causal diagonal, are
// never loaded.
// HEAD_D (the head dim) is a build option; rows are padded to DV float4s.
#define DV ((HEAD_D + 3) / 4)
#include "common/kernels/dtype.cl"

// Global index of the first key sequence-local token t attends, and of the
// last; binary search for t's sequence (the largest b < batch, cu[b] <= t).
inline void key_range(__global const int* cu, int batch, long t, int causal, int window,
                      long* klo, long* khi) {
  int lo_b = 0, hi_b = batch - 1;
  while (lo_b < hi_b) {
    const int mid = (lo_b + hi_b + 1) / 2;
    if (cu[mid] <= t) lo_b = mid; else hi_b = mid - 1;
  }
  const long start = cu[lo_b], end = cu[lo_b + 1];
  long lo = start;
  const long hi = causal ? t : end - 1;
  if (window > 0) lo = max(lo, t - window + 1);
  *klo = lo;
  *khi = hi;
}

__kernel void prefill_attention(__global const STORAGE(DTYPE)* q, ulong q_off,
                                __global const STORAGE(DTYPE)* k, ulong k_off,
                                __global const STORAGE(DTYPE)* v, ulong v_off,
                                __global const int* cu, ulong cu_off,
                                __global const float* slopes, ulong slopes_off, int has_alibi,
                                __global STORAGE(DTYPE)* o, ulong o_off, long tokens, int batch,
                                int hq, int hkv, float scale, int causal, int window, int gh,
                                int nhc, int qpb) {
  __local float4 ks[TILE * DV];
  __local float4 vs[TILE * DV];
  const int lid = get_local_id(0);
  const long wg = get_group_id(0);
  const int hc = (int)(wg % nhc);
  const int g = (int)((wg / nhc) % hkv);
  const long qb = wg / ((long)nhc * hkv);
  const int group = hq / hkv;
  cu += cu_off;

  const long t0 = qb * qpb;
  const long t_last = min(t0 + qpb, tokens) - 1;
  const int hr = lid % gh;
  const long t = t0 + lid / gh;
  const int h = g * group + hc * gh + hr;
  const bool live = lid < qpb * gh && t <= t_last && hc * gh + hr < group;

  // The block's key span: klo and khi do not decrease with t.
  long span_lo, span_hi, dummy;
  key_range(cu, batch, t0, causal, window, &span_lo, &dummy);
  key_range(cu, batch, t_last, causal, window, &dummy, &span_hi);

  long klo = 1, khi = 0;  // empty unless live
  float4 qv[DV], acc[DV];
  float m = -INFINITY, l = 0.f, slope = 0.f;
  for (int e = 0; e < DV; ++e) {
    qv[e] = (float4)(0.f);
    acc[e] = (float4)(0.f);
  }
  if (live) {
    key_range(cu, batch, t, causal, window, &klo, &khi);
    slope = has_alibi ? slopes[slopes_off + h] : 0.f;
    __global const STORAGE(DTYPE)* qr = q + q_off + (t * hq + h) * HEAD_D;
    for (int e = 0; e < DV; ++e) {
      float4 x;
      x.s0 = LOAD(DTYPE, 4 * e, qr);
      x.s1 = 4 * e + 1 < HEAD_D ? LOAD(DTYPE, 4 * e + 1, qr) : 0.f;
      x.s2 = 4 * e + 2 < HEAD_D ? LOAD(DTYPE, 4 * e + 2, qr) : 0.f;
      x.s3 = 4 * e + 3 < HEAD_D ? LOAD(DTYPE, 4 * e + 3, qr) : 0.f;
      qv[e] = x * scale;
    }
  }

  const long kv_stride = (long)hkv * HEAD_D;
  __global const STORAGE(DTYPE)* kb = k + k_off + (long)g * HEAD_D;
  __global const STORAGE(DTYPE)* vb = v + v_off + (long)g * HEAD_D;
  __local float* ksf = (__local float*)ks;
  __local float* vsf = (__local float*)vs;
  for (long base = span_lo; base <= span_hi; base += TILE) {
    const int n = (int)min((long)TILE, span_hi - base + 1);
    barrier(CLK_LOCAL_MEM_FENCE);  // everyone is done with the previous tile
    for (int x = lid; x < n * DV * 4; x += LOCAL_SIZE) {
      const int c = x / (DV * 4), e = x % (DV * 4);
      const long off = (base + c) * kv_stride + e;
      ksf[x] = e < HEAD_D ? LOAD(DTYPE, off, kb) : 0.f;
      vsf[x] = e < HEAD_D ? LOAD(DTYPE, off, vb) : 0.f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const int c0 = (int)max(0L, klo - base), c1 = (int)min((long)n - 1, khi - base);
    if (c0 <= c1) {
    float s[TILE];
    float cm = -INFINITY;
    for (int c = c0; c <= c1; ++c) {
      float4 dot4 = (float4)(0.f);
      for (int e = 0; e < DV; ++e) dot4 = fma(qv[e], ks[c * DV + e], dot4);
      const float sc = (dot4.s0 + dot4.s1) + (dot4.s2 + dot4.s3) +
                       slope * (float)(base + c - t);
      s[c] = sc;
      cm = fmax(cm, sc);
    }
    const float m_new = fmax(m, cm);
    const float alpha = exp(m - m_new);  // 0 on the first tile (m = -inf)
    l *= alpha;
    for (int e = 0; e < DV; ++e) acc[e] *= alpha;
    for (int c = c0; c <= c1; ++c) {
      const float p = exp(s[c] - m_new);
      l += p;
      for (int e = 0; e < DV; ++e) acc[e] = fma((float4)(p), vs[c * DV + e], acc[e]);
    }
    m = m_new;
    }
  }
  if (live) {
    __global STORAGE(DTYPE)* orow = o + o_off + (t * hq + h) * HEAD_D;
    const float inv = l > 0.f ? 1.f / l : 0.f;  // no key attended: zeros
    for (int e = 0; e < DV; ++e) {
      const float4 y = acc[e] * inv;
      STORE(DTYPE, y.s0, 4 * e, orow);
      if (4 * e + 1 < HEAD_D) STORE(DTYPE, y.s1, 4 * e + 1, orow);
      if (4 * e + 2 < HEAD_D) STORE(DTYPE, y.s2, 4 * e + 2, orow);
      if (4 * e + 3 < HEAD_D) STORE(DTYPE, y.s3, 4 * e + 3, orow);
    }
  }
}
