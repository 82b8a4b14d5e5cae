// Paged decode attention: one query per sequence against its cached keys.
//
// Block (partition p, kv head's head chunk, sequence b), kThreads threads,
// serving the chunk's gh <= kMaxGroupHeads query heads so each K and V row is
// read once per chunk. The keys the query attends, [begin, L) with begin =
// L - window under a sliding window, are cut into partitions of part_tokens
// keys, one block each (split-K); a single partition writes the output
// directly, several write (max, sum, unnormalised P V) partials that
// paged_decode_combine merges (attention_math::merge, base 2).
//
// Inside a block the threads form key groups of `lanes` threads (a power of
// two); lane i of a group holds 16-byte chunks i, i + lanes, ... of a head
// row (VEC elements each; VEC = 1 when the cache is not 16-byte aligned), so
// a K or V row is read with coalesced 16-byte loads. Three phases:
//  1. scores: each group takes keys group, group + groups, ... (kUnroll rows
//     in flight per group); q.k is reduced over the group's lanes; scores go
//     to shared memory (log2 units, ALiBi added);
//  2. per head, the partition's max and the weights 2^(s - max) and their
//     sum (a warp per head);
//  3. P V over the same keys, summed across the groups of a warp by shuffles
//     and across warps through shared memory.
// The partition's block-table entries are staged in shared memory; an entry
// outside [0, num_blocks) (possible only under graph capture, where the host
// does not read the table back) leaves its keys out instead of reading
// outside the cache.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "common/kernel_utils.cuh"
#include "ops/prefill_attention/kernels/attention_math.h"

namespace rma::cuda::paged_decode_kernels {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxGroupHeads = 8;
constexpr int kUnroll = 4;
constexpr int kMaxHeadDim = 256;

struct PagedParams {
  const void* q;        // [B, Hq, D]
  const void* k_cache;  // [num_blocks, block_size, Hkv, D]
  const void* v_cache;
  void* o;                      // [B, Hq, D]
  const int32_t* block_table;   // [B, max_blocks]
  const int32_t* context_lens;  // [B]
  const float* alibi;           // [Hq] or null
  float* part_acc;              // [B, Hq, num_parts, D] (num_parts > 1)
  float* part_ml;               // [B, Hq, num_parts, 2]: max, sum
  int32_t batch, hq, hkv, group, gh, nhc, d;
  int32_t lanes;  // threads per key group
  int32_t block_size, max_blocks;
  int64_t num_blocks;
  float scale_log2;
  int32_t window;
  int32_t part_tokens, num_parts;
};

// Shared memory of the kernel: scores [gh][part_tokens] (reused for the
// cross-warp P V sums [kWarps][gh][D]) and the partition's table entries.
inline size_t shared_bytes(int gh, int part_tokens, int d, int block_size) {
  const size_t scores = size_t(gh) * part_tokens;
  const size_t sums = size_t(kWarps) * gh * d;
  const size_t entries = size_t(part_tokens) / block_size + 2;
  return (scores > sums ? scores : sums) * sizeof(float) + entries * sizeof(int32_t);
}

// VEC elements at p as f32: one 16-byte load when VEC * sizeof(T) == 16.
template <class T, int VEC>
__device__ __forceinline__ void load_elements(const T* p, float* out) {
  if constexpr (VEC == 1) {
    out[0] = to_f32(p[0]);
  } else if constexpr (sizeof(T) == 4) {
    static_assert(VEC == 4, "16-byte loads of f32 hold 4");
    const float4 x = *reinterpret_cast<const float4*>(p);
    out[0] = x.x;
    out[1] = x.y;
    out[2] = x.z;
    out[3] = x.w;
  } else {
    static_assert(VEC == 8, "16-byte loads of f16/bf16 hold 8");
    const uint4 x = *reinterpret_cast<const uint4*>(p);
    const uint32_t w[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      float2 f;
      if constexpr (std::is_same_v<T, __half>)
        f = __half22float2(*reinterpret_cast<const __half2*>(&w[i]));
      else
        f = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&w[i]));
      out[2 * i] = f.x;
      out[2 * i + 1] = f.y;
    }
  }
}

// The attended keys [*begin, *end) of partition `part` of sequence b.
__device__ __forceinline__ void partition_keys(const PagedParams& p, int32_t b, int32_t part,
                                               int64_t* len_out, int64_t* begin, int64_t* end) {
  int64_t len = p.context_lens[b];
  if (len < 0 || len > int64_t(p.max_blocks) * p.block_size) len = 0;  // checked on the host
  int64_t first = 0;
  if (p.window > 0 && len - p.window > 0) first = len - p.window;
  *len_out = len;
  *begin = first + int64_t(part) * p.part_tokens;
  *end = *begin + p.part_tokens < len ? *begin + p.part_tokens : len;
}

template <class QT, class CT, int VEC, int NC>
__global__ void __launch_bounds__(kThreads, 4) paged_decode_kernel(PagedParams p) {
  constexpr int E = VEC * NC;  // elements of a head row per thread
  extern __shared__ float paged_smem[];
  __shared__ float head_max[kMaxGroupHeads], head_sum[kMaxGroupHeads];
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int32_t part = blockIdx.x, b = blockIdx.z;
  const int32_t kv_head = blockIdx.y / p.nhc, chunk = blockIdx.y % p.nhc;
  const int32_t h0 = kv_head * p.group + chunk * p.gh;
  const int gh = p.gh < p.group - chunk * p.gh ? p.gh : p.group - chunk * p.gh;
  const int d = p.d;

  int64_t len = 0, start = 0, end = 0;
  partition_keys(p, b, part, &len, &start, &end);
  const int n = end > start ? int(end - start) : 0;
  if (n == 0) {
    if (p.num_parts == 1) {
      QT* out = static_cast<QT*>(p.o) + (int64_t(b) * p.hq + h0) * d;
      for (int i = tid; i < gh * d; i += kThreads) out[i] = from_f32<QT>(0.f);
    } else if (tid < gh) {
      float* ml = p.part_ml + ((int64_t(b) * p.hq + h0 + tid) * p.num_parts + part) * 2;
      ml[0] = -INFINITY;
      ml[1] = 0.f;
    }
    return;
  }

  float* scores = paged_smem;  // [gh][part_tokens], later [kWarps][gh][d]
  const size_t score_floats = size_t(gh) * p.part_tokens;
  const size_t sum_floats = size_t(kWarps) * gh * d;
  int32_t* entries = reinterpret_cast<int32_t*>(
      paged_smem + (score_floats > sum_floats ? score_floats : sum_floats));
  const int64_t first_entry = start / p.block_size;
  const int num_entries = int((end - 1) / p.block_size - first_entry + 1);
  for (int i = tid; i < num_entries; i += kThreads) {
    const int32_t e = p.block_table[int64_t(b) * p.max_blocks + first_entry + i];
    entries[i] = e >= 0 && e < p.num_blocks ? e : -1;
  }

  // This thread's key group and its share of a head row: elements
  // [c * VEC, c * VEC + VEC) for chunks c = sub + i * lanes.
  const int lanes = p.lanes, groups = kThreads / lanes;
  const int group_id = tid / lanes, sub = tid % lanes;
  float qr[kMaxGroupHeads][E];
#pragma unroll
  for (int h = 0; h < kMaxGroupHeads; ++h) {
#pragma unroll
    for (int c = 0; c < NC; ++c) {
      const int e0 = (sub + c * lanes) * VEC;
#pragma unroll
      for (int e = 0; e < VEC; ++e) {
        float x = 0.f;
        if (h < gh && e0 + e < d)
          x = to_f32(static_cast<const QT*>(p.q)[(int64_t(b) * p.hq + h0 + h) * d + e0 + e]) *
              p.scale_log2;
        qr[h][c * VEC + e] = x;
      }
    }
  }
  float slope[kMaxGroupHeads];
#pragma unroll
  for (int h = 0; h < kMaxGroupHeads; ++h)
    slope[h] = p.alibi && h < gh ? p.alibi[h0 + h] * attention_math::kLog2e : 0.f;
  __syncthreads();  // entries staged

  const CT* kc = static_cast<const CT*>(p.k_cache);
  const CT* vc = static_cast<const CT*>(p.v_cache);
  // The head row of key j (local index jj) in a cache, or null when its
  // block-table entry is bad.
  auto row_of = [&](const CT* cache, int jj) -> const CT* {
    const int64_t j = start + jj;
    const int32_t blk = entries[j / p.block_size - first_entry];
    if (blk < 0) return nullptr;
    const int64_t row = int64_t(blk) * p.block_size + j % p.block_size;
    return cache + (row * p.hkv + kv_head) * d;
  };
  auto load_row = [&](const CT* row, float* out) {
#pragma unroll
    for (int c = 0; c < NC; ++c) {
      const int e0 = (sub + c * lanes) * VEC;
      if (row && e0 < d) {
        load_elements<CT, VEC>(row + e0, out + c * VEC);
      } else {
#pragma unroll
        for (int e = 0; e < VEC; ++e) out[c * VEC + e] = 0.f;
      }
    }
  };

  // 1. Scores. Every thread runs the same number of rounds (shuffles need the
  // whole warp); keys past the partition are computed on zeros and dropped.
  for (int r0 = 0; r0 < n; r0 += groups * kUnroll) {
    float kr[kUnroll][E];
    bool ok[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int jj = r0 + u * groups + group_id;
      const CT* row = jj < n ? row_of(kc, jj) : nullptr;
      ok[u] = row != nullptr;
      load_row(row, kr[u]);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int jj = r0 + u * groups + group_id;
#pragma unroll
      for (int h = 0; h < kMaxGroupHeads; ++h) {
        if (h >= gh) break;
        float dot = 0.f;
#pragma unroll
        for (int e = 0; e < E; ++e) dot += qr[h][e] * kr[u][e];
        for (int off = lanes / 2; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
        if (sub == 0 && jj < n)
          scores[h * p.part_tokens + jj] =
              ok[u] ? dot + slope[h] * static_cast<float>(start + jj - (len - 1)) : -INFINITY;
      }
    }
  }
  __syncthreads();

  // 2. Per head: the partition's max, weights 2^(s - max), their sum.
  for (int h = warp; h < gh; h += kWarps) {
    float* s = scores + h * p.part_tokens;
    float mx = -INFINITY;
    for (int i = lane; i < n; i += 32) mx = fmaxf(mx, s[i]);
    mx = warp_max(mx);
    float sum = 0.f;
    for (int i = lane; i < n; i += 32) {
      const float w = attention_math::weight(s[i], mx);
      s[i] = w;
      sum += w;
    }
    sum = warp_sum(sum);
    if (lane == 0) {
      head_max[h] = mx;
      head_sum[h] = sum;
    }
  }
  __syncthreads();

  // 3. P V over the same keys.
  float acc[kMaxGroupHeads][E];
#pragma unroll
  for (int h = 0; h < kMaxGroupHeads; ++h)
#pragma unroll
    for (int e = 0; e < E; ++e) acc[h][e] = 0.f;
  for (int r0 = 0; r0 < n; r0 += groups * kUnroll) {
    float vr[kUnroll][E];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int jj = r0 + u * groups + group_id;
      load_row(jj < n ? row_of(vc, jj) : nullptr, vr[u]);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int jj = r0 + u * groups + group_id;
      if (jj >= n) continue;
#pragma unroll
      for (int h = 0; h < kMaxGroupHeads; ++h) {
        if (h >= gh) break;
        const float w = scores[h * p.part_tokens + jj];
#pragma unroll
        for (int e = 0; e < E; ++e) acc[h][e] += w * vr[u][e];
      }
    }
  }
  // Groups of a warp hold the same elements: sum them (lanes sub, sub +
  // lanes, ...), then across warps through shared memory.
#pragma unroll
  for (int h = 0; h < kMaxGroupHeads; ++h)
#pragma unroll
    for (int e = 0; e < E; ++e)
      for (int off = lanes; off < 32; off <<= 1)
        acc[h][e] += __shfl_xor_sync(0xffffffffu, acc[h][e], off);
  __syncthreads();           // scores are read; the space now holds the warps' sums
  float* sums = paged_smem;  // [kWarps][gh][d]
  if (lane < lanes) {
#pragma unroll
    for (int h = 0; h < kMaxGroupHeads; ++h) {
      if (h >= gh) break;
#pragma unroll
      for (int c = 0; c < NC; ++c) {
        const int e0 = (sub + c * lanes) * VEC;
#pragma unroll
        for (int e = 0; e < VEC; ++e)
          if (e0 + e < d) sums[(warp * gh + h) * d + e0 + e] = acc[h][c * VEC + e];
      }
    }
  }
  __syncthreads();
  for (int i = tid; i < gh * d; i += kThreads) {
    const int h = i / d, e = i % d;
    float total = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) total += sums[(w * gh + h) * d + e];
    const int64_t head_row = int64_t(b) * p.hq + h0 + h;
    if (p.num_parts == 1) {
      static_cast<QT*>(p.o)[head_row * d + e] =
          from_f32<QT>(attention_math::finish(total, head_sum[h]));
    } else {
      const int64_t slot = head_row * p.num_parts + part;
      p.part_acc[slot * d + e] = total;
      if (e == 0) {
        p.part_ml[slot * 2] = head_max[h];
        p.part_ml[slot * 2 + 1] = head_sum[h];
      }
    }
  }
}

// Merges the partitions of each (sequence, query head): grid (Hq, B).
template <class QT>
__global__ void paged_decode_combine_kernel(PagedParams p) {
  const int32_t h = blockIdx.x, b = blockIdx.y;
  const int64_t base = (int64_t(b) * p.hq + h) * p.num_parts;
  float m = -INFINITY;
  for (int i = 0; i < p.num_parts; ++i) m = fmaxf(m, p.part_ml[(base + i) * 2]);
  float l = 0.f;
  for (int i = 0; i < p.num_parts; ++i)
    l += p.part_ml[(base + i) * 2 + 1] * attention_math::rescale(p.part_ml[(base + i) * 2], m);
  for (int e = threadIdx.x; e < p.d; e += blockDim.x) {
    float acc = 0.f;
    for (int i = 0; i < p.num_parts; ++i) {
      const float w = attention_math::rescale(p.part_ml[(base + i) * 2], m);
      if (w > 0.f) acc += p.part_acc[(base + i) * p.d + e] * w;
    }
    static_cast<QT*>(p.o)[(int64_t(b) * p.hq + h) * p.d + e] =
        from_f32<QT>(attention_math::finish(acc, l));
  }
}

}  // namespace rma::cuda::paged_decode_kernels
