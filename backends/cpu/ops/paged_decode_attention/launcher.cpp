// cpu paged_decode_attention: one query token per sequence against a paged
// KV cache. Each kv head is processed with all query heads of its group, so
// each cache row is read once. Work units are a sequence's kv heads (all of
// them when sequences are plentiful: a token's heads are contiguous in the
// cache, and reading them together streams whole rows; chunks of heads when
// there are few sequences); when even that leaves threads idle, contexts
// are split into key ranges whose partial softmax states (max, sum,
// unnormalised output) are merged at the end.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <vector>

#include "common/float_rows.h"
#include "ops/paged_decode_attention/config.h"
#include "ops/paged_decode_attention/kernels/paged_decode_attention_kernel.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "paged_decode_attention";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_arity(call, err, kOp, 5, 1, true)) return st;
  const rma_tensor &q = call.inputs[0], &kc = call.inputs[1], &vc = call.inputs[2];
  const rma_tensor &table = call.inputs[3], &lens = call.inputs[4], &o = call.outputs[0];
  const rma_tensor* alibi = optional_input(call, 5);
  if (!is_float_dtype(q.dtype) || o.dtype != q.dtype || !is_float_dtype(kc.dtype) ||
      vc.dtype != kc.dtype)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: cpu runs float q and o (one dtype) over float caches (one dtype)", kOp);
  const auto is_index = [](const rma_tensor& t) {
    return t.dtype == RMA_DTYPE_I32 || t.dtype == RMA_DTYPE_I64;
  };
  if (!is_index(table) || !is_index(lens))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: block_table and context_lens must be i32/i64",
                kOp);
  if (alibi && alibi->dtype != RMA_DTYPE_F32)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: alibi_slopes must be f32", kOp);
  if (q.ndim != 3 || kc.ndim != 4 || !same_shape(kc, vc) || kc.shape[3] != q.shape[2] ||
      kc.shape[1] < 1 || kc.shape[2] < 1 || q.shape[1] % kc.shape[2] != 0 || table.ndim != 2 ||
      table.shape[0] != q.shape[0] || lens.ndim != 1 || lens.shape[0] != q.shape[0] ||
      !same_shape(q, o) || (alibi && (alibi->ndim != 1 || alibi->shape[0] != q.shape[1])))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected q[B,Hq,D], caches [num_blocks, block_size, Hkv, D] with Hkv "
                "dividing Hq, block_table[B, max_blocks], context_lens[B], alibi_slopes?[Hq]",
                kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &q = call.inputs[0], &kc = call.inputs[1], &vc = call.inputs[2];
  const rma_tensor &table_t = call.inputs[3], &lens_t = call.inputs[4], &o = call.outputs[0];
  const rma_tensor* alibi = optional_input(call, 5);
  const auto& attrs = *static_cast<const rma_attention_attrs*>(call.attrs);
  const int64_t batch = q.shape[0], hq = q.shape[1], d = q.shape[2];
  const int64_t num_blocks = kc.shape[0], block_size = kc.shape[1], hkv = kc.shape[2];
  const int64_t max_blocks = table_t.shape[1], group = hq / hkv;
  const int32_t window = attrs.sliding_window;

  // Each sequence's attended keys [lo, len); only their table entries are
  // looked up (and checked).
  std::vector<int64_t> lens(batch), first(batch), table(batch * max_blocks);
  for (int64_t b = 0; b < batch; ++b) {
    lens[b] = load_index(lens_t, b);
    if (lens[b] < 0 || lens[b] > max_blocks * block_size)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: context_lens[%lld] = %lld is outside [0, %lld] (max_blocks * block_size)",
                  kOp, static_cast<long long>(b), static_cast<long long>(lens[b]),
                  static_cast<long long>(max_blocks * block_size));
    first[b] = window > 0 ? std::max<int64_t>(0, lens[b] - window) : 0;
    if (lens[b] == 0) continue;
    for (int64_t e = first[b] / block_size; e <= (lens[b] - 1) / block_size; ++e) {
      const int64_t block = load_index(table_t, b * max_blocks + e);
      if (block < 0 || block >= num_blocks)
        return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                    "%s: block_table[%lld, %lld] = %lld is outside [0, %lld)", kOp,
                    static_cast<long long>(b), static_cast<long long>(e),
                    static_cast<long long>(block), static_cast<long long>(num_blocks));
      table[b * max_blocks + e] = block;
    }
  }
  if (batch == 0 || hq == 0 || d == 0) return RMA_STATUS_OK;

  // Work units: a sequence's kv heads in chunks (whole token rows of the
  // cache when there are enough sequences, so reads are contiguous), and
  // the context split into key ranges when that still leaves threads idle.
  const int64_t threads = ctx.pool.size();
  const int64_t chunks_wanted =
      std::clamp<int64_t>((2 * threads + batch - 1) / batch, 1, hkv);
  const int64_t heads_per_unit = (hkv + chunks_wanted - 1) / chunks_wanted;
  const int64_t chunks = (hkv + heads_per_unit - 1) / heads_per_unit;
  const int64_t want_splits =
      batch * chunks >= threads ? 1 : (threads + batch * chunks - 1) / (batch * chunks);
  struct Unit {
    int64_t b, g0, g1, j0, j1, slot;  // slot: partial state of (b, split, g0)
  };
  std::vector<Unit> units;
  std::vector<int64_t> splits(batch), slot0(batch);
  int64_t slots = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t keys = lens[b] - first[b];
    splits[b] = std::clamp<int64_t>(keys / paged_decode_config::kMinSplitKeys, 1, want_splits);
    slot0[b] = slots;
    slots += hkv * splits[b];
    if (keys == 0) continue;
    for (int64_t s = 0; s < splits[b]; ++s)
      for (int64_t g0 = 0; g0 < hkv; g0 += heads_per_unit)
        units.push_back({b, g0, std::min(hkv, g0 + heads_per_unit),
                         first[b] + keys * s / splits[b], first[b] + keys * (s + 1) / splits[b],
                         slot0[b] + s * hkv + g0});
  }
  std::stable_sort(units.begin(), units.end(), [](const Unit& x, const Unit& y) {
    return (x.j1 - x.j0) * (x.g1 - x.g0) > (y.j1 - y.j0) * (y.g1 - y.g0);
  });

  // Partial state of a slot (b, split, kv head): m[group], l[group], acc[group][d].
  const int64_t state = group * (d + 2);
  // Reused across calls: a decode step runs every token, and fresh large
  // buffers would cost page faults each time.
  thread_local std::vector<float> partial_buf;
  if (partial_buf.size() < static_cast<size_t>(slots * state)) partial_buf.resize(slots * state);
  float* const partial = partial_buf.data();
  PagedDecodeArgs args{};
  args.q = data<const void>(q);
  args.q_dtype = q.dtype;
  args.k_cache = data<const void>(kc);
  args.v_cache = data<const void>(vc);
  args.cache_dtype = kc.dtype;
  args.block_table = table.data();
  args.max_blocks = max_blocks;
  args.block_size = block_size;
  args.hq = hq;
  args.hkv = hkv;
  args.d = d;
  args.alibi = alibi ? data<const float>(*alibi) : nullptr;
  args.scale = attrs.scale;

  const int64_t scratch_floats = paged_decode_scratch_floats(heads_per_unit, group, d);
  std::atomic<size_t> next{0};
  ctx.pool.run([&](int, int) {
    thread_local std::vector<float> scratch;
    if (scratch.size() < static_cast<size_t>(scratch_floats)) scratch.resize(scratch_floats);
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < units.size();) {
      const Unit& u = units[i];
      paged_decode_partial(args, u.b, u.g0, u.g1, lens[u.b], u.j0, u.j1, partial + u.slot * state,
                           scratch.data());
    }
  });

  // Merge the splits of each head: o = sum_s e^(m_s - m) acc_s / sum_s e^(m_s - m) l_s.
  const int64_t ob = float_bytes(o.dtype);
  const int64_t grain = std::max<int64_t>(1, 4096 / (group * d));
  ctx.pool.parallel_for(batch * hkv, grain, [&](int64_t p0, int64_t p1) {
    std::vector<float> out(d);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p / hkv, g = p % hkv;
      for (int64_t r = 0; r < group; ++r) {
        std::fill(out.begin(), out.end(), 0.f);
        if (lens[b] > first[b]) {
          const float* base = partial + (slot0[b] + g) * state;
          const int64_t stride = hkv * state;  // from one split to the next
          float m = -INFINITY;
          for (int64_t s = 0; s < splits[b]; ++s) m = std::max(m, base[s * stride + r]);
          double l = 0;
          for (int64_t s = 0; s < splits[b]; ++s) {
            const float* st = base + s * stride;
            if (st[r] == -INFINITY) continue;
            const float w = std::exp(st[r] - m);
            l += double(w) * st[group + r];
            const float* acc = st + 2 * group + r * d;
            for (int64_t e = 0; e < d; ++e) out[e] += w * acc[e];
          }
          const float inv = l > 0 ? static_cast<float>(1.0 / l) : 0.f;
          for (int64_t e = 0; e < d; ++e) out[e] *= inv;
        }
        store_f32(o.dtype, out.data(), data<uint8_t>(o) + (b * hq + g * group + r) * d * ob, d);
      }
    }
  });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_PAGED_DECODE_ATTENTION, supported, run);

}  // namespace rma::cpu
