// The per-element math of CUDA rope (docs/ops.md "rope"), as host and device
// functions so tests/cpp/test_cuda_attention.cpp checks it on the host
// against the reference's formulas.
#pragma once

#include <cmath>
#include <cstdint>

#include "rma/plugin.h"

#ifndef RMA_HD
#ifdef __CUDACC__
#define RMA_HD __host__ __device__ inline
#else
#define RMA_HD inline
#endif
#endif

namespace rma::cuda::rope_math {

// Most rotated pairs (rotary_dim / 2) the kernel takes: inv_freq travels in
// the kernel's parameters (1 KiB).
constexpr int kMaxPairs = 256;

// inv_freq[i] for i in [0, r/2): theta^(-2i/r) in double, adjusted by the
// scaling, rounded to f32 (as the reference holds it). The launcher computes
// it on the host; it is host-and-device only so the test sees this very code.
RMA_HD float inv_freq(const rma_rope_attrs& a, int64_t i, int64_t r) {
  double f = ::pow(double(a.theta), -2.0 * double(i) / double(r));
  if (a.scaling == RMA_ROPE_SCALING_LINEAR) {
    f /= a.factor;
  } else if (a.scaling == RMA_ROPE_SCALING_LLAMA3) {
    // Hugging Face _compute_llama3_parameters: high frequencies kept, low ones
    // divided by factor, a smooth blend in between.
    const double kPi = 3.14159265358979323846;
    const double wavelen = 2.0 * kPi / f;
    const double lo = double(a.original_max_position) / a.low_freq_factor;
    const double hi = double(a.original_max_position) / a.high_freq_factor;
    if (wavelen < hi) {
      // kept
    } else if (wavelen > lo) {
      f /= a.factor;
    } else {
      const double s = (double(a.original_max_position) / wavelen - a.low_freq_factor) /
                       (double(a.high_freq_factor) - a.low_freq_factor);
      f = (1.0 - s) * f / a.factor + s * f;
    }
  }
  return static_cast<float>(f);
}

// The elements pair c rotates: neox (c, c + r/2), gptj (2c, 2c + 1).
RMA_HD void pair_elements(bool gptj, int64_t c, int64_t half, int64_t* i0, int64_t* i1) {
  *i0 = gptj ? 2 * c : c;
  *i1 = gptj ? 2 * c + 1 : c + half;
}

// The angle, in f32 from the f32 inv_freq (docs/ops.md).
RMA_HD float angle(int64_t position, float inv) { return static_cast<float>(position) * inv; }

// (x0, x1) rotated by the angle whose cosine and sine are c, s.
RMA_HD void rotate_pair(float x0, float x1, float c, float s, float* y0, float* y1) {
  *y0 = x0 * c - x1 * s;
  *y1 = x1 * c + x0 * s;
}

}  // namespace rma::cuda::rope_math
