// Reference implementations of every op: plain, obviously right, slow.
// They run on host memory (every rma_tensor's data is a host pointer, offset
// added) and are the oracle for conformance. Float math is done in double
// where accumulation order matters; outputs are rounded once to their dtype.
// Inputs are assumed to have passed the op's schema (infer_outputs).
#pragma once

#include <cstdint>
#include <vector>

#include "rma/dtype.h"
#include "rma/error.h"
#include "rma/plugin.h"

namespace rma::reference {

// Runs one call; throws rma::Error (e.g. an embedding id out of range).
void run(const rma_op_call& call);

// --- helpers shared by the op_*.cpp files -----------------------------------
inline bool present(const rma_tensor& t) { return t.ndim >= 0; }
int64_t numel(const rma_tensor& t);
inline DType dtype_of(const rma_tensor& t) { return static_cast<DType>(t.dtype); }
inline uint8_t* bytes(const rma_tensor& t) { return static_cast<uint8_t*>(t.data) + t.offset; }
// All elements as float, dense row-major (dequantizing quantized types).
std::vector<float> read_floats(const rma_tensor& t);
// Integer elements (i8/i32/i64/bool) as int64.
std::vector<int64_t> read_ints(const rma_tensor& t);
// Writes values (dense row-major) rounding to t's dtype (float or int types).
void write_floats(const rma_tensor& t, const std::vector<float>& values);
void write_ints(const rma_tensor& t, const std::vector<int64_t>& values);
// Element size in bytes of a non-quantized tensor.
inline int64_t elem_bytes(const rma_tensor& t) { return bytes_for(dtype_of(t), 1); }
// Row-major element strides of t's shape.
std::vector<int64_t> dense_strides(const rma_tensor& t);
// For every element of `out` (row-major), the flat index of the element of
// `in` it reads when `in` is broadcast to out's shape (numpy rules).
std::vector<int64_t> broadcast_index(const rma_tensor& in, const rma_tensor& out);
// Copies element `from` of `src` to element `to` of `dst` (same dtype).
void copy_element(const rma_tensor& src, int64_t from, const rma_tensor& dst, int64_t to);
// Calls fn(index) for every multi-index of `shape` in row-major order.
template <class Fn>
void for_each_index(const rma_tensor& t, Fn fn) {
  if (numel(t) == 0) return;
  std::vector<int64_t> index(static_cast<size_t>(t.ndim), 0);
  for (;;) {
    fn(static_cast<const std::vector<int64_t>&>(index));
    int d = t.ndim - 1;
    for (; d >= 0; --d) {
      if (++index[d] < t.shape[d]) break;
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

// One function per op, in op_<name>.cpp.
void linear(const rma_op_call& call);
void quant_linear(const rma_op_call& call);
void rms_norm(const rma_op_call& call);
void add_rms_norm(const rma_op_call& call);
void layer_norm(const rma_op_call& call);
void rope(const rma_op_call& call);
void fill_kv_cache(const rma_op_call& call);
void prefill_attention(const rma_op_call& call);
void paged_decode_attention(const rma_op_call& call);
void silu_and_mul(const rma_op_call& call);
void gelu_and_mul(const rma_op_call& call);
void embedding(const rma_op_call& call);
void moe_gating_topk_softmax(const rma_op_call& call);
void sample(const rma_op_call& call);
void softmax(const rma_op_call& call);
void add(const rma_op_call& call);
void mul(const rma_op_call& call);
void unary(const rma_op_call& call);
void binary(const rma_op_call& call);
void matmul(const rma_op_call& call);
void reduce(const rma_op_call& call);
void cast(const rma_op_call& call);
void where(const rma_op_call& call);
void gather(const rma_op_call& call);
void concat(const rma_op_call& call);
void slice(const rma_op_call& call);
void transpose(const rma_op_call& call);
void expand(const rma_op_call& call);
void conv2d(const rma_op_call& call);
void pool2d(const rma_op_call& call);

}  // namespace rma::reference
