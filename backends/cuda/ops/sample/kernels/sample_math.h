// The per-element math of CUDA sample (docs/ops.md "sample"), as host and
// device functions so tests/cpp/test_cuda_attention.cpp checks them on the
// host against src/ops/reference/op_sample.cpp: the counter-based RNG, the
// penalty and temperature, the candidate order, and steps 4-7 over a sorted
// candidate list, operation for operation as the reference does them (f32
// where it uses f32, double where it uses double, the same order of sums).
#pragma once

#include <cmath>
#include <cstdint>

#ifndef RMA_HD
#ifdef __CUDACC__
#define RMA_HD __host__ __device__ inline
#else
#define RMA_HD inline
#endif
#endif

namespace rma::cuda::sample_math {

// uniform(seed, b) of docs/ops.md: splitmix64's mixer over seed + golden *
// (b + 1), the top 24 bits scaled to [0, 1) (exact in f32 and double).
RMA_HD double uniform01(uint64_t seed, int64_t b) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 40) * 0x1p-24;
}

// A logit as the sampler reads it: NaN ranks below every logit.
RMA_HD float sanitized(float l) { return l != l ? -INFINITY : l; }

// Step 1, once per distinct previous token.
RMA_HD float penalized(float l, float penalty) { return l > 0.f ? l / penalty : l * penalty; }

// Step 3's division (f32, as the reference).
RMA_HD float tempered(float l, float temperature) { return l / temperature; }

// Candidate order: (va, ia) before (vb, ib) when its logit is larger, or
// equal and its id lower; id -1 is "none" and comes last. Greedy's argmax is
// the first candidate in this order.
RMA_HD bool ranks_before(float va, int32_t ia, float vb, int32_t ib) {
  if (ia < 0) return false;
  if (ib < 0) return true;
  return va > vb || (va == vb && ia < ib);
}

// Step 4's e = exp(v - top) in double (1 exactly for v == top, even when both
// are infinite).
RMA_HD double candidate_weight(float v, float top) {
  return v == top ? 1.0 : ::exp(static_cast<double>(v - top));
}

// Step 4's probability, rounded to f32.
RMA_HD float candidate_prob(double e, double sum) { return static_cast<float>(e / sum); }

// Step 4's sum over nc candidates sorted descending, in the reference's order.
RMA_HD double weight_sum(const float* sorted, int64_t nc) {
  const float top = sorted[0];
  double sum = 0;
  for (int64_t n = 0; n < nc; ++n) sum += candidate_weight(sorted[n], top);
  return sum;
}

// Step 6: candidate n (prob, with p0 the first's) survives min_p; the first
// always does.
RMA_HD bool kept_by_min_p(float prob, float p0, float min_p, int64_t n) {
  return n == 0 || !(min_p > 0.f && prob < min_p * p0);
}

// Steps 5-7 over the probabilities of nc candidates in sorted order, u =
// uniform01(seed, b): the index (into the sorted list) of the chosen one.
RMA_HD int64_t pick(const float* prob, int64_t nc, float top_p, float min_p, double u) {
  int64_t kept = nc;
  if (top_p < 1.f) {  // the shortest prefix reaching top_p, at least one
    double cum = 0;
    for (int64_t n = 0; n < nc; ++n) {
      cum += prob[n];
      if (cum >= top_p) {
        kept = n + 1;
        break;
      }
    }
  }
  double kept_sum = 0;
  for (int64_t n = 0; n < kept; ++n)
    if (kept_by_min_p(prob[n], prob[0], min_p, n)) kept_sum += prob[n];
  const double target = u * kept_sum;
  double cum = 0;
  int64_t last = 0;
  for (int64_t n = 0; n < kept; ++n) {
    if (!kept_by_min_p(prob[n], prob[0], min_p, n)) continue;
    last = n;
    cum += prob[n];
    if (cum > target) return n;
  }
  return last;
}

}  // namespace rma::cuda::sample_math
