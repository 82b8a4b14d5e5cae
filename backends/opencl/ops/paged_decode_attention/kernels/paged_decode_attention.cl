// Paged decode attention: q[B,Hq,D], k/v cache [num_blocks, block_size, Hkv,
// D], block_table[B, max_blocks] i32, context_lens[B] i32, optional alibi
// slopes[Hq] f32 -> o[B,Hq,D]. q and o have dtype Q_DTYPE, the caches
// CACHE_DTYPE (each f32, f16 or bf16, independently); scores, softmax and
// accumulators are f32, o is rounded once. The query sits at position L-1
// and attends keys [0, L) (the last `window` of them when window > 0); L = 0
// gives zeros.
//
// One work-group of LOCAL_SIZE work-items per (sequence, kv head g, chunk of
// GH query heads of g's group). Work-item w takes keys lo + w, lo + w +
// LOCAL_SIZE, ...: it reads each of its K and V cache rows once (float4 along
// D) and scores and accumulates it for all GH heads, each with its own online
// softmax (m, l, acc) in private memory. The work-items' partial results are
// then merged head by head through local memory.
// HEAD_D (the head dim), GH and the dtypes are build options; rows are
// padded to DV float4s.
// Indices the host does not check stay safe here: a context length outside
// [0, max_blocks * block_size] gives zeros, a block id outside
// [0, num_blocks) drops that key.
#include "common/kernels/dtype.cl"

#define DV ((HEAD_D + 3) / 4)
#define FULL_DV (HEAD_D / 4)

// Elements [4e, 4e + 4) of a row of dtype dt as a float4: LOAD4 for e <
// FULL_DV, this for the last, partial one (zeros past HEAD_D).
#define LOAD_TAIL(dt, e, row)                                        \
  ((float4)(LOAD(dt, 4 * (e), row),                                  \
            4 * (e) + 1 < HEAD_D ? LOAD(dt, 4 * (e) + 1, row) : 0.f, \
            4 * (e) + 2 < HEAD_D ? LOAD(dt, 4 * (e) + 2, row) : 0.f, \
            4 * (e) + 3 < HEAD_D ? LOAD(dt, 4 * (e) + 3, row) : 0.f))

__kernel void paged_decode_attention(
    __global const STORAGE(Q_DTYPE)* q, ulong q_off, __global const STORAGE(CACHE_DTYPE)* kc,
    ulong kc_off, __global const STORAGE(CACHE_DTYPE)* vc, ulong vc_off, __global const int* table,
    ulong table_off, __global const int* lens, ulong lens_off, __global const float* slopes,
    ulong slopes_off, int has_alibi, __global STORAGE(Q_DTYPE)* o, ulong o_off, int hq, int hkv,
    int block_size, int max_blocks, long num_blocks, float scale, int window, int nhc) {
  __local float4 part[LOCAL_SIZE * DV];
  __local float pm[LOCAL_SIZE];
  __local float pl[LOCAL_SIZE];
  const int lid = get_local_id(0);
  const long wg = get_group_id(0);
  const int hc = (int)(wg % nhc);
  const int g = (int)((wg / nhc) % hkv);
  const long b = wg / ((long)nhc * hkv);
  const int group = hq / hkv;
  const int h0 = g * group + hc * GH;
  const int nh = min(GH, group - hc * GH);  // heads of this chunk

  long len = lens[lens_off + b];
  if (len < 0 || len > (long)max_blocks * block_size) len = 0;
  long lo = 0;
  const long hi = len - 1;  // attended keys: [lo, hi]
  if (window > 0) lo = max(lo, len - window);
  __global const int* tb = table + table_off + b * max_blocks;

  float4 qv[GH][DV], acc[GH][DV];
  float m[GH], l[GH], slope[GH];
  for (int r = 0; r < GH; ++r) {
    const int h = h0 + min(r, nh - 1);
    __global const STORAGE(Q_DTYPE)* qr = q + q_off + (b * hq + h) * HEAD_D;
    for (int e = 0; e < FULL_DV; ++e) qv[r][e] = LOAD4(Q_DTYPE, e, qr) * scale;
    for (int e = FULL_DV; e < DV; ++e) qv[r][e] = LOAD_TAIL(Q_DTYPE, e, qr) * scale;
    for (int e = 0; e < DV; ++e) acc[r][e] = (float4)(0.f);
    m[r] = -INFINITY;
    l[r] = 0.f;
    slope[r] = has_alibi ? slopes[slopes_off + h] : 0.f;
  }

  const long row_stride = (long)hkv * HEAD_D;
  __global const STORAGE(CACHE_DTYPE)* kb = kc + kc_off + (long)g * HEAD_D;
  __global const STORAGE(CACHE_DTYPE)* vb = vc + vc_off + (long)g * HEAD_D;
  for (long j = lo + lid; j <= hi; j += LOCAL_SIZE) {
    const long block = tb[j / block_size];
    if (block < 0 || block >= num_blocks) continue;  // dropped key
    const long row = block * block_size + j % block_size;
    __global const STORAGE(CACHE_DTYPE)* kr = kb + row * row_stride;
    __global const STORAGE(CACHE_DTYPE)* vr = vb + row * row_stride;
    float4 kv[DV];
    for (int e = 0; e < FULL_DV; ++e) kv[e] = LOAD4(CACHE_DTYPE, e, kr);
    for (int e = FULL_DV; e < DV; ++e) kv[e] = LOAD_TAIL(CACHE_DTYPE, e, kr);
    float p[GH];
    for (int r = 0; r < GH; ++r) {
      float4 d4 = (float4)(0.f);
      for (int e = 0; e < DV; ++e) d4 = fma(qv[r][e], kv[e], d4);
      const float s = (d4.s0 + d4.s1) + (d4.s2 + d4.s3) + slope[r] * (float)(j - hi);
      if (s > m[r]) {
        const float alpha = exp(m[r] - s);  // 0 while m = -inf
        l[r] *= alpha;
        for (int e = 0; e < DV; ++e) acc[r][e] *= alpha;
        m[r] = s;
      }
      p[r] = exp(s - m[r]);
      l[r] += p[r];
    }
    for (int e = 0; e < FULL_DV; ++e) kv[e] = LOAD4(CACHE_DTYPE, e, vr);
    for (int e = FULL_DV; e < DV; ++e) kv[e] = LOAD_TAIL(CACHE_DTYPE, e, vr);
    for (int r = 0; r < GH; ++r)
      for (int e = 0; e < DV; ++e) acc[r][e] = fma((float4)(p[r]), kv[e], acc[r][e]);
  }

  // Merge the work-items' partials, one head at a time: work-item w then owns
  // float4 columns w, w + LOCAL_SIZE, ... of the head's output row.
  for (int r = 0; r < GH; ++r) {
    barrier(CLK_LOCAL_MEM_FENCE);
    pm[lid] = m[r];
    pl[lid] = l[r];
    for (int e = 0; e < DV; ++e) part[lid * DV + e] = acc[r][e];
    barrier(CLK_LOCAL_MEM_FENCE);
    if (r < nh) {
      float mx = -INFINITY;
      for (int w = 0; w < LOCAL_SIZE; ++w) mx = fmax(mx, pm[w]);
      float den = 0.f;
      for (int w = 0; w < LOCAL_SIZE; ++w)
        if (pl[w] > 0.f) den += pl[w] * exp(pm[w] - mx);
      const float inv = den > 0.f ? 1.f / den : 0.f;  // nothing attended: zeros
      __global STORAGE(Q_DTYPE)* orow = o + o_off + (b * hq + h0 + r) * HEAD_D;
      for (int e = lid; e < DV; e += LOCAL_SIZE) {
        float4 y = (float4)(0.f);
        for (int w = 0; w < LOCAL_SIZE; ++w)
          if (pl[w] > 0.f) y = fma((float4)(exp(pm[w] - mx)), part[w * DV + e], y);
        y *= inv;
        STORE(Q_DTYPE, y.s0, 4 * e, orow);
        if (4 * e + 1 < HEAD_D) STORE(Q_DTYPE, y.s1, 4 * e + 1, orow);
        if (4 * e + 2 < HEAD_D) STORE(Q_DTYPE, y.s2, 4 * e + 2, orow);
        if (4 * e + 3 < HEAD_D) STORE(Q_DTYPE, y.s3, 4 * e + 3, orow);
      }
    }
  }
}
