// Tensor-core prefill attention for f16 and bf16, head dims that are
// multiples of 16 (64, 80, 96, 128, 256): flash attention 2 with mma.sync
// (m16n8k16, f32 accumulation) on sm_80 and newer.
//
// A block of 4 warps owns a tile of kRows = 64 rows (tpt tokens x gh query
// heads of one kv head, heads fastest: attention_math::tile_row), each warp
// 16 of them. K and V tiles of BN keys stream through shared memory in one
// pass, double-buffered with cp.async (the next tile loads while this one is
// used); every row of the tile, so every query head of the GQA group, reads
// the same K/V tile. Per K/V tile a warp computes S = Q K^T (ldmatrix
// fragments of Q and K), masks and scales it (causal, window, sequence
// bounds, ALiBi: prefill_common.cuh), updates the running row max and sum
// (online softmax, base 2), rescales its O accumulators and adds P V, with P
// taken straight from the S accumulators (the m16n8 C layout of two key
// n-tiles is the m16k16 A layout) and V fragments by ldmatrix.trans.
// Shared-memory rows are padded by 8 elements so ldmatrix is conflict-free.
//
// Fragment layouts (PTX ISA, mma.m16n8k16, groupID = lane / 4, tid = lane %
// 4): A regs {a0a1: (g, 2t), a2a3: (g + 8, 2t), a4a5: (g, 2t + 8), a6a7:
// (g + 8, 2t + 8)}; B regs {b0b1: (k 2t, n g), b2b3: (k 2t + 8, n g)}; C
// {c0c1: (g, 2t), c2c3: (g + 8, 2t)}.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "common/kernel_utils.cuh"
#include "ops/prefill_attention/kernels/attention_math.h"
#include "ops/prefill_attention/kernels/prefill_common.cuh"

namespace rma::cuda::prefill_kernels {

constexpr int kTcRows = 64;      // query rows per block
constexpr int kTcThreads = 128;  // 4 warps x 16 rows

// Shared memory of the tensor-core kernel for head dim d and bn keys per tile.
inline size_t tc_shared_bytes(int d, int bn) {
  return size_t(kTcRows + 4 * bn) * size_t(d + 8) * 2;
}

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define RMA_PREFILL_TC_ARCH 1
#endif

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, asynchronously; zero-filled when !fill (the
// source is then not read).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool fill) {
#ifdef RMA_PREFILL_TC_ARCH
  const int src_bytes = fill ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(dst)),
               "l"(src), "r"(src_bytes));
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#ifdef RMA_PREFILL_TC_ARCH
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
#ifdef RMA_PREFILL_TC_ARCH
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
#ifdef RMA_PREFILL_TC_ARCH
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p)));
#endif
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
#ifdef RMA_PREFILL_TC_ARCH
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p)));
#endif
}

// d += a * b for one m16n8k16 tile, f32 accumulators.
template <class T>
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                          uint32_t b1);
template <>
__device__ __forceinline__ void mma_16816<__half>(float (&d)[4], const uint32_t (&a)[4],
                                                  uint32_t b0, uint32_t b1) {
#ifdef RMA_PREFILL_TC_ARCH
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}
template <>
__device__ __forceinline__ void mma_16816<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4],
                                                         uint32_t b0, uint32_t b1) {
#ifdef RMA_PREFILL_TC_ARCH
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// Two floats rounded to T and packed (the first in the low half, the lower
// column of an mma fragment register).
template <class T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi);
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}

template <class T, int D, int BN>
__global__ void __launch_bounds__(kTcThreads) prefill_tc_kernel(PrefillParams p) {
  static_assert(D % 16 == 0 && BN % 16 == 0, "mma tiles are 16 wide");
  constexpr int LD = D + 8;       // padded shared row, in elements
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  constexpr int kNt = BN / 8;     // key n-tiles of S
  constexpr int kDt = D / 8;      // head-dim n-tiles of O
  extern __shared__ __align__(16) unsigned char prefill_tc_smem[];
  T* qs = reinterpret_cast<T*>(prefill_tc_smem);  // [kTcRows][LD]
  T* ks = qs + kTcRows * LD;                      // [2][BN][LD]
  T* vs = ks + 2 * BN * LD;                       // [2][BN][LD]

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int64_t tile = block_tile();
  const int32_t kv_head = blockIdx.y / p.tile.nhc, chunk = blockIdx.y % p.tile.nhc;
  const T* q = static_cast<const T*>(p.q);
  const T* k = static_cast<const T*>(p.k);
  const T* v = static_cast<const T*>(p.v);
  int64_t kv_begin = 0, kv_end = 0;
  tile_keys(p, tile, &kv_begin, &kv_end);

  // Q tile (invalid rows zero-filled) in the first cp.async group, with the
  // first K/V tile.
  for (int c = tid; c < kTcRows * kChunks; c += kTcThreads) {
    const int r = c / kChunks, ch = c % kChunks;
    int64_t t = 0;
    int32_t hi = 0;
    const bool valid = attention_math::tile_row(p.tile, tile, chunk, r, p.tokens, &t, &hi);
    const T* src = valid ? q + (t * p.hq + kv_head * p.tile.group + hi) * D + ch * 8 : q;
    cp_async16(qs + r * LD + ch * 8, src, valid);
  }
  auto load_kv = [&](int64_t n0, int buf) {
    for (int c = tid; c < BN * kChunks; c += kTcThreads) {
      const int r = c / kChunks, ch = c % kChunks;
      const int64_t j = n0 + r;
      const bool in = j < kv_end;
      const int64_t off = (j * p.hkv + kv_head) * D + ch * 8;
      cp_async16(ks + (buf * BN + r) * LD + ch * 8, in ? k + off : k, in);
      cp_async16(vs + (buf * BN + r) * LD + ch * 8, in ? v + off : v, in);
    }
  };
  const int64_t ntiles = kv_end > kv_begin ? (kv_end - kv_begin + BN - 1) / BN : 0;
  if (ntiles > 0) load_kv(kv_begin, 0);
  cp_async_commit();

  // This thread's two rows: g and g + 8 of the warp's 16.
  const int row_a = warp * 16 + lane / 4;
  const RowInfo ra = row_info(p, tile, kv_head, chunk, row_a);
  const RowInfo rb = row_info(p, tile, kv_head, chunk, row_a + 8);
  float o[kDt][4];
#pragma unroll
  for (int i = 0; i < kDt; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float m_a = -INFINITY, m_b = -INFINITY, l_a = 0.f, l_b = 0.f;  // l: this thread's columns only
  const int mi = lane / 8, rr = lane % 8;  // ldmatrix: this lane's matrix and row address

  for (int64_t it = 0; it < ntiles; ++it) {
    const int buf = int(it & 1);
    if (it + 1 < ntiles) load_kv(kv_begin + (it + 1) * BN, buf ^ 1);
    cp_async_commit();
    cp_async_wait<1>();  // everything but the tile just requested has landed
    __syncthreads();
    const T* kt = ks + buf * BN * LD;
    const T* vt = vs + buf * BN * LD;
    const int64_t n0 = kv_begin + it * BN;

    // S = Q K^T for the warp's 16 rows x BN keys.
    float s[kNt][4];
#pragma unroll
    for (int i = 0; i < kNt; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t a[4];
      ldmatrix_x4(a, qs + (warp * 16 + (mi % 2) * 8 + rr) * LD + kk * 16 + (mi / 2) * 8);
#pragma unroll
      for (int np = 0; np < BN / 16; ++np) {
        uint32_t b[4];
        ldmatrix_x4(b, kt + (np * 16 + (mi / 2) * 8 + rr) * LD + kk * 16 + (mi % 2) * 8);
        mma_16816<T>(s[2 * np], a, b[0], b[1]);
        mma_16816<T>(s[2 * np + 1], a, b[2], b[3]);
      }
    }

    // Mask, scale, and the online softmax update (row max over the quad).
    float mx_a = -INFINITY, mx_b = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < kNt; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t j = n0 + nt * 8 + 2 * (lane % 4) + (e & 1);
        const float x = masked_score(p, e < 2 ? ra : rb, s[nt][e], j);
        s[nt][e] = x;
        if (e < 2)
          mx_a = fmaxf(mx_a, x);
        else
          mx_b = fmaxf(mx_b, x);
      }
    }
#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {
      mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, off));
      mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, off));
    }
    const float new_a = fmaxf(m_a, mx_a), new_b = fmaxf(m_b, mx_b);
    const float alpha_a = attention_math::rescale(m_a, new_a);
    const float alpha_b = attention_math::rescale(m_b, new_b);
    m_a = new_a;
    m_b = new_b;
    float sum_a = 0.f, sum_b = 0.f;
#pragma unroll
    for (int nt = 0; nt < kNt; ++nt) {
      s[nt][0] = attention_math::weight(s[nt][0], m_a);
      s[nt][1] = attention_math::weight(s[nt][1], m_a);
      s[nt][2] = attention_math::weight(s[nt][2], m_b);
      s[nt][3] = attention_math::weight(s[nt][3], m_b);
      sum_a += s[nt][0] + s[nt][1];
      sum_b += s[nt][2] + s[nt][3];
    }
    l_a = l_a * alpha_a + sum_a;
    l_b = l_b * alpha_b + sum_b;
#pragma unroll
    for (int i = 0; i < kDt; ++i) {
      o[i][0] *= alpha_a;
      o[i][1] *= alpha_a;
      o[i][2] *= alpha_b;
      o[i][3] *= alpha_b;
    }

    // O += P V: P from the S accumulators, V fragments transposed by ldmatrix.
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t a[4];
      a[0] = pack2<T>(s[2 * kk][0], s[2 * kk][1]);
      a[1] = pack2<T>(s[2 * kk][2], s[2 * kk][3]);
      a[2] = pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      a[3] = pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t b[4];
        ldmatrix_x4_trans(b, vt + (kk * 16 + (mi % 2) * 8 + rr) * LD + dp * 16 + (mi / 2) * 8);
        mma_16816<T>(o[2 * dp], a, b[0], b[1]);
        mma_16816<T>(o[2 * dp + 1], a, b[2], b[3]);
      }
    }
    __syncthreads();  // this buffer is refilled two tiles on
  }
  cp_async_wait<0>();

  // Row sums over the quad, then O / l (zeros for a row that attended nothing).
#pragma unroll
  for (int off = 1; off < 4; off <<= 1) {
    l_a += __shfl_xor_sync(0xffffffffu, l_a, off);
    l_b += __shfl_xor_sync(0xffffffffu, l_b, off);
  }
  T* out = static_cast<T*>(p.o);
  const int col = 2 * (lane % 4);
  if (ra.valid) {
    T* row = out + (ra.token * p.hq + ra.head) * D;
#pragma unroll
    for (int i = 0; i < kDt; ++i)
      *reinterpret_cast<uint32_t*>(row + i * 8 + col) =
          pack2<T>(attention_math::finish(o[i][0], l_a), attention_math::finish(o[i][1], l_a));
  }
  if (rb.valid) {
    T* row = out + (rb.token * p.hq + rb.head) * D;
#pragma unroll
    for (int i = 0; i < kDt; ++i)
      *reinterpret_cast<uint32_t*>(row + i * 8 + col) =
          pack2<T>(attention_math::finish(o[i][2], l_b), attention_math::finish(o[i][3], l_b));
  }
}

}  // namespace rma::cuda::prefill_kernels
