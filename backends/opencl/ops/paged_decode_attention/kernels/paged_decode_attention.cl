// Paged decode attention, f32: q[B,Hq,D], k/v cache [num_blocks, block_size,
// Hkv, D], block_table[B, max_blocks] i32, context_lens[B] i32, optional
// alibi slopes[Hq] -> o[B,Hq,D]. The query sits at position L-1 and attends
// keys [0, L) (the last `window` of them when window > 0); L = 0 gives zeros.
// One work-group of LOCAL_SIZE work-items per (sequence, head). Keys are
// visited in chunks of LOCAL_SIZE: each work-item scores one key (looked up
// through the block table), then all fold the chunk into an online softmax
// while each accumulates its head dims lid, lid + LOCAL_SIZE, ... (D <= MAX_D).
// Indices the host does not check stay safe here: a context length outside
// [0, max_blocks * block_size] gives zeros, a block id outside
// [0, num_blocks) drops that key.
#define DIMS_PER_ITEM (MAX_D / LOCAL_SIZE)

__kernel void paged_decode_attention_f32(
    __global const float* q, ulong q_off, __global const float* kc, ulong kc_off,
    __global const float* vc, ulong vc_off, __global const int* table, ulong table_off,
    __global const int* lens, ulong lens_off, __global const float* slopes, ulong slopes_off,
    int has_alibi, __global float* o, ulong o_off, int hq, int hkv, int d, int block_size,
    int max_blocks, long num_blocks, float scale, int window) {
  __local float qs[MAX_D];
  __local float score[LOCAL_SIZE];
  __local float prob[LOCAL_SIZE];
  __local long row_of[LOCAL_SIZE];  // cache row (block * block_size + offset), -1: dropped
  const long wg = get_group_id(0);
  const long b = wg / hq;
  const int h = (int)(wg % hq);
  const int lid = get_local_id(0);
  const int g = h / (hq / hkv);

  long len = lens[lens_off + b];
  if (len < 0 || len > (long)max_blocks * block_size) len = 0;
  long lo = 0;
  const long hi = len - 1;  // attended keys: [lo, hi]
  if (window > 0) lo = max(lo, len - window);
  const float slope = has_alibi ? slopes[slopes_off + h] : 0.f;
  __global const int* tb = table + table_off + b * max_blocks;

  __global const float* qr = q + q_off + (b * hq + h) * d;
  for (int e = lid; e < d; e += LOCAL_SIZE) qs[e] = qr[e];
  barrier(CLK_LOCAL_MEM_FENCE);

  float acc[DIMS_PER_ITEM];
  for (int r = 0; r < DIMS_PER_ITEM; ++r) acc[r] = 0.f;
  float m = -INFINITY, l = 0.f;
  __global const float* kb = kc + kc_off + (long)g * d;
  __global const float* vb = vc + vc_off + (long)g * d;
  const long row_stride = (long)hkv * d;
  for (long base = lo; base <= hi; base += LOCAL_SIZE) {
    const int n = (int)min((long)LOCAL_SIZE, hi - base + 1);
    const long j = base + lid;
    float s = -INFINITY;
    long row = -1;
    if (lid < n) {
      const long block = tb[j / block_size];
      if (block >= 0 && block < num_blocks) {
        row = block * block_size + j % block_size;
        __global const float* kr = kb + row * row_stride;
        float dot = 0.f;
        for (int e = 0; e < d; ++e) dot += qs[e] * kr[e];
        s = scale * dot + slope * (float)(j - hi);
      }
    }
    score[lid] = s;
    row_of[lid] = row;
    barrier(CLK_LOCAL_MEM_FENCE);
    float cm = -INFINITY;
    for (int c = 0; c < n; ++c) cm = fmax(cm, score[c]);
    const float m_new = fmax(m, cm);
    prob[lid] = (row >= 0 && m_new > -INFINITY) ? exp(s - m_new) : 0.f;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (m_new > -INFINITY) {  // else every key so far was dropped
      const float alpha = exp(m - m_new);  // 0 while m = -inf
      l *= alpha;
      for (int r = 0; r < DIMS_PER_ITEM; ++r) acc[r] *= alpha;
      for (int c = 0; c < n; ++c) {
        if (row_of[c] < 0) continue;
        const float p = prob[c];
        l += p;
        __global const float* vr = vb + row_of[c] * row_stride;
        for (int r = 0; r < DIMS_PER_ITEM; ++r) {
          const int e = lid + r * LOCAL_SIZE;
          if (e < d) acc[r] += p * vr[e];
        }
      }
      m = m_new;
    }
    barrier(CLK_LOCAL_MEM_FENCE);  // all have read the chunk before the next one
  }
  __global float* orow = o + o_off + (b * hq + h) * d;
  const float inv = l > 0.f ? 1.f / l : 0.f;  // nothing attended: zeros
  for (int r = 0; r < DIMS_PER_ITEM; ++r) {
    const int e = lid + r * LOCAL_SIZE;
    if (e < d) orow[e] = acc[r] * inv;
  }
}
