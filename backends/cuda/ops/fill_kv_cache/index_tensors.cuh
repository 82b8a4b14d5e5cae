// Reading small index tensors (slot_mapping, cu_seqlens, block_table,
// context_lens, prev_tokens) back to the host to check them, as the CPU and
// OpenCL backends do, so a bad entry is an error naming it rather than a
// wild access. Shared by the attention-family CUDA ops (fill_kv_cache,
// prefill_attention, paged_decode_attention, sample).
//
// While a stream is being captured into a CUDA graph nothing may wait on it,
// so the check is skipped there; every kernel also bounds-checks the indices
// it follows and leaves out (skips or zero-fills) what is out of range.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "common/cuda_op.h"

namespace rma::cuda {

// True while ctx.stream is being captured into a CUDA graph.
inline bool stream_capturing(const Context& ctx) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(ctx.stream, &status) != cudaSuccess) {
    cudaGetLastError();  // clear it: the op's launch check must not see it
    return false;
  }
  return status != cudaStreamCaptureStatusNone;
}

inline bool is_index_dtype(int32_t dt) { return dt == RMA_DTYPE_I32 || dt == RMA_DTYPE_I64; }

// Reads the i32 or i64 tensor `t` (dense) back as int64 values, ordered after
// the work already on ctx.stream.
inline rma_status read_index_tensor(const Context& ctx, const rma_tensor& t,
                                    std::vector<int64_t>* out, rma_error* err) {
  const int64_t n = numel(t);
  out->assign(static_cast<size_t>(n), 0);
  if (n == 0) return RMA_STATUS_OK;
  const bool wide = t.dtype == RMA_DTYPE_I64;
  const size_t elem = wide ? 8 : 4;
  std::vector<unsigned char> raw(static_cast<size_t>(n) * elem);
  if (rma_status st = ctx.read_back(ctx, ptr(t), raw.size(), raw.data(), err)) return st;
  for (int64_t i = 0; i < n; ++i) {
    if (wide) {
      int64_t v = 0;
      std::memcpy(&v, raw.data() + i * 8, 8);
      (*out)[static_cast<size_t>(i)] = v;
    } else {
      int32_t v = 0;
      std::memcpy(&v, raw.data() + i * 4, 4);
      (*out)[static_cast<size_t>(i)] = v;
    }
  }
  return RMA_STATUS_OK;
}

// An index element on the device (i32 or i64 by `wide`).
__device__ __forceinline__ int64_t load_index(const void* p, int64_t i, bool wide) {
  return wide ? static_cast<const int64_t*>(p)[i] : static_cast<const int32_t*>(p)[i];
}

}  // namespace rma::cuda
