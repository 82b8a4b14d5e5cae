// cpu prefill_attention: packed sequences, causal / sliding-window masks,
// GQA and alibi. K is transposed once into f32 per kv head (and V converted
// to f32 when stored as f16/bf16), a phase of kv heads at a time; the work
// items (sequence x kv head x query block) then run flash-style, handed out
// dynamically, costliest first.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/float_rows.h"
#include "ops/prefill_attention/config.h"
#include "ops/prefill_attention/kernels/prefill_attention_kernel.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "prefill_attention";
constexpr int64_t kTile = prefill_attention_config::kKeyTile;

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_arity(call, err, kOp, 4, 1, true)) return st;
  const rma_tensor &q = call.inputs[0], &k = call.inputs[1], &v = call.inputs[2];
  const rma_tensor &cu = call.inputs[3], &o = call.outputs[0];
  const rma_tensor* alibi = optional_input(call, 4);
  if (!is_float_dtype(q.dtype) || k.dtype != q.dtype || v.dtype != q.dtype || o.dtype != q.dtype)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: cpu runs f32/f16/bf16 with one dtype", kOp);
  if (cu.dtype != RMA_DTYPE_I32 && cu.dtype != RMA_DTYPE_I64)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: cu_seqlens must be i32 or i64", kOp);
  if (alibi && alibi->dtype != RMA_DTYPE_F32)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: alibi_slopes must be f32", kOp);
  if (q.ndim != 3 || k.ndim != 3 || !same_shape(k, v) || k.shape[0] != q.shape[0] ||
      k.shape[2] != q.shape[2] || k.shape[1] < 1 || q.shape[1] % k.shape[1] != 0 ||
      cu.ndim != 1 || cu.shape[0] < 1 || !same_shape(q, o) ||
      (alibi && (alibi->ndim != 1 || alibi->shape[0] != q.shape[1])))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected q[T,Hq,D], k and v [T,Hkv,D] with Hkv dividing Hq, "
                "cu_seqlens[B+1], alibi_slopes?[Hq], o like q",
                kOp);
  if (q.shape[0] >= (int64_t{1} << 31) - 2 * kTile)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: T = %lld tokens is too many", kOp,
                static_cast<long long>(q.shape[0]));
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &q = call.inputs[0], &k = call.inputs[1], &v = call.inputs[2];
  const rma_tensor &cu_t = call.inputs[3], &o = call.outputs[0];
  const rma_tensor* alibi = optional_input(call, 4);
  const auto& attrs = *static_cast<const rma_attention_attrs*>(call.attrs);
  const int64_t tokens = q.shape[0], hq = q.shape[1], hkv = k.shape[1], d = q.shape[2];
  const int64_t group = hq / hkv;

  // cu_seqlens: 0, non-decreasing, T.
  const int64_t batch = cu_t.shape[0] - 1;
  std::vector<int64_t> cu(static_cast<size_t>(batch + 1));
  bool valid = true;
  for (int64_t b = 0; b <= batch; ++b) {
    cu[b] = load_index(cu_t, b);
    if (b > 0 && cu[b] < cu[b - 1]) valid = false;
  }
  if (!valid || cu[0] != 0 || cu[batch] != tokens) {
    std::string list;
    for (int64_t b = 0; b <= batch && list.size() < 200; ++b)
      list += (b ? ", " : "") + std::to_string(cu[b]);
    if (list.size() >= 200) list += ", ...";
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: cu_seqlens [%s] must start at 0, not decrease and end at T = %lld", kOp,
                list.c_str(), static_cast<long long>(tokens));
  }
  if (tokens == 0 || hq == 0 || d == 0) return RMA_STATUS_OK;

  // Work items: kItemRows query rows each (positions x the group's heads),
  // per kv head.
  const int64_t npos = std::max<int64_t>(1, prefill_attention_config::kItemRows / group);
  struct Work {
    PrefillAttentionItem item;
    int64_t cost;
  };
  std::vector<Work> items_of_head;  // the items of kv head 0; others differ only in g
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = cu[b + 1] - cu[b];
    for (int64_t i0 = 0; i0 < len; i0 += npos) {
      const int64_t i1 = std::min(len, i0 + npos);
      const int64_t lo =
          attrs.sliding_window > 0 ? std::max<int64_t>(0, i0 - attrs.sliding_window + 1) : 0;
      const int64_t hi = attrs.causal ? i1 : len;
      items_of_head.push_back({{cu[b], len, 0, i0, i1}, (i1 - i0) * (hi - lo + kTile)});
    }
  }

  PrefillAttentionArgs args{};
  args.q = data<const void>(q);
  args.o = data<void>(o);
  args.q_dtype = q.dtype;
  args.alibi = alibi ? data<const float>(*alibi) : nullptr;
  args.hq = hq;
  args.hkv = hkv;
  args.d = d;
  args.scale = attrs.scale;
  args.causal = attrs.causal;
  args.window = attrs.sliding_window;

  // kv heads run in phases whose transposed K (and f32 V, for 16-bit
  // inputs) fit kPhaseBytes, so long prompts do not double their memory.
  const int64_t kv_row = hkv * d;
  const int64_t kt_stride = tokens + kTile;
  const bool v_f32 = v.dtype == RMA_DTYPE_F32;
  const int64_t head_bytes = (kt_stride + (v_f32 ? 0 : tokens)) * d * 4;
  const int64_t phase_heads =
      std::clamp<int64_t>(prefill_attention_config::kPhaseBytes / head_bytes, 1, hkv);
  std::unique_ptr<float[]> kt(new float[phase_heads * d * kt_stride]);
  std::unique_ptr<float[]> vbuf(v_f32 ? nullptr : new float[tokens * phase_heads * d]);
  const int64_t scratch_floats = prefill_attention_scratch_floats(npos * group, d);
  constexpr int64_t kTokBlock = 16;  // tokens transposed together
  const int64_t tblocks = (tokens + kTokBlock - 1) / kTokBlock;

  for (int64_t g0 = 0; g0 < hkv; g0 += phase_heads) {
    const int64_t g1 = std::min(hkv, g0 + phase_heads), span = (g1 - g0) * d;
    // K of heads [g0, g1) to [head][D][T + kTile]; V to [T][head][D] f32.
    const int64_t grain = std::max<int64_t>(1, 4096 / (kTokBlock * span));
    ctx.pool.parallel_for(tblocks, grain, [&](int64_t b0, int64_t b1) {
      std::vector<float> buf(kTokBlock * span);
      for (int64_t tb = b0; tb < b1; ++tb) {
        const int64_t t0 = tb * kTokBlock, nt = std::min(kTokBlock, tokens - t0);
        for (int64_t t = 0; t < nt; ++t)
          load_f32(k.dtype, elem_ptr(k, (t0 + t) * kv_row + g0 * d), buf.data() + t * span, span);
        for (int64_t h = 0; h < g1 - g0; ++h)
          for (int64_t e = 0; e < d; ++e) {
            float* dst = kt.get() + (h * d + e) * kt_stride + t0;
            for (int64_t t = 0; t < nt; ++t) dst[t] = buf[t * span + h * d + e];
          }
        if (!v_f32)
          for (int64_t t = t0; t < t0 + nt; ++t)
            load_f32(v.dtype, elem_ptr(v, t * kv_row + g0 * d), vbuf.get() + t * span, span);
      }
    });
    for (int64_t row = 0; row < (g1 - g0) * d; ++row)
      std::fill(kt.get() + row * kt_stride + tokens, kt.get() + (row + 1) * kt_stride, 0.f);
    args.kt = kt.get();
    args.kt_stride = kt_stride;
    args.kt_g0 = g0;
    args.v = v_f32 ? data<const float>(v) : vbuf.get();
    args.v_ld = v_f32 ? kv_row : span;
    args.v_g0 = v_f32 ? 0 : g0;

    // Costliest items first, handed out one at a time.
    std::vector<Work> work;
    work.reserve(items_of_head.size() * (g1 - g0));
    for (int64_t g = g0; g < g1; ++g)
      for (Work w : items_of_head) {
        w.item.g = g;
        work.push_back(w);
      }
    std::stable_sort(work.begin(), work.end(),
                     [](const Work& x, const Work& y) { return x.cost > y.cost; });
    std::atomic<size_t> next{0};
    ctx.pool.run([&](int, int) {
      std::unique_ptr<float[]> scratch;
      for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < work.size();) {
        if (!scratch) scratch.reset(new float[scratch_floats]);
        prefill_attention_item(args, work[i].item, scratch.get());
      }
    });
  }
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_PREFILL_ATTENTION, supported, run);

}  // namespace rma::cpu
