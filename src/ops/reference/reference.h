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

}  // namespace rma::reference
