// Scatter of k[T, row] and v[T, row] (row = Hkv * D) into the paged caches at
// slot_mapping[t]: one block per token, each thread copying elements of the
// token's k and v rows. Tokens with a negative slot are skipped, and so are
// slots past the cache's capacity (the host reports those before launching
// when it can; see index_tensors.cuh). Values are widened to f32 and rounded
// once to the cache's dtype (exact when the dtypes match). When source and
// cache share a dtype and the rows are 16-byte aligned, rows move as 16-byte
// vectors.
#pragma once

#include <cstdint>

#include "common/kernel_utils.cuh"
#include "ops/fill_kv_cache/index_tensors.cuh"

namespace rma::cuda::fill_kv_cache_kernels {

struct FillParams {
  const void* k;
  const void* v;
  void* k_cache;
  void* v_cache;
  const void* slots;
  bool slots_i64;
  int64_t row;       // Hkv * D elements
  int64_t capacity;  // num_blocks * block_size slots
};

template <class Src, class Dst>
__global__ void fill_kv_cache_kernel(FillParams p) {
  const int64_t t = blockIdx.x;
  const int64_t slot = load_index(p.slots, t, p.slots_i64);
  if (slot < 0 || slot >= p.capacity) return;
  const Src* ks = static_cast<const Src*>(p.k) + t * p.row;
  const Src* vs = static_cast<const Src*>(p.v) + t * p.row;
  Dst* kd = static_cast<Dst*>(p.k_cache) + slot * p.row;
  Dst* vd = static_cast<Dst*>(p.v_cache) + slot * p.row;
  for (int64_t e = threadIdx.x; e < p.row; e += blockDim.x) {
    kd[e] = from_f32<Dst>(to_f32(ks[e]));
    vd[e] = from_f32<Dst>(to_f32(vs[e]));
  }
}

// Same dtype, 16-byte aligned rows of `vecs` 16-byte vectors.
__global__ void fill_kv_cache_copy16_kernel(FillParams p, int64_t vecs) {
  const int64_t t = blockIdx.x;
  const int64_t slot = load_index(p.slots, t, p.slots_i64);
  if (slot < 0 || slot >= p.capacity) return;
  const uint4* ks = static_cast<const uint4*>(p.k) + t * vecs;
  const uint4* vs = static_cast<const uint4*>(p.v) + t * vecs;
  uint4* kd = static_cast<uint4*>(p.k_cache) + slot * vecs;
  uint4* vd = static_cast<uint4*>(p.v_cache) + slot * vecs;
  for (int64_t e = threadIdx.x; e < vecs; e += blockDim.x) {
    kd[e] = ks[e];
    vd[e] = vs[e];
  }
}

}  // namespace rma::cuda::fill_kv_cache_kernels
