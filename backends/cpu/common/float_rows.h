// Row access to float tensors (f32/f16/bf16) in f32 for op launchers: an f32
// tensor is used in place, the 16-bit types are converted through a caller's
// scratch buffer. Elements are counted from the tensor's element 0.
#pragma once

#include <cstdint>

#include "common/convert.h"
#include "common/cpu_op.h"

namespace rma::cpu {

inline int64_t float_bytes(int32_t dtype) { return dtype == RMA_DTYPE_F32 ? 4 : 2; }

inline uint8_t* elem_ptr(const rma_tensor& t, int64_t i) {
  return data<uint8_t>(t) + i * float_bytes(t.dtype);
}

// n elements from element i as f32: t's own memory when f32, else `buf`.
inline const float* read_f32(const rma_tensor& t, int64_t i, int64_t n, float* buf) {
  if (t.dtype == RMA_DTYPE_F32) return data<const float>(t) + i;
  load_f32(t.dtype, elem_ptr(t, i), buf, n);
  return buf;
}

// Where to compute n f32 results bound for element i of t: t's memory when
// f32, else `buf`; then write_f32 stores them.
inline float* out_f32(const rma_tensor& t, int64_t i, float* buf) {
  return t.dtype == RMA_DTYPE_F32 ? data<float>(t) + i : buf;
}

inline void write_f32(const rma_tensor& t, int64_t i, int64_t n, const float* src) {
  void* dst = elem_ptr(t, i);
  if (dst != src) store_f32(t.dtype, src, dst, n);
}

// Checks shared by the launchers' `supported`: arity and attributes.
inline rma_status check_arity(const rma_op_call& call, rma_error* err, const char* op,
                              int min_inputs, int num_outputs, bool needs_attrs) {
  if (call.num_inputs < min_inputs || call.num_outputs < num_outputs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected at least %d inputs and %d outputs",
                op, min_inputs, num_outputs);
  if (needs_attrs && call.attrs == nullptr)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: attributes missing", op);
  return RMA_STATUS_OK;
}

// The optional input i, or nullptr when absent or left out of the list.
inline const rma_tensor* optional_input(const rma_op_call& call, int i) {
  return call.num_inputs > i && present(call.inputs[i]) ? &call.inputs[i] : nullptr;
}

}  // namespace rma::cpu
