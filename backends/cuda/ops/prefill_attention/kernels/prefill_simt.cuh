// SIMT prefill attention: f32 (kept in full f32: no TF32), and f16/bf16 head
// dims the tensor-core kernel does not take; any head dim up to 32 * DCH.
//
// A block of 8 warps owns a tile of kSimtRows = 32 rows (tpt tokens x gh
// query heads of one kv head, heads fastest), each warp 4 of them. K and V
// tiles of 32 keys are widened to f32 into shared memory once per block and
// read by all its rows (the GQA group shares them). For a K/V tile, lane c of
// a warp scores key c against the warp's 4 rows (K rows padded by one float
// so the 32 lanes hit 32 banks; Q, pre-scaled by scale * log2(e), is a
// broadcast), the warp reduces the rows' max and sum (online softmax, base
// 2), and then lane c accumulates head-dim elements c, c + 32, ... of P V,
// the weights broadcast from the lane holding them.
#pragma once

#include <cstdint>

#include "common/kernel_utils.cuh"
#include "ops/prefill_attention/kernels/attention_math.h"
#include "ops/prefill_attention/kernels/prefill_common.cuh"

namespace rma::cuda::prefill_kernels {

constexpr int kSimtRows = 32;
constexpr int kSimtWarps = 8;
constexpr int kSimtRowsPerWarp = kSimtRows / kSimtWarps;
constexpr int kSimtKeys = 32;  // keys per K/V tile: one per lane

// Shared memory of the SIMT kernel for head dim d.
inline size_t simt_shared_bytes(int d) {
  return (size_t(kSimtRows) * d + size_t(kSimtKeys) * (d + 1) + size_t(kSimtKeys) * d) *
         sizeof(float);
}

template <class T, int DCH>
__global__ void __launch_bounds__(kSimtWarps * 32) prefill_simt_kernel(PrefillParams p) {
  extern __shared__ float prefill_simt_smem[];
  const int d = p.d;
  float* qs = prefill_simt_smem;         // [kSimtRows][d], scaled to log2 units
  float* ks = qs + kSimtRows * d;        // [kSimtKeys][d + 1]
  float* vs = ks + kSimtKeys * (d + 1);  // [kSimtKeys][d]
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int64_t tile = block_tile();
  const int32_t kv_head = blockIdx.y / p.tile.nhc, chunk = blockIdx.y % p.tile.nhc;
  const T* q = static_cast<const T*>(p.q);
  const T* k = static_cast<const T*>(p.k);
  const T* v = static_cast<const T*>(p.v);
  int64_t kv_begin = 0, kv_end = 0;
  tile_keys(p, tile, &kv_begin, &kv_end);

  for (int idx = tid; idx < kSimtRows * d; idx += blockDim.x) {
    const int r = idx / d, e = idx % d;
    int64_t t = 0;
    int32_t hi = 0;
    const bool valid = attention_math::tile_row(p.tile, tile, chunk, r, p.tokens, &t, &hi);
    qs[idx] =
        valid ? to_f32(q[(t * p.hq + kv_head * p.tile.group + hi) * d + e]) * p.scale_log2 : 0.f;
  }

  RowInfo rows[kSimtRowsPerWarp];
#pragma unroll
  for (int i = 0; i < kSimtRowsPerWarp; ++i)
    rows[i] = row_info(p, tile, kv_head, chunk, warp * kSimtRowsPerWarp + i);
  float acc[kSimtRowsPerWarp][DCH];
  float m[kSimtRowsPerWarp], l[kSimtRowsPerWarp];
#pragma unroll
  for (int i = 0; i < kSimtRowsPerWarp; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.f;
#pragma unroll
    for (int c = 0; c < DCH; ++c) acc[i][c] = 0.f;
  }

  for (int64_t n0 = kv_begin; n0 < kv_end; n0 += kSimtKeys) {
    __syncthreads();  // the previous tile has been used (and Q is in place)
    for (int idx = tid; idx < kSimtKeys * d; idx += blockDim.x) {
      const int r = idx / d, e = idx % d;
      const int64_t j = n0 + r;
      float kv = 0.f, vv = 0.f;
      if (j < kv_end) {
        const int64_t off = (j * p.hkv + kv_head) * d + e;
        kv = to_f32(k[off]);
        vv = to_f32(v[off]);
      }
      ks[r * (d + 1) + e] = kv;
      vs[r * d + e] = vv;
    }
    __syncthreads();

    // Scores of key n0 + lane against the warp's rows.
    const int64_t j = n0 + lane;
    float dot[kSimtRowsPerWarp];
#pragma unroll
    for (int i = 0; i < kSimtRowsPerWarp; ++i) dot[i] = 0.f;
    const float* krow = ks + lane * (d + 1);
    const float* qrow = qs + warp * kSimtRowsPerWarp * d;
    for (int e = 0; e < d; ++e) {
      const float kd = krow[e];
#pragma unroll
      for (int i = 0; i < kSimtRowsPerWarp; ++i) dot[i] += qrow[i * d + e] * kd;
    }
    float pw[kSimtRowsPerWarp];
#pragma unroll
    for (int i = 0; i < kSimtRowsPerWarp; ++i) {
      // q is pre-scaled: the dot is already scale * log2(e) * q.k.
      const RowInfo& ri = rows[i];
      const float x = (j < ri.key_lo || j >= ri.key_hi)
                          ? -INFINITY
                          : dot[i] + ri.slope_log2 * static_cast<float>(j - ri.token);
      const float new_m = fmaxf(m[i], warp_max(x));
      const float alpha = attention_math::rescale(m[i], new_m);
      m[i] = new_m;
      pw[i] = attention_math::weight(x, new_m);
      l[i] = l[i] * alpha + warp_sum(pw[i]);
#pragma unroll
      for (int c = 0; c < DCH; ++c) acc[i][c] *= alpha;
    }
    // P V: lane owns head-dim elements lane + 32 c.
    for (int key = 0; key < kSimtKeys; ++key) {
      float pk[kSimtRowsPerWarp];
#pragma unroll
      for (int i = 0; i < kSimtRowsPerWarp; ++i) pk[i] = __shfl_sync(0xffffffffu, pw[i], key);
      const float* vrow = vs + key * d;
#pragma unroll
      for (int c = 0; c < DCH; ++c) {
        const int e = lane + 32 * c;
        const float ve = e < d ? vrow[e] : 0.f;
#pragma unroll
        for (int i = 0; i < kSimtRowsPerWarp; ++i) acc[i][c] += pk[i] * ve;
      }
    }
  }

  T* out = static_cast<T*>(p.o);
#pragma unroll
  for (int i = 0; i < kSimtRowsPerWarp; ++i) {
    if (!rows[i].valid) continue;
    T* row = out + (rows[i].token * p.hq + rows[i].head) * d;
#pragma unroll
    for (int c = 0; c < DCH; ++c) {
      const int e = lane + 32 * c;
      if (e < d) row[e] = from_f32<T>(attention_math::finish(acc[i][c], l[i]));
    }
  }
}

}  // namespace rma::cuda::prefill_kernels
