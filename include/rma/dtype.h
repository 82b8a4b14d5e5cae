// rma/dtype.h — element types: names, sizes and block layouts.
// Header-only; usable by backends that see only the core headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "rma/plugin.h"

namespace rma {

enum class DType : int32_t {
  kF32 = RMA_DTYPE_F32,
  kF16 = RMA_DTYPE_F16,
  kBF16 = RMA_DTYPE_BF16,
  kI8 = RMA_DTYPE_I8,
  kI32 = RMA_DTYPE_I32,
  kI64 = RMA_DTYPE_I64,
  kBool = RMA_DTYPE_BOOL,
  kQ8_0 = RMA_DTYPE_Q8_0,
  kQ4_0 = RMA_DTYPE_Q4_0,
  kQ4_1 = RMA_DTYPE_Q4_1,
  kQ4_K = RMA_DTYPE_Q4_K,
  kQ6_K = RMA_DTYPE_Q6_K,
  kQ5_K = RMA_DTYPE_Q5_K,
};

struct DTypeInfo {
  std::string_view name;
  int64_t block_elems;  // 1 for plain types
  int64_t block_bytes;  // bytes of one block (= element size for plain types)
  bool is_float;        // f32, f16, bf16
  bool is_quantized;    // block-quantized weights
};

constexpr DTypeInfo kDTypeInfo[RMA_DTYPE_COUNT] = {
    {"f32", 1, 4, true, false},      {"f16", 1, 2, true, false},
    {"bf16", 1, 2, true, false},     {"i8", 1, 1, false, false},
    {"i32", 1, 4, false, false},     {"i64", 1, 8, false, false},
    {"bool", 1, 1, false, false},    {"q8_0", 32, 34, false, true},
    {"q4_0", 32, 18, false, true},   {"q4_1", 32, 20, false, true},
    {"q4_k", 256, 144, false, true}, {"q6_k", 256, 210, false, true},
    {"q5_k", 256, 176, false, true},
};

constexpr bool is_valid(int32_t dt) { return dt >= 0 && dt < RMA_DTYPE_COUNT; }
constexpr const DTypeInfo& info(DType dt) { return kDTypeInfo[static_cast<int32_t>(dt)]; }
constexpr std::string_view name(DType dt) { return info(dt).name; }
constexpr bool is_float(DType dt) { return info(dt).is_float; }
constexpr bool is_quantized(DType dt) { return info(dt).is_quantized; }
constexpr int64_t block_elems(DType dt) { return info(dt).block_elems; }
constexpr int64_t block_bytes(DType dt) { return info(dt).block_bytes; }

// Bytes taken by `elems` consecutive elements (a multiple of the block size
// for quantized types).
constexpr int64_t bytes_for(DType dt, int64_t elems) {
  return elems / block_elems(dt) * block_bytes(dt);
}

inline std::optional<DType> parse_dtype(std::string_view s) {
  for (int32_t i = 0; i < RMA_DTYPE_COUNT; ++i)
    if (kDTypeInfo[i].name == s) return static_cast<DType>(i);
  if (s == "q4_K") return DType::kQ4_K;
  if (s == "q6_K") return DType::kQ6_K;
  if (s == "q5_K") return DType::kQ5_K;
  return std::nullopt;
}

}  // namespace rma
