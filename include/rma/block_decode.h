// rma/block_decode.h — scalar decoders of the block-quantized formats
// (layouts in rma/formats.h). Header-only, so the core's dequantize_row and
// any backend decode with the very same arithmetic and round identically;
// a backend's SIMD kernels are checked against these. Each function decodes
// `nb` consecutive blocks into `y`.
#pragma once

#include <cstdint>

#include "rma/formats.h"
#include "rma/half.h"

namespace rma {

inline void decode_q8_0(const rma_block_q8_0* x, float* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, y += RMA_QK8_0) {
    const float d = f16_to_f32(x[b].d);
    for (int i = 0; i < RMA_QK8_0; ++i) y[i] = d * static_cast<float>(x[b].qs[i]);
  }
}

// Element i < 16 is the low nibble of qs[i], element i + 16 the high one.
inline void decode_q4_0(const rma_block_q4_0* x, float* y, int64_t nb) {
  constexpr int kHalf = RMA_QK4_0 / 2;
  for (int64_t b = 0; b < nb; ++b, y += RMA_QK4_0) {
    const float d = f16_to_f32(x[b].d);
    for (int i = 0; i < kHalf; ++i) {
      y[i] = d * static_cast<float>((x[b].qs[i] & 0x0F) - 8);
      y[i + kHalf] = d * static_cast<float>((x[b].qs[i] >> 4) - 8);
    }
  }
}

inline void decode_q4_1(const rma_block_q4_1* x, float* y, int64_t nb) {
  constexpr int kHalf = RMA_QK4_1 / 2;
  for (int64_t b = 0; b < nb; ++b, y += RMA_QK4_1) {
    const float d = f16_to_f32(x[b].d);
    const float m = f16_to_f32(x[b].m);
    for (int i = 0; i < kHalf; ++i) {
      y[i] = d * static_cast<float>(x[b].qs[i] & 0x0F) + m;
      y[i + kHalf] = d * static_cast<float>(x[b].qs[i] >> 4) + m;
    }
  }
}

// The 6-bit scale and min of q4_K sub-block j as ggml packs them:
// j < 4: scale = s[j] & 63, min = s[j + 4] & 63;
// j >= 4: the low 4 bits in s[j + 4] (scale low nibble, min high nibble),
//         the top 2 bits in the top 2 bits of s[j - 4] (scale) and s[j] (min).
inline void unpack_scale_min_k4(int j, const uint8_t* s, int* sc, int* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Each 32 bytes of qs hold 64 elements: sub-block 2k in the low nibbles,
// 2k + 1 in the high ones.
inline void decode_q4_K(const rma_block_q4_K* x, float* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, y += RMA_QK_K) {
    const float d = f16_to_f32(x[b].d);
    const float dmin = f16_to_f32(x[b].dmin);
    for (int k = 0; k < RMA_QK_K / 64; ++k) {
      int sc0, mn0, sc1, mn1;
      unpack_scale_min_k4(2 * k, x[b].scales, &sc0, &mn0);
      unpack_scale_min_k4(2 * k + 1, x[b].scales, &sc1, &mn1);
      const float d0 = d * static_cast<float>(sc0), m0 = dmin * static_cast<float>(mn0);
      const float d1 = d * static_cast<float>(sc1), m1 = dmin * static_cast<float>(mn1);
      const uint8_t* qs = x[b].qs + 32 * k;
      for (int i = 0; i < 32; ++i) {
        y[64 * k + i] = d0 * static_cast<float>(qs[i] & 0x0F) - m0;
        y[64 * k + 32 + i] = d1 * static_cast<float>(qs[i] >> 4) - m1;
      }
    }
  }
}

// As q4_K; the fifth bit of element 64k + i is bit 2k of qh[i] and of
// element 64k + 32 + i bit 2k + 1.
inline void decode_q5_K(const rma_block_q5_K* x, float* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, y += RMA_QK_K) {
    const float d = f16_to_f32(x[b].d);
    const float dmin = f16_to_f32(x[b].dmin);
    for (int k = 0; k < RMA_QK_K / 64; ++k) {
      int sc0, mn0, sc1, mn1;
      unpack_scale_min_k4(2 * k, x[b].scales, &sc0, &mn0);
      unpack_scale_min_k4(2 * k + 1, x[b].scales, &sc1, &mn1);
      const float d0 = d * static_cast<float>(sc0), m0 = dmin * static_cast<float>(mn0);
      const float d1 = d * static_cast<float>(sc1), m1 = dmin * static_cast<float>(mn1);
      const uint8_t* qs = x[b].qs + 32 * k;
      const uint8_t* qh = x[b].qh;
      for (int i = 0; i < 32; ++i) {
        const int lo = (qs[i] & 0x0F) | (((qh[i] >> (2 * k)) & 1) << 4);
        const int hi = (qs[i] >> 4) | (((qh[i] >> (2 * k + 1)) & 1) << 4);
        y[64 * k + i] = d0 * static_cast<float>(lo) - m0;
        y[64 * k + 32 + i] = d1 * static_cast<float>(hi) - m1;
      }
    }
  }
}

// Per half of 128: element l + 32r has its low 4 bits in ql[l + 32(r & 1)]
// (low nibble for r < 2) and its high 2 bits in qh[l] at bit 2r; the scale
// of sub-block (l / 16) + 2r of the half.
inline void decode_q6_K(const rma_block_q6_K* x, float* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, y += RMA_QK_K) {
    const float d = f16_to_f32(x[b].d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[b].ql + 64 * h;
      const uint8_t* qh = x[b].qh + 32 * h;
      const int8_t* sc = x[b].scales + 8 * h;
      float* out = y + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        out[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        out[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        out[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        out[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace rma
