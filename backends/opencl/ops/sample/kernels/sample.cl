// sample: one work-group of WG work-items per row b (docs/ops.md "sample",
// mirroring src/ops/reference/op_sample.cpp operation for operation).
// logits have dtype DTYPE (f32, f16 or bf16), widened to f32 exactly as the
// reference reads them. vals/idx are a global scratch of P entries per row:
// the row's logits (NaN as -inf, repetition penalty applied) and their token
// ids.
//  - greedy (temperature <= 0): a local-memory argmax reduction, the lowest
//    index winning ties;
//  - otherwise (needs cl_khr_fp64, HAS_FP64): l /= temperature, a bitonic
//    sort of the P (a power of two, padded with -inf / ids >= V) entries in
//    global memory by (logit descending, id ascending) - the order of the
//    reference's stable sort; then kernel sample_pick_f64, one work-item per
//    row, runs softmax (e in double, prob in f32), top_p, min_p and the pick
//    exactly as the reference does. (That sequential part is a kernel of its
//    own: inside the barrier kernel PoCL's optimiser miscompiled it.)
#pragma OPENCL FP_CONTRACT OFF
#ifdef HAS_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#include "common/kernels/dtype.cl"

// (va, ia) ranks before (vc, ic): larger logit first, lower id on ties.
bool before(float va, int ia, float vc, int ic) { return va > vc || (va == vc && ia < ic); }

#ifdef HAS_FP64
// uniform(seed, b) of docs/ops.md: splitmix64's mixer, top 24 bits.
double uniform01(ulong seed, long b) {
  ulong z = seed + 0x9E3779B97F4A7C15UL * (ulong)(b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
  z ^= z >> 31;
  return (double)(z >> 40) * 5.9604644775390625e-8;  // 2^-24
}

bool kept_by_min_p(float prob, float p0, float min_p, long n) {
  return n == 0 || !(min_p > 0.f && prob < min_p * p0);
}
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void sample(__global const STORAGE(DTYPE)* logits, ulong l_off, long V, __global const int* prev,
            ulong p_off, long L, float temperature, float penalty, __global float* vals,
            __global int* idx, long P, __global int* ids, ulong ids_off) {
  __local float best_v[WG];
  __local int best_i[WG];
  const long b = get_group_id(0);
  const int lid = get_local_id(0);
  __global float* lv = vals + b * P;
  __global int* li = idx + b * P;
  __global const STORAGE(DTYPE)* src = logits + l_off + b * V;

  // 0. copy, NaN ranking below every logit.
  for (long i = lid; i < P; i += WG) {
    float v = -INFINITY;
    if (i < V) {
      v = LOAD(DTYPE, i, src);
      if (isnan(v)) v = -INFINITY;
    }
    lv[i] = v;
    li[i] = (int)i;
  }
  barrier(CLK_GLOBAL_MEM_FENCE);

  // 1. repetition penalty, once per distinct token (ids checked on the host).
  if (penalty != 1.f && L > 0) {
    if (lid == 0) {
      __global const int* pr = prev + p_off + b * L;
      for (long j = 0; j < L; ++j) {
        const int t = pr[j];
        if (t < 0) continue;
        bool seen = false;
        for (long j2 = 0; j2 < j && !seen; ++j2) seen = pr[j2] == t;
        if (seen) continue;
        const float v = lv[t];
        lv[t] = v > 0.f ? v / penalty : v * penalty;
      }
    }
    barrier(CLK_GLOBAL_MEM_FENCE);
  }

  // 2. greedy: the first maximum.
  if (temperature <= 0.f) {
    float bv = -INFINITY;
    int bi = -1;
    for (long i = lid; i < V; i += WG) {
      const float v = lv[i];
      if (bi < 0 || v > bv) {
        bv = v;
        bi = (int)i;
      }
    }
    best_v[lid] = bv;
    best_i[lid] = bi;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = WG / 2; s > 0; s >>= 1) {
      if (lid < s) {
        const int oi = best_i[lid + s], mi = best_i[lid];
        if (oi >= 0 && (mi < 0 || before(best_v[lid + s], oi, best_v[lid], mi))) {
          best_v[lid] = best_v[lid + s];
          best_i[lid] = oi;
        }
      }
      barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) ids[ids_off + b] = best_i[0];
    return;
  }

#ifdef HAS_FP64
  // 3. temperature, then sort by (logit desc, id asc).
  for (long i = lid; i < V; i += WG) lv[i] = lv[i] / temperature;
  barrier(CLK_GLOBAL_MEM_FENCE);
  for (long size = 2; size <= P; size <<= 1) {
    for (long stride = size / 2; stride > 0; stride >>= 1) {
      for (long i = lid; i < P / 2; i += WG) {
        const long lo = 2 * stride * (i / stride) + (i % stride), hi = lo + stride;
        const float va = lv[lo], vc = lv[hi];
        const int ia = li[lo], ic = li[hi];
        const bool forward = (lo & size) == 0;
        if (forward ? before(vc, ic, va, ia) : before(va, ia, vc, ic)) {
          lv[lo] = vc;
          lv[hi] = va;
          li[lo] = ic;
          li[hi] = ia;
        }
      }
      barrier(CLK_GLOBAL_MEM_FENCE);
    }
  }
#endif
}

#ifdef HAS_FP64
// Steps 4-7 for row b, one work-item per row, over the row's sorted scratch
// (a kernel of its own: run after sample on the same queue).
__kernel void sample_pick_f64(long V, float temperature, int top_k, float top_p, float min_p,
                              ulong seed, __global float* vals, __global const int* idx, long P,
                              long B, __global int* ids, ulong ids_off) {
  const long b = get_global_id(0);
  if (b >= B || temperature <= 0.f) return;
  __global float* lv = vals + b * P;
  __global const int* li = idx + b * P;

  const long nc = (top_k > 0 && top_k < V) ? (long)top_k : V;
  // 4. softmax over the candidates, max (the first) subtracted; probabilities
  // overwrite the logits in place.
  const float top = lv[0];
  double sum = 0;
  for (long n = 0; n < nc; ++n) {
    const float v = lv[n];
    sum += v == top ? 1.0 : exp((double)(v - top));
  }
  for (long n = 0; n < nc; ++n) {
    const float v = lv[n];
    const double e = v == top ? 1.0 : exp((double)(v - top));
    lv[n] = (float)(e / sum);
  }
  // 5. top_p: the shortest prefix reaching it, at least one.
  long kept = nc;
  if (top_p < 1.f) {
    double cum = 0;
    for (long n = 0; n < nc; ++n) {
      cum += lv[n];
      if (cum >= top_p) {
        kept = n + 1;
        break;
      }
    }
  }
  // 6. min_p (the first always stays), 7. the pick.
  const float p0 = lv[0];
  double kept_sum = 0;
  for (long n = 0; n < kept; ++n)
    if (kept_by_min_p(lv[n], p0, min_p, n)) kept_sum += lv[n];
  const double target = uniform01(seed, b) * kept_sum;
  double cum = 0;
  long last = 0;
  for (long n = 0; n < kept; ++n) {
    if (!kept_by_min_p(lv[n], p0, min_p, n)) continue;
    last = n;
    cum += lv[n];
    if (cum > target) {
      ids[ids_off + b] = li[n];
      return;
    }
  }
  ids[ids_off + b] = li[last];
}
#endif
