// cpu embedding: y[t] = table[ids[t]] in y's float dtype (the caller's
// choice): rows of a float table in its own dtype are copied, other rows
// (q8_0, q4_0, q4_1, q4_k, q5_k, q6_k tables, or float tables converted to
// another float dtype) decoded; ids checked before any row is written; rows
// gathered in parallel.
#include <algorithm>
#include <vector>

#include "common/dequant.h"
#include "common/float_rows.h"
#include "ops/embedding/config.h"
#include "ops/embedding/kernels/embedding_kernel.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "embedding";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_arity(call, err, kOp, 2, 1, false)) return st;
  const rma_tensor &ids = call.inputs[0], &table = call.inputs[1], &y = call.outputs[0];
  if (ids.dtype != RMA_DTYPE_I32 && ids.dtype != RMA_DTYPE_I64)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: ids must be i32 or i64", kOp);
  if (!can_dequantize(table.dtype))
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: cpu reads f32/f16/bf16/q8_0/q4_0/q4_1/q4_k/q5_k/q6_k tables, got dtype %d",
                kOp, table.dtype);
  if (!is_float_dtype(y.dtype))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: output must be f32, f16 or bf16, got %s", kOp,
                dtype_name(y.dtype));
  if (ids.ndim != 1 || table.ndim != 2 || y.ndim != 2 || y.shape[0] != ids.shape[0] ||
      y.shape[1] != table.shape[1])
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected ids[T], table[V,H], y[T,H]", kOp);
  if (table.shape[1] % block_elems(dtype_of(table)) != 0)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: H = %lld is not a whole number of blocks",
                kOp, static_cast<long long>(table.shape[1]));
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &ids = call.inputs[0], &table = call.inputs[1], &y = call.outputs[0];
  const int64_t tokens = ids.shape[0], vocab = table.shape[0], h = table.shape[1];
  for (int64_t t = 0; t < tokens; ++t) {
    const int64_t id = load_index(ids, t);
    if (id < 0 || id >= vocab)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: id %lld at position %lld is outside the table's [0, %lld)", kOp,
                  static_cast<long long>(id), static_cast<long long>(t),
                  static_cast<long long>(vocab));
  }
  if (tokens == 0 || h == 0) return RMA_STATUS_OK;

  const int64_t row_bytes = bytes_for(dtype_of(table), h);
  const int64_t out_bytes = float_bytes(y.dtype);
  const int64_t grain = std::max<int64_t>(1, embedding_config::kChunkElems / h);
  ctx.pool.parallel_for(tokens, grain, [&](int64_t t0, int64_t t1) {
    std::vector<float> scratch(y.dtype == RMA_DTYPE_F32 || y.dtype == table.dtype ? 0 : h);
    for (int64_t t = t0; t < t1; ++t)
      embedding_row(table.dtype, data<const uint8_t>(table) + load_index(ids, t) * row_bytes,
                    y.dtype, data<uint8_t>(y) + t * h * out_bytes, h, scratch.data());
  });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_EMBEDDING, supported, run);

}  // namespace rma::cpu
