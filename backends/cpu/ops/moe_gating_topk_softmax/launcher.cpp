// cpu moe_gating_topk_softmax: per token, the router softmax and the k most
// probable experts (descending; ties to the lower id), optionally
// renormalised. Rows in parallel.
//
// Experts are ranked by logit, not by the rounded f32 probability: the
// probability is monotonic in the logit, so this is the exact order of the
// reference's double probabilities, where two f32 probabilities could tie.
// The one exception is kept too: where the reference's exp underflows to 0
// (logit - max below about -745) those experts tie at 0 and go by id.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "common/float_rows.h"
#include "ops/moe_gating_topk_softmax/config.h"
#include "ops/moe_gating_topk_softmax/kernels/moe_gating_kernel.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "moe_gating_topk_softmax";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_arity(call, err, kOp, 1, 2, true)) return st;
  const rma_tensor &x = call.inputs[0], &w = call.outputs[0], &ids = call.outputs[1];
  const auto& a = *static_cast<const rma_moe_gating_attrs*>(call.attrs);
  if (!is_float_dtype(x.dtype) || w.dtype != RMA_DTYPE_F32 || ids.dtype != RMA_DTYPE_I32)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: cpu runs float logits to f32 weights and i32 ids", kOp);
  if (x.ndim != 2 || a.k < 1 || a.k > x.shape[1] || w.ndim != 2 || ids.ndim != 2 ||
      w.shape[0] != x.shape[0] || w.shape[1] != a.k || !same_shape(w, ids))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected logits[T,E], 1 <= k <= E, outputs [T,k]", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  const rma_tensor &x = call.inputs[0], &wt = call.outputs[0], &it = call.outputs[1];
  const auto& a = *static_cast<const rma_moe_gating_attrs*>(call.attrs);
  const int64_t tokens = x.shape[0], experts = x.shape[1], k = a.k;
  if (tokens == 0 || experts == 0) return RMA_STATUS_OK;
  const bool f32 = x.dtype == RMA_DTYPE_F32;

  const int64_t grain = std::max<int64_t>(1, moe_gating_config::kChunkElems / experts);
  ctx.pool.parallel_for(tokens, grain, [&](int64_t t0, int64_t t1) {
    std::vector<float> xb(f32 ? 0 : experts), p(experts), key(experts);
    std::vector<int32_t> order(experts);
    for (int64_t t = t0; t < t1; ++t) {
      const float* l = read_f32(x, t * experts, experts, xb.data());
      const float mx = moe_softmax_row(l, p.data(), experts);
      for (int64_t e = 0; e < experts; ++e) {
        key[e] = l[e];
        // NaN would break the ordering; it ranks last.
        if (std::isnan(key[e]) ||
            (double(l[e]) - mx < -700.0 && std::exp(double(l[e]) - mx) == 0.0))
          key[e] = -INFINITY;
      }
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t i, int32_t j) {
        return key[i] > key[j] || (key[i] == key[j] && i < j);
      });
      float* w = data<float>(wt) + t * k;
      int32_t* ids = data<int32_t>(it) + t * k;
      double kept = 0;
      for (int64_t j = 0; j < k; ++j) kept += p[order[j]];
      for (int64_t j = 0; j < k; ++j) {
        w[j] = a.renormalize ? static_cast<float>(p[order[j]] / kept) : p[order[j]];
        ids[j] = order[j];
      }
    }
  });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_MOE_GATING_TOPK_SOFTMAX, supported, run);

}  // namespace rma::cpu
