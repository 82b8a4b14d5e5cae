// rma/npy.h — NumPy's .npy files as tensors, for `rma run` inputs and
// outputs and for tests.
//
// Formats 1.0, 2.0 and 3.0 (they differ only in the header-length field),
// little-endian data in C order. dtypes and what they read as:
//
//   '<f4' f32   '<f2' f16   '|i1' i8   '<i4' i32   '<i8' i64   '|b1' bool
//
// Anything else (f8, u1, big-endian, Fortran order, object arrays) is an
// rma::Error naming the file and what it holds. bf16 has no NumPy code:
// writing a bf16 tensor is an Error (convert to f32 first, see
// bf16_to_f32_tensor). Every malformed file is an Error naming the file and
// the byte offset or header field that is wrong, never a crash.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "rma/device.h"
#include "rma/tensor.h"

namespace rma {

// Reads `path` into a tensor on `device` (default: the host CPU).
Tensor load_npy(const std::string& path);
Tensor load_npy(const std::string& path, const Device& device);
// The same from bytes in memory; `name` stands for the file in messages.
Tensor parse_npy(std::span<const uint8_t> bytes, const std::string& name, const Device& device);

// Writes `tensor` (any device, any strides) as a version 1.0 file (2.0 when
// the header would not fit), atomically: a temp file renamed over `path`.
void save_npy(const std::string& path, const Tensor& tensor);
std::vector<uint8_t> encode_npy(const Tensor& tensor);

// The .npy dtype string of `dtype` ("<f4"); throws Error for dtypes with none.
std::string npy_descr(DType dtype);

// A bf16 tensor widened to f32 on the host (other dtypes: an Error).
Tensor bf16_to_f32_tensor(const Tensor& tensor);

}  // namespace rma
