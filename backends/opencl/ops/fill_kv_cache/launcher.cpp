// opencl fill_kv_cache: k_cache[slot] = k[t], v_cache[slot] = v[t] in place
// for slot = slot_mapping[t] >= 0. k, v and the caches are each f32, f16 or
// bf16 (the caches may differ from k, v: each value is converted once). Slots
// are read back and checked on the host first, so a bad mapping is an error
// that writes nothing.
#include <vector>

#include "common/cl_device.h"
#include "ops/fill_kv_cache/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "fill_kv_cache";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 3 || call.num_outputs < 2)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected inputs (k, v, slot_mapping) and outputs (k_cache, v_cache)", kOp);
  const rma_tensor &k = call.inputs[0], &v = call.inputs[1], &slots = call.inputs[2];
  const rma_tensor &kc = call.outputs[0], &vc = call.outputs[1];
  if (v.dtype != k.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: k and v must share one dtype", kOp);
  if (kc.dtype != vc.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: k_cache and v_cache must share one dtype", kOp);
  if (rma_status st = require_float(kOp, "k", k, err)) return st;
  if (rma_status st = require_float(kOp, "k_cache", kc, err)) return st;
  if (slots.dtype != RMA_DTYPE_I32 && slots.dtype != RMA_DTYPE_I64)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: slot_mapping must be i32 or i64 (got %s)",
                kOp, dtype_label(slots.dtype));
  if (k.ndim != 3 || !same_shape(k, v) || slots.ndim != 1 || slots.shape[0] != k.shape[0] ||
      kc.ndim != 4 || !same_shape(kc, vc) || kc.shape[2] != k.shape[1] || kc.shape[3] != k.shape[2])
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected k, v [T,Hkv,D], slot_mapping[T], caches [num_blocks,block_size,Hkv,D]",
                kOp);
  if (!is_dense(k) || !is_dense(v) || !is_dense(slots) || !is_dense(kc) || !is_dense(vc))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status scatter(const Context& ctx, const rma_tensor& src, const rma_tensor& cache,
                   const rma_tensor& slots, cl_long row, cl_long tokens, rma_error* err) {
  cl_kernel k = nullptr;
  if (rma_status st = get_kernel(
          ctx.dev, "fill_kv_cache/fill_kv_cache", "fill_kv_cache",
          dtype_option("SRC_DTYPE", src.dtype) + dtype_option("CACHE_DTYPE", cache.dtype), &k, err))
    return st;
  ArgSetter set(k);
  set(mem_of(src))(elem_offset(src))(mem_of(cache))(elem_offset(cache));
  set(mem_of(slots))(cl_ulong(slots.offset))(cl_int(slots.dtype == RMA_DTYPE_I64 ? 1 : 0));
  set(row)(tokens);
  const size_t global[2] = {size_t(row), size_t(tokens)};
  return launch(ctx, k, kOp, set.status(), 2, global, nullptr, err);
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &k = call.inputs[0], &v = call.inputs[1], &slots = call.inputs[2];
  const rma_tensor &kc = call.outputs[0], &vc = call.outputs[1];
  const cl_long tokens = k.shape[0], row = k.shape[1] * k.shape[2];
  if (tokens == 0) return RMA_STATUS_OK;

  // Read the mapping back (ordered after earlier work on this queue) and
  // check every slot before writing any.
  const bool i64 = slots.dtype == RMA_DTYPE_I64;
  const size_t elem = i64 ? 8 : 4;
  std::vector<unsigned char> raw(size_t(tokens) * elem);
  const cl_int st = clEnqueueReadBuffer(ctx.queue, mem_of(slots), CL_TRUE, slots.offset,
                                        raw.size(), raw.data(), 0, nullptr, nullptr);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl: %s: reading slot_mapping: %s", kOp,
                cl_error_name(st));
  const int64_t capacity = kc.shape[0] * kc.shape[1];
  for (cl_long t = 0; t < tokens; ++t) {
    int64_t s = 0;
    if (i64) {
      __builtin_memcpy(&s, raw.data() + t * 8, 8);
    } else {
      int32_t s32 = 0;
      __builtin_memcpy(&s32, raw.data() + t * 4, 4);
      s = s32;
    }
    if (s >= capacity)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: slot_mapping[%lld] = %lld is outside the cache's %lld slots "
                  "(num_blocks * block_size)",
                  kOp, static_cast<long long>(t), static_cast<long long>(s),
                  static_cast<long long>(capacity));
  }
  if (row == 0) return RMA_STATUS_OK;
  if (rma_status s = scatter(ctx, k, kc, slots, row, tokens, err)) return s;
  return scatter(ctx, v, vc, slots, row, tokens, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_FILL_KV_CACHE, supported, run);

}  // namespace rma::opencl
