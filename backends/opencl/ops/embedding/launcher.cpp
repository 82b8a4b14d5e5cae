// opencl embedding: y[t] = table[ids[t]], decoded in the kernel from f32,
// f16, bf16, q8_0, q4_0, q4_1, q4_k, q5_k, q6_k tables (as
// include/rma/block_decode.h) and stored in y's float dtype (f32, f16, bf16
// through common/kernels/dtype.cl: no cl_khr_fp16 needed). ids are read back
// and checked on the host: an id outside [0, V) is an error naming the id and
// its position.
#include <vector>

#include "common/cl_device.h"
#include "ops/embedding/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "embedding";

rma_status supported(const ClDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_outputs < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs (ids, table) and one output", kOp);
  const rma_tensor &ids = call.inputs[0], &table = call.inputs[1], &y = call.outputs[0];
  if (ids.dtype != RMA_DTYPE_I32 && ids.dtype != RMA_DTYPE_I64)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: ids must be i32 or i64 (got %s)", kOp,
                dtype_label(ids.dtype));
  const Block blk = block_of(table.dtype);
  if (blk.elems == 0)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the opencl backend does not read %s tables", kOp,
                dtype_label(table.dtype));
  if (rma_status st = require_float(kOp, "y", y, err)) return st;
  if (ids.ndim != 1 || table.ndim != 2 || y.ndim != 2 || y.shape[0] != ids.shape[0] ||
      y.shape[1] != table.shape[1])
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected ids[T], table[V,H], y[T,H]", kOp);
  if (table.shape[1] % blk.elems != 0)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: H (%lld) must be a multiple of %s's block of %lld",
                kOp, static_cast<long long>(table.shape[1]), dtype_label(table.dtype),
                static_cast<long long>(blk.elems));
  if (!is_dense(ids) || !is_dense(table) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &ids = call.inputs[0], &table = call.inputs[1], &y = call.outputs[0];
  const cl_long tokens = ids.shape[0], h = table.shape[1], vocab = table.shape[0];
  if (tokens == 0) return RMA_STATUS_OK;

  // Read the ids back (ordered after earlier work on this queue) and check
  // them all before launching.
  const bool i64 = ids.dtype == RMA_DTYPE_I64;
  const size_t elem = i64 ? 8 : 4;
  std::vector<unsigned char> raw(size_t(tokens) * elem);
  const cl_int st = clEnqueueReadBuffer(ctx.queue, mem_of(ids), CL_TRUE, ids.offset, raw.size(),
                                        raw.data(), 0, nullptr, nullptr);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl: %s: reading ids: %s", kOp, cl_error_name(st));
  for (cl_long t = 0; t < tokens; ++t) {
    int64_t id = 0;
    if (i64) {
      __builtin_memcpy(&id, raw.data() + t * 8, 8);
    } else {
      int32_t id32 = 0;
      __builtin_memcpy(&id32, raw.data() + t * 4, 4);
      id = id32;
    }
    if (id < 0 || id >= vocab)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: id %lld at position %lld is outside the table's [0, %lld)", kOp,
                  static_cast<long long>(id), static_cast<long long>(t),
                  static_cast<long long>(vocab));
  }
  if (h == 0) return RMA_STATUS_OK;

  const Block blk = block_of(table.dtype);
  const cl_ulong row_bytes = cl_ulong(h / blk.elems * blk.bytes);
  cl_kernel k = nullptr;
  if (rma_status s = get_kernel(ctx.dev, "embedding/embedding", "embedding",
                                dtype_option("OUT", y.dtype), &k, err))
    return s;
  ArgSetter set(k);
  set(mem_of(ids))(cl_ulong(ids.offset))(cl_int(i64 ? 1 : 0));
  set(mem_of(table))(cl_ulong(table.offset))(row_bytes)(cl_int(table.dtype));
  set(mem_of(y))(elem_offset(y))(h)(tokens);
  const size_t global[2] = {size_t(h), size_t(tokens)};
  return launch(ctx, k, kOp, set.status(), 2, global, nullptr, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_EMBEDDING, supported, run);

}  // namespace rma::opencl
