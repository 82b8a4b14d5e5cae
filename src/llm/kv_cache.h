// The engine's paged KV cache: per layer one K and one V tensor
// [num_blocks, block_size, Hkv, D] on the device, and a host-side allocator
// handing fixed-size blocks to sequences.
//
// The device tensors start small and double (copying what they hold) when
// the free list runs short, up to `max_blocks` — so memory follows the
// tokens actually cached, while a block's index never changes.
#pragma once

#include <cstdint>
#include <vector>

#include "rma/device.h"
#include "rma/dtype.h"
#include "rma/tensor.h"

namespace rma::llm {

class PagedKvCache {
 public:
  PagedKvCache() = default;
  PagedKvCache(const Device& device, int n_layer, int n_kv_head, int head_dim, DType dtype,
               int block_size, int max_blocks, int initial_blocks);

  int block_size() const { return block_size_; }
  int num_blocks() const { return num_blocks_; }  // allocated on the device now
  int max_blocks() const { return max_blocks_; }
  DType dtype() const { return dtype_; }
  // Blocks that allocate() can still hand out (free now plus room to grow).
  int available() const { return static_cast<int>(free_.size()) + (max_blocks_ - num_blocks_); }
  // Blocks holding `tokens` tokens.
  int blocks_for(int64_t tokens) const {
    return static_cast<int>((tokens + block_size_ - 1) / block_size_);
  }

  // Appends `n` block indices to `out`, growing the device tensors when the
  // free list is short. Throws rma::Error when more than available() are
  // asked for or the device cannot hold the larger cache.
  void allocate(int n, std::vector<int32_t>& out);
  void release(std::vector<int32_t>& blocks);  // returns them and clears `blocks`

  Tensor& k(int layer) { return k_[layer]; }
  Tensor& v(int layer) { return v_[layer]; }
  uint64_t device_bytes() const;
  // Bumped each time the device tensors are reallocated (their addresses
  // change): captures that recorded them are stale.
  int generation() const { return generation_; }

 private:
  void grow(int min_blocks);

  Device device_;
  int n_layer_ = 0, n_kv_head_ = 0, head_dim_ = 0;
  DType dtype_ = DType::kF32;
  int block_size_ = 16;
  int num_blocks_ = 0;
  int max_blocks_ = 0;
  std::vector<Tensor> k_, v_;
  int generation_ = 0;
  std::vector<int32_t> free_;  // a stack: the lowest index is handed out first
};

}  // namespace rma::llm
