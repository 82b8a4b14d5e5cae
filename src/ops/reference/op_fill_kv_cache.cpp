// fill_kv_cache: scatter k, v rows into the paged caches in place,
// docs/ops.md "fill_kv_cache".
#include <cstring>

#include "ops/reference/reference.h"
#include "rma/half.h"

namespace rma::reference {
namespace {

// Writes `n` values at element `first` of a float tensor, leaving the rest of
// its storage untouched (write_floats would rewrite the whole cache).
void store_floats(const rma_tensor& t, int64_t first, const float* v, int64_t n) {
  uint8_t* p = bytes(t);
  switch (dtype_of(t)) {
    case DType::kF32: std::memcpy(p + first * 4, v, static_cast<size_t>(n) * 4); break;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_f16(v[i]);
        std::memcpy(p + (first + i) * 2, &h, 2);
      }
      break;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_bf16(v[i]);
        std::memcpy(p + (first + i) * 2, &h, 2);
      }
      break;
    default:
      throw Error(ErrorCode::kInvalidArgument,
                  "cache dtype " + std::string(name(dtype_of(t))) + " is not a float type",
                  "fill_kv_cache");
  }
}

void scatter(const rma_tensor& src, const rma_tensor& cache, const std::vector<int64_t>& slots) {
  const std::vector<float> v = read_floats(src);
  const int64_t row = cache.shape[2] * cache.shape[3];  // Hkv * D
  if (row == 0) return;
  for (size_t t = 0; t < slots.size(); ++t)
    if (slots[t] >= 0) store_floats(cache, slots[t] * row, v.data() + t * row, row);
}

}  // namespace

void fill_kv_cache(const rma_op_call& call) {
  const rma_tensor& k_cache = call.outputs[0];
  const rma_tensor& v_cache = call.outputs[1];
  const std::vector<int64_t> slots = read_ints(call.inputs[2]);

  // Check every slot before writing any, so a bad mapping changes nothing.
  const int64_t capacity = k_cache.shape[0] * k_cache.shape[1];
  for (size_t t = 0; t < slots.size(); ++t) {
    if (slots[t] >= capacity)
      throw Error(ErrorCode::kInvalidArgument,
                  "slot_mapping[" + std::to_string(t) + "] = " + std::to_string(slots[t]) +
                      " is outside the cache's " + std::to_string(capacity) +
                      " slots (num_blocks * block_size)",
                  "fill_kv_cache");
  }
  scatter(call.inputs[0], k_cache, slots);
  scatter(call.inputs[1], v_cache, slots);
}

}  // namespace rma::reference
