// cuda embedding: y[t] = table[ids[t]] for float tables (widened exactly)
// and q8_0 / q4_0 / q4_1 / q4_k / q5_k / q6_k tables (decoded exactly as
// include/rma/block_decode.h), rounded once to y's float dtype. ids (i32 or
// i64) are read back and checked first, so a bad id is an error naming it
// and its position, never an out-of-bounds read.
#include <algorithm>
#include <vector>

#include "common/op_checks.h"
#include "ops/embedding/config.h"
#include "ops/embedding/kernels/embedding.cuh"

namespace rma::cuda {
namespace {

constexpr const char* kOp = "embedding";

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_outputs < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs (ids, table) and one output",
                kOp);
  const rma_tensor &ids = call.inputs[0], &table = call.inputs[1], &y = call.outputs[0];
  if (ids.dtype != RMA_DTYPE_I32 && ids.dtype != RMA_DTYPE_I64)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: ids must be i32 or i64 (got %s)", kOp,
                dtype_label(ids.dtype));
  const bool quantized = is_block_quantized(table.dtype);
  if (!quantized)
    if (rma_status st = require_float_on(dev, kOp, "table", table, err)) return st;
  if (rma_status st = require_float_on(dev, kOp, "y", y, err)) return st;
  if (ids.ndim != 1 || table.ndim != 2 || y.ndim != 2 || y.shape[0] != ids.shape[0] ||
      y.shape[1] != table.shape[1])
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected ids[T], table[V, H], y[T, H]", kOp);
  if (quantized && table.shape[1] % block_shape(table.dtype).elems != 0)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: H (%lld) must be a multiple of %s's block of %d", kOp,
                static_cast<long long>(table.shape[1]), dtype_label(table.dtype),
                block_shape(table.dtype).elems);
  return require_dense(kOp, {&ids, &table, &y}, err);
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &ids = call.inputs[0], &table = call.inputs[1], &y = call.outputs[0];
  const int64_t tokens = ids.shape[0], vocab = table.shape[0], h = table.shape[1];
  if (tokens == 0 || h == 0) return RMA_STATUS_OK;
  const bool i64 = ids.dtype == RMA_DTYPE_I64;
  std::vector<int64_t> host(static_cast<size_t>(tokens));
  if (i64) {
    if (rma_status st = ctx.read_back(ctx, ptr<const void>(ids), host.size() * 8, host.data(), err))
      return st;
  } else {
    std::vector<int32_t> narrow(host.size());
    if (rma_status st =
            ctx.read_back(ctx, ptr<const void>(ids), narrow.size() * 4, narrow.data(), err))
      return st;
    std::copy(narrow.begin(), narrow.end(), host.begin());
  }
  for (int64_t t = 0; t < tokens; ++t)
    if (host[t] < 0 || host[t] >= vocab)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: id %lld at position %lld is outside the table's [0, %lld)", kOp,
                  static_cast<long long>(host[t]), static_cast<long long>(t),
                  static_cast<long long>(vocab));
  constexpr int kThreads = embedding_config::kThreads;
  const auto rows = static_cast<unsigned>(std::min<int64_t>(tokens, kMaxGridY));
  if (is_block_quantized(table.dtype)) {
    const BlockShape blk = block_shape(table.dtype);
    const int64_t chunks = h / kChunk, row_bytes = h / blk.elems * blk.bytes;
    const dim3 grid(std::min<unsigned>(grid_for(chunks, kThreads), 1024u), rows);
    embedding_quant_kernel<<<grid, kThreads, 0, ctx.stream>>>(
        ptr<const void>(ids), i64, ptr<const uint8_t>(table), table.dtype, row_bytes, ptr<void>(y),
        y.dtype, tokens, h);
  } else {
    const dim3 grid(std::min<unsigned>(grid_for(h, kThreads), 1024u), rows);
    embedding_float_kernel<<<grid, kThreads, 0, ctx.stream>>>(ptr<const void>(ids), i64,
                                                              ptr<const void>(table), table.dtype,
                                                              ptr<void>(y), y.dtype, tokens, h);
  }
  return check_launch(kOp, call, err);
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_EMBEDDING, supported, run);

}  // namespace rma::cuda
