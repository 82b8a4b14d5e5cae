// cuda fill_kv_cache: k_cache[slot] = k[t], v_cache[slot] = v[t] in place for
// slot = slot_mapping[t] >= 0. k, v and the caches are each f32, f16 or bf16
// (the caches may differ from k, v: each value is converted once); slots are
// i32 or i64. Outside graph capture the slots are read back and checked
// first, so a bad mapping is an error that writes nothing.
#include <cstdint>
#include <vector>

#include "common/cuda_op.h"
#include "common/kernel_utils.cuh"
#include "ops/fill_kv_cache/config.h"
#include "ops/fill_kv_cache/index_tensors.cuh"
#include "ops/fill_kv_cache/kernels/fill_kv_cache.cuh"

namespace rma::cuda {
namespace {

constexpr const char* kOp = "fill_kv_cache";

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 3 || call.num_outputs < 2)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected inputs (k, v, slot_mapping) and outputs (k_cache, v_cache)", kOp);
  const rma_tensor &k = call.inputs[0], &v = call.inputs[1], &slots = call.inputs[2];
  const rma_tensor &kc = call.outputs[0], &vc = call.outputs[1];
  if (!is_float_dtype(k.dtype) || v.dtype != k.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: k and v must share one float dtype (got %s, %s)", kOp, dtype_label(k.dtype),
                dtype_label(v.dtype));
  if (!is_float_dtype(kc.dtype) || vc.dtype != kc.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: k_cache and v_cache must share one float dtype (got %s, %s)", kOp,
                dtype_label(kc.dtype), dtype_label(vc.dtype));
  if ((k.dtype == RMA_DTYPE_BF16 || kc.dtype == RMA_DTYPE_BF16) && compute_capability(dev) < 80)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: bf16 needs sm_80 or newer (%s is sm_%d)", kOp,
                device_name(dev), compute_capability(dev));
  if (!is_index_dtype(slots.dtype))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: slot_mapping must be i32 or i64 (got %s)",
                kOp, dtype_label(slots.dtype));
  if (k.ndim != 3 || !same_shape(k, v) || slots.ndim != 1 || slots.shape[0] != k.shape[0] ||
      kc.ndim != 4 || !same_shape(kc, vc) || kc.shape[2] != k.shape[1] || kc.shape[3] != k.shape[2])
    return fail(
        err, RMA_STATUS_INVALID_ARGUMENT,
        "%s: expected k, v [T,Hkv,D], slot_mapping[T], caches [num_blocks,block_size,Hkv,D]", kOp);
  if (k.shape[0] > INT32_MAX)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: T = %lld tokens is over the cuda limit", kOp,
                static_cast<long long>(k.shape[0]));
  if (!is_dense(k) || !is_dense(v) || !is_dense(slots) || !is_dense(kc) || !is_dense(vc))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: cuda runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  if (rma_status st = supported(ctx.dev, call, err)) return st;
  const rma_tensor &k = call.inputs[0], &v = call.inputs[1], &slots = call.inputs[2];
  const rma_tensor &kc = call.outputs[0], &vc = call.outputs[1];
  const int64_t tokens = k.shape[0], row = k.shape[1] * k.shape[2];
  const int64_t capacity = kc.shape[0] * kc.shape[1];
  if (tokens == 0) return RMA_STATUS_OK;

  // Check every slot before writing any (not possible while capturing: the
  // kernel then skips out-of-range slots).
  if (!stream_capturing(ctx)) {
    std::vector<int64_t> sv;
    if (rma_status st = read_index_tensor(ctx, slots, &sv, err)) return st;
    for (size_t t = 0; t < sv.size(); ++t)
      if (sv[t] >= capacity)
        return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                    "%s: slot_mapping[%zu] = %lld is outside the cache's %lld slots "
                    "(num_blocks * block_size)",
                    kOp, t, static_cast<long long>(sv[t]), static_cast<long long>(capacity));
  }
  if (row == 0) return RMA_STATUS_OK;

  fill_kv_cache_kernels::FillParams p{};
  p.k = ptr(k);
  p.v = ptr(v);
  p.k_cache = ptr(kc);
  p.v_cache = ptr(vc);
  p.slots = ptr(slots);
  p.slots_i64 = slots.dtype == RMA_DTYPE_I64;
  p.row = row;
  p.capacity = capacity;
  const dim3 grid(static_cast<unsigned>(tokens));
  constexpr int kThreads = fill_kv_cache_config::kThreads;
  const int64_t row_bytes = row * plain_dtype_bytes(k.dtype);
  if (k.dtype == kc.dtype && row_bytes % 16 == 0 && aligned16(p.k) && aligned16(p.v) &&
      aligned16(p.k_cache) && aligned16(p.v_cache)) {
    fill_kv_cache_kernels::fill_kv_cache_copy16_kernel<<<grid, kThreads, 0, ctx.stream>>>(
        p, row_bytes / 16);
  } else {
    with_float_type(k.dtype, [&]<class Src>() {
      return with_float_type(kc.dtype, [&]<class Dst>() {
        fill_kv_cache_kernels::fill_kv_cache_kernel<Src, Dst><<<grid, kThreads, 0, ctx.stream>>>(p);
        return RMA_STATUS_OK;
      });
    });
  }
  return check_launch(kOp, call, err);
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_FILL_KV_CACHE, supported, run);

}  // namespace rma::cuda
