// Prefill attention over packed sequences, f32: q[T,Hq,D], k/v[T,Hkv,D],
// cu_seqlens[B+1] i32, optional alibi slopes[Hq] -> o[T,Hq,D].
// One work-group of LOCAL_SIZE work-items per (query token, head). Keys are
// visited in chunks of LOCAL_SIZE: each work-item scores one key, then all
// fold the chunk into an online softmax (running max m, denominator l) while
// each accumulates its head dims lid, lid + LOCAL_SIZE, ... (D <= MAX_D).
#define DIMS_PER_ITEM (MAX_D / LOCAL_SIZE)

__kernel void prefill_attention_f32(__global const float* q, ulong q_off, __global const float* k,
                                    ulong k_off, __global const float* v, ulong v_off,
                                    __global const int* cu, ulong cu_off,
                                    __global const float* slopes, ulong slopes_off, int has_alibi,
                                    __global float* o, ulong o_off, int batch, int hq, int hkv,
                                    int d, float scale, int causal, int window) {
  __local float qs[MAX_D];
  __local float score[LOCAL_SIZE];
  __local float prob[LOCAL_SIZE];
  const long wg = get_group_id(0);
  const long t = wg / hq;
  const int h = (int)(wg % hq);
  const int lid = get_local_id(0);
  const int g = h / (hq / hkv);
  cu += cu_off;

  // The sequence owning token t: the largest b < batch with cu[b] <= t.
  int lo_b = 0, hi_b = batch - 1;
  while (lo_b < hi_b) {
    const int mid = (lo_b + hi_b + 1) / 2;
    if (cu[mid] <= t) lo_b = mid; else hi_b = mid - 1;
  }
  const long start = cu[lo_b];
  const long len = cu[lo_b + 1] - start;
  const long i = t - start;  // local position of the query

  long lo = 0, hi = causal ? i : len - 1;  // attended keys: [lo, hi]
  if (window > 0) lo = max(lo, i - window + 1);
  const float slope = has_alibi ? slopes[slopes_off + h] : 0.f;

  __global const float* qr = q + q_off + (t * hq + h) * d;
  for (int e = lid; e < d; e += LOCAL_SIZE) qs[e] = qr[e];
  barrier(CLK_LOCAL_MEM_FENCE);

  float acc[DIMS_PER_ITEM];
  for (int r = 0; r < DIMS_PER_ITEM; ++r) acc[r] = 0.f;
  float m = -INFINITY, l = 0.f;
  const long kv_stride = (long)hkv * d;
  __global const float* kb = k + k_off + (start * hkv + g) * d;
  __global const float* vb = v + v_off + (start * hkv + g) * d;
  for (long base = lo; base <= hi; base += LOCAL_SIZE) {
    const int n = (int)min((long)LOCAL_SIZE, hi - base + 1);
    const long j = base + lid;
    float s = -INFINITY;
    if (lid < n) {
      __global const float* kr = kb + j * kv_stride;
      float dot = 0.f;
      for (int e = 0; e < d; ++e) dot += qs[e] * kr[e];
      s = scale * dot + slope * (float)(j - i);
    }
    score[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    float cm = -INFINITY;
    for (int c = 0; c < n; ++c) cm = fmax(cm, score[c]);
    const float m_new = fmax(m, cm);
    prob[lid] = lid < n ? exp(s - m_new) : 0.f;
    barrier(CLK_LOCAL_MEM_FENCE);
    const float alpha = exp(m - m_new);  // 0 on the first chunk (m = -inf)
    l *= alpha;
    for (int r = 0; r < DIMS_PER_ITEM; ++r) acc[r] *= alpha;
    for (int c = 0; c < n; ++c) {
      const float p = prob[c];
      l += p;
      __global const float* vr = vb + (base + c) * kv_stride;
      for (int r = 0; r < DIMS_PER_ITEM; ++r) {
        const int e = lid + r * LOCAL_SIZE;
        if (e < d) acc[r] += p * vr[e];
      }
    }
    m = m_new;
    barrier(CLK_LOCAL_MEM_FENCE);  // all have read score/prob before the next chunk
  }
  __global float* orow = o + o_off + (t * hq + h) * d;
  const float inv = l > 0.f ? 1.f / l : 0.f;  // no key attended: zeros
  for (int r = 0; r < DIMS_PER_ITEM; ++r) {
    const int e = lid + r * LOCAL_SIZE;
    if (e < d) orow[e] = acc[r] * inv;
  }
}
