// sample on the device: docs/ops.md "sample" step by step, choosing the
// reference's token ids, without copying logits to the host.
//
//  1. sample_prepare_kernel, one block per row: the row's logits widened to
//     f32 (NaN as -inf) into a scratch row; the repetition penalty once per
//     distinct previous token (a bitmap of the tokens seen, claimed with
//     atomicOr, so each is penalised by exactly one thread); then either the
//     greedy argmax (lowest id on ties, a block reduction) written straight
//     to ids, or l / temperature and the ids 0..V-1 for the sort.
//  2. (not greedy) a radix sort of each row by logit, descending and stable,
//     so ties keep the lower id first: the reference's candidate order
//     (cub::DeviceRadixSort for one row, DeviceSegmentedRadixSort for more).
//  3. sample_pick_kernel, one block per row, over the first nc candidates
//     (nc = top_k when 0 < top_k < V, else V): softmax (e in double, prob
//     rounded to f32), top_p, min_p and the pick with u = uniform(seed, b).
//     Up to kThreads candidates, the e are computed in parallel and summed,
//     and steps 5-7 run, by one thread in the reference's order
//     (sample_math::pick): the reference's arithmetic operation for
//     operation (only exp's last bit may differ between CUDA's and the
//     host's libm, which shows in an f32 probability about once in 2^29).
//     Beyond, sums and prefix sums are deterministic block reductions and
//     scans in double: the same token unless a cumulative sum falls within
//     double rounding (about 1e-16 relative) of a threshold.
#pragma once

#include <climits>
#include <cstdint>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include "common/kernel_utils.cuh"
#include "ops/sample/kernels/sample_math.h"

namespace rma::cuda::sample_kernels {

struct SampleParams {
  const void* logits;   // [B, V]
  const int32_t* prev;  // [B, L] or null
  int64_t prev_len;     // L
  int32_t batch, vocab;
  float temperature, penalty, top_p, min_p;
  int32_t top_k;
  uint64_t seed;
  float* vals;          // [B, V] scratch: the logits as sampled
  int32_t* idx;         // [B, V] scratch: 0..V-1 (not greedy)
  float* sorted_vals;   // [B, V] (not greedy)
  int32_t* sorted_idx;  // [B, V] (not greedy)
  uint32_t* seen;       // [B, ceil(V / 32)] (penalty)
  int32_t* offsets;     // [B + 1] row starts for the segmented sort
  int32_t* ids;         // [B] output
};

struct MinOp {
  __device__ long long operator()(long long a, long long b) const { return a < b ? a : b; }
};
struct MaxOp {
  __device__ long long operator()(long long a, long long b) const { return a > b ? a : b; }
};

template <class T, int kThreads>
__global__ void __launch_bounds__(kThreads) sample_prepare_kernel(SampleParams p) {
  const int b = blockIdx.x, tid = threadIdx.x;
  const int64_t vocab = p.vocab;
  const T* src = static_cast<const T*>(p.logits) + b * vocab;
  float* vals = p.vals + b * vocab;
  const bool greedy = p.temperature <= 0.f;
  for (int64_t i = tid; i < vocab; i += kThreads) vals[i] = sample_math::sanitized(to_f32(src[i]));

  if (p.penalty != 1.f && p.prev_len > 0) {
    const int64_t words = (vocab + 31) / 32;
    uint32_t* seen = p.seen + b * words;
    for (int64_t w = tid; w < words; w += kThreads) seen[w] = 0;
    __syncthreads();  // logits copied, bitmap clear
    const int32_t* prev = p.prev + b * p.prev_len;
    for (int64_t j = tid; j < p.prev_len; j += kThreads) {
      const int32_t t = prev[j];
      if (t < 0 || t >= vocab) continue;  // padding (out-of-range ids are refused on the host)
      const uint32_t bit = 1u << (t % 32);
      if (!(atomicOr(&seen[t / 32], bit) & bit))
        vals[t] = sample_math::penalized(vals[t], p.penalty);
    }
  }
  __syncthreads();

  if (greedy) {
    float best_v = -INFINITY;
    int32_t best_i = -1;
    for (int64_t i = tid; i < vocab; i += kThreads)
      if (sample_math::ranks_before(vals[i], int32_t(i), best_v, best_i)) {
        best_v = vals[i];
        best_i = int32_t(i);
      }
    __shared__ float warp_v[kThreads / 32];
    __shared__ int32_t warp_i[kThreads / 32];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, best_v, off);
      const int32_t oi = __shfl_xor_sync(0xffffffffu, best_i, off);
      if (sample_math::ranks_before(ov, oi, best_v, best_i)) {
        best_v = ov;
        best_i = oi;
      }
    }
    if (tid % 32 == 0) {
      warp_v[tid / 32] = best_v;
      warp_i[tid / 32] = best_i;
    }
    __syncthreads();
    if (tid == 0) {
      for (int w = 1; w < kThreads / 32; ++w)
        if (sample_math::ranks_before(warp_v[w], warp_i[w], best_v, best_i)) {
          best_v = warp_v[w];
          best_i = warp_i[w];
        }
      p.ids[b] = best_i >= 0 ? best_i : 0;
    }
    return;
  }

  int32_t* idx = p.idx + b * vocab;
  for (int64_t i = tid; i < vocab; i += kThreads) {
    vals[i] = sample_math::tempered(vals[i], p.temperature);
    idx[i] = int32_t(i);
  }
  if (tid == 0) {
    p.offsets[b] = int32_t(b * vocab);
    if (b == p.batch - 1) p.offsets[p.batch] = int32_t(p.batch * vocab);
  }
}

template <int kThreads>
__global__ void __launch_bounds__(kThreads) sample_pick_kernel(SampleParams p) {
  using Reduce = cub::BlockReduce<double, kThreads>;
  using Scan = cub::BlockScan<double, kThreads>;
  using IndexReduce = cub::BlockReduce<long long, kThreads>;
  __shared__ union {
    typename Reduce::TempStorage reduce;
    typename Scan::TempStorage scan;
    typename IndexReduce::TempStorage index;
  } tmp;
  __shared__ double shared_double;
  __shared__ long long shared_index;
  __shared__ double e_s[kThreads];
  __shared__ float prob_s[kThreads];

  const int b = blockIdx.x, tid = threadIdx.x;
  const int64_t vocab = p.vocab;
  const float* sv = p.sorted_vals + b * vocab;
  const int32_t* si = p.sorted_idx + b * vocab;
  const int64_t nc = p.top_k > 0 && p.top_k < vocab ? p.top_k : vocab;
  const double u = sample_math::uniform01(p.seed, b);
  const float top = sv[0];

  if (nc <= kThreads) {
    // The reference's arithmetic in its order.
    if (tid < nc) e_s[tid] = sample_math::candidate_weight(sv[tid], top);
    __syncthreads();
    if (tid == 0) {
      double sum = 0;
      for (int64_t n = 0; n < nc; ++n) sum += e_s[n];
      shared_double = sum;
    }
    __syncthreads();
    if (tid < nc) prob_s[tid] = sample_math::candidate_prob(e_s[tid], shared_double);
    __syncthreads();
    if (tid == 0) p.ids[b] = si[sample_math::pick(prob_s, nc, p.top_p, p.min_p, u)];
    return;
  }

  // Block-wide: every value below reaches all threads through shared memory.
  auto block_sum = [&](double v) {
    const double s = Reduce(tmp.reduce).Sum(v);
    if (tid == 0) shared_double = s;
    __syncthreads();
    const double out = shared_double;
    __syncthreads();
    return out;
  };
  auto block_index = [&](long long v, bool minimum) {
    const long long r = minimum ? IndexReduce(tmp.index).Reduce(v, MinOp())
                                : IndexReduce(tmp.index).Reduce(v, MaxOp());
    if (tid == 0) shared_index = r;
    __syncthreads();
    const long long out = shared_index;
    __syncthreads();
    return out;
  };
  auto inclusive_scan = [&](double x, double* incl, double* total) {
    Scan(tmp.scan).InclusiveSum(x, *incl, *total);
    __syncthreads();
  };

  double part = 0;
  for (int64_t n = tid; n < nc; n += kThreads) part += sample_math::candidate_weight(sv[n], top);
  const double sum = block_sum(part);
  auto prob = [&](int64_t n) {
    return sample_math::candidate_prob(sample_math::candidate_weight(sv[n], top), sum);
  };
  const float p0 = prob(0);

  int64_t kept = nc;
  if (p.top_p < 1.f) {  // the shortest prefix reaching top_p
    double carry = 0;
    for (int64_t base = 0; base < nc; base += kThreads) {
      const int64_t n = base + tid;
      double incl = 0, total = 0;
      inclusive_scan(n < nc ? double(prob(n)) : 0.0, &incl, &total);
      const long long first = block_index(n < nc && carry + incl >= p.top_p ? n : LLONG_MAX, true);
      if (first != LLONG_MAX) {
        kept = first + 1;
        break;
      }
      carry += total;
    }
  }

  double kept_part = 0;
  for (int64_t n = tid; n < kept; n += kThreads) {
    const float pn = prob(n);
    if (sample_math::kept_by_min_p(pn, p0, p.min_p, n)) kept_part += pn;
  }
  const double target = u * block_sum(kept_part);

  long long chosen = -1, last_kept = 0;
  double carry = 0;
  for (int64_t base = 0; base < kept; base += kThreads) {
    const int64_t n = base + tid;
    const float pn = n < kept ? prob(n) : 0.f;
    const bool keep = n < kept && sample_math::kept_by_min_p(pn, p0, p.min_p, n);
    double incl = 0, total = 0;
    inclusive_scan(keep ? double(pn) : 0.0, &incl, &total);
    const long long first = block_index(keep && carry + incl > target ? n : LLONG_MAX, true);
    const long long last = block_index(keep ? n : -1, false);
    if (last > last_kept) last_kept = last;
    if (first != LLONG_MAX) {
      chosen = first;
      break;
    }
    carry += total;
  }
  if (tid == 0) p.ids[b] = si[chosen >= 0 ? chosen : last_kept];
}

}  // namespace rma::cuda::sample_kernels
