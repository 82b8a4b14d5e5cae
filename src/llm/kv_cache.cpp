#include "kv_cache.h"

#include <algorithm>
#include <string>

#include "rma/error.h"
#include "rma/log.h"

namespace rma::llm {

PagedKvCache::PagedKvCache(const Device& device, int n_layer, int n_kv_head, int head_dim,
                           DType dtype, int block_size, int max_blocks, int initial_blocks)
    : device_(device),
      n_layer_(n_layer),
      n_kv_head_(n_kv_head),
      head_dim_(head_dim),
      dtype_(dtype),
      block_size_(block_size),
      max_blocks_(max_blocks) {
  k_.resize(n_layer);
  v_.resize(n_layer);
  grow(std::clamp(initial_blocks, 1, max_blocks));
}

void PagedKvCache::grow(int min_blocks) {
  const int old_blocks = num_blocks_;
  const int new_blocks = std::min(max_blocks_, std::max(min_blocks, 2 * old_blocks));
  const Shape shape = {new_blocks, block_size_, n_kv_head_, head_dim_};
  try {
    // Layer by layer, so the transient extra memory is one layer's old cache.
    for (int l = 0; l < n_layer_; ++l) {
      for (Tensor* t : {&k_[l], &v_[l]}) {
        Tensor bigger = Tensor::empty(shape, dtype_, device_);
        if (old_blocks > 0) bigger.slice(0, 0, old_blocks).copy_from(t->slice(0, 0, old_blocks));
        *t = std::move(bigger);
      }
    }
  } catch (const Error& e) {
    throw Error(e.code(),
                "KV cache: cannot grow from " + std::to_string(old_blocks) + " to " +
                    std::to_string(new_blocks) + " blocks of " + std::to_string(block_size_) +
                    " tokens: " + e.message(),
                "", device_.name());
  }
  // Layers past a failure keep their old size; only now is the new size real.
  num_blocks_ = new_blocks;
  ++generation_;
  for (int b = new_blocks - 1; b >= old_blocks; --b) free_.push_back(b);
  // The new blocks sit below the old free ones, so low indices go first.
  std::rotate(free_.begin(), free_.end() - (new_blocks - old_blocks), free_.end());
  if (old_blocks > 0)
    log::debug("KV cache grew to " + std::to_string(new_blocks) + " blocks (" +
               std::to_string(device_bytes() >> 20) + " MiB)");
}

void PagedKvCache::allocate(int n, std::vector<int32_t>& out) {
  if (n <= 0) return;
  if (n > available())
    throw Error(ErrorCode::kOutOfMemory,
                "KV cache is out of blocks: " + std::to_string(n) + " needed, " +
                    std::to_string(available()) + " free of " + std::to_string(max_blocks_) +
                    " (blocks of " + std::to_string(block_size_) + " tokens)",
                "", device_.name());
  if (n > static_cast<int>(free_.size())) grow(num_blocks_ + n - static_cast<int>(free_.size()));
  for (int i = 0; i < n; ++i) {
    out.push_back(free_.back());
    free_.pop_back();
  }
}

void PagedKvCache::release(std::vector<int32_t>& blocks) {
  // Pushed in reverse so the sequence's first block is reused first.
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) free_.push_back(*it);
  blocks.clear();
}

uint64_t PagedKvCache::device_bytes() const {
  uint64_t b = 0;
  for (int l = 0; l < n_layer_; ++l) b += k_[l].nbytes() + v_[l].nbytes();
  return b;
}

}  // namespace rma::llm
