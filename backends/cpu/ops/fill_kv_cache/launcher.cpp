// cpu fill_kv_cache: scatters k and v rows into the paged caches in place.
// Every slot is checked before anything is written; when a slot repeats, the
// last token wins as in a serial scatter, also with tokens split across threads.
#include <algorithm>
#include <vector>

#include "common/float_rows.h"
#include "ops/fill_kv_cache/config.h"
#include "ops/fill_kv_cache/kernels/fill_kv_cache_kernel.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "fill_kv_cache";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_arity(call, err, kOp, 3, 2, false)) return st;
  const rma_tensor &k = call.inputs[0], &v = call.inputs[1], &slots = call.inputs[2];
  const rma_tensor &kc = call.outputs[0], &vc = call.outputs[1];
  if (!is_float_dtype(k.dtype) || v.dtype != k.dtype || !is_float_dtype(kc.dtype) ||
      vc.dtype != kc.dtype)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: cpu runs float k/v (one dtype) into float caches (one dtype)", kOp);
  if (slots.dtype != RMA_DTYPE_I32 && slots.dtype != RMA_DTYPE_I64)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: slot_mapping must be i32 or i64", kOp);
  if (k.ndim != 3 || !same_shape(k, v) || slots.ndim != 1 || slots.shape[0] != k.shape[0] ||
      kc.ndim != 4 || !same_shape(kc, vc) || kc.shape[2] != k.shape[1] || kc.shape[3] != k.shape[2])
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected k, v [T,Hkv,D], slot_mapping[T], caches [blocks, block_size, Hkv, D]",
                kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &k = call.inputs[0], &v = call.inputs[1], &sm = call.inputs[2];
  const rma_tensor &kc = call.outputs[0], &vc = call.outputs[1];
  const int64_t tokens = k.shape[0], row = k.shape[1] * k.shape[2];
  const int64_t capacity = kc.shape[0] * kc.shape[1];

  std::vector<int64_t> slots(static_cast<size_t>(tokens));
  for (int64_t t = 0; t < tokens; ++t) {
    slots[t] = load_index(sm, t);
    if (slots[t] >= capacity)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: slot_mapping[%lld] = %lld is outside the cache's %lld slots "
                  "(num_blocks * block_size)",
                  kOp, static_cast<long long>(t), static_cast<long long>(slots[t]),
                  static_cast<long long>(capacity));
  }
  if (tokens == 0 || row == 0) return RMA_STATUS_OK;

  const int64_t grain = std::max<int64_t>(1, fill_kv_cache_config::kChunkElems / (2 * row));
  if (tokens > grain && ctx.pool.size() > 1) {
    // Repeated slots: keep only the last writer so threads never race on one.
    std::vector<std::pair<int64_t, int64_t>> order;  // (slot, token)
    order.reserve(slots.size());
    for (int64_t t = 0; t < tokens; ++t)
      if (slots[t] >= 0) order.emplace_back(slots[t], t);
    std::sort(order.begin(), order.end());
    for (size_t i = 0; i + 1 < order.size(); ++i)
      if (order[i].first == order[i + 1].first) slots[order[i].second] = -1;
  }

  const int32_t in_dt = k.dtype, cache_dt = kc.dtype;
  const int64_t in_b = float_bytes(in_dt), cache_b = float_bytes(cache_dt);
  ctx.pool.parallel_for(tokens, grain, [&](int64_t t0, int64_t t1) {
    std::vector<float> scratch(in_dt != cache_dt && in_dt != RMA_DTYPE_F32 &&
                                       cache_dt != RMA_DTYPE_F32
                                   ? row
                                   : 0);
    for (int64_t t = t0; t < t1; ++t) {
      if (slots[t] < 0) continue;
      kv_copy_row(in_dt, data<uint8_t>(k) + t * row * in_b, cache_dt,
                  data<uint8_t>(kc) + slots[t] * row * cache_b, row, scratch.data());
      kv_copy_row(in_dt, data<uint8_t>(v) + t * row * in_b, cache_dt,
                  data<uint8_t>(vc) + slots[t] * row * cache_b, row, scratch.data());
    }
  });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_FILL_KV_CACHE, supported, run);

}  // namespace rma::cpu
