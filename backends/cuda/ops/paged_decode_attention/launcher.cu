// cuda paged_decode_attention: one query per sequence against a paged KV
// cache; GQA, sliding window, optional ALiBi; q/o and the cache each f32,
// f16 or bf16 (computed in f32, o rounded once), i32 block_table and
// context_lens; head dims up to 256. Split-K over partitions of the context
// with a log-sum-exp merge for long contexts, one pass for short ones; each
// cache row is read once per block of up to 8 query heads of a kv head's
// group, with 16-byte loads (see kernels/paged_decode.cuh).
//
// Outside graph capture, block_table and context_lens are read back and
// checked first (every entry a sequence's context reaches), as the other
// backends do; under capture the kernel skips bad entries instead.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/cuda_op.h"
#include "common/kernel_utils.cuh"
#include "ops/fill_kv_cache/index_tensors.cuh"
#include "ops/paged_decode_attention/config.h"
#include "ops/paged_decode_attention/kernels/paged_decode.cuh"
#include "ops/prefill_attention/kernels/attention_math.h"

namespace rma::cuda {
namespace {

constexpr const char* kOp = "paged_decode_attention";
namespace cfg = paged_decode_attention_config;
namespace kern = paged_decode_kernels;

const rma_tensor* alibi_of(const rma_op_call& call) {
  return call.num_inputs > 5 && present(call.inputs[5]) ? &call.inputs[5] : nullptr;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 5 || call.num_outputs < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected inputs (q, k_cache, v_cache, block_table, context_lens, alibi?) "
                "and one output",
                kOp);
  const auto* attrs = static_cast<const rma_attention_attrs*>(call.attrs);
  if (!attrs || attrs->struct_size < sizeof(rma_attention_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_attention_attrs missing or too small",
                kOp);
  const rma_tensor &q = call.inputs[0], &kc = call.inputs[1], &vc = call.inputs[2],
                   &table = call.inputs[3], &lens = call.inputs[4], &o = call.outputs[0];
  const rma_tensor* alibi = alibi_of(call);
  if (!is_float_dtype(q.dtype) || o.dtype != q.dtype || !is_float_dtype(kc.dtype) ||
      vc.dtype != kc.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: q and o must share a float dtype, k_cache and v_cache another (got %s, %s, "
                "%s, %s)",
                kOp, dtype_label(q.dtype), dtype_label(o.dtype), dtype_label(kc.dtype),
                dtype_label(vc.dtype));
  if ((q.dtype == RMA_DTYPE_BF16 || kc.dtype == RMA_DTYPE_BF16) && compute_capability(dev) < 80)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: bf16 needs sm_80 or newer (%s is sm_%d)", kOp,
                device_name(dev), compute_capability(dev));
  if (table.dtype != RMA_DTYPE_I32 || lens.dtype != RMA_DTYPE_I32)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: block_table and context_lens must be i32 (got %s, %s)", kOp,
                dtype_label(table.dtype), dtype_label(lens.dtype));
  if (alibi && alibi->dtype != RMA_DTYPE_F32)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: alibi_slopes must be f32 (got %s)", kOp,
                dtype_label(alibi->dtype));
  if (q.ndim != 3 || kc.ndim != 4 || !same_shape(kc, vc) || kc.shape[3] != q.shape[2] ||
      kc.shape[1] < 1 || kc.shape[2] < 1 || q.shape[1] % kc.shape[2] != 0 || table.ndim != 2 ||
      table.shape[0] != q.shape[0] || lens.ndim != 1 || lens.shape[0] != q.shape[0] ||
      !same_shape(q, o) || (alibi && (alibi->ndim != 1 || alibi->shape[0] != q.shape[1])))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected q[B,Hq,D], caches [blocks, block_size, Hkv, D] with Hkv | Hq, "
                "block_table[B, max_blocks], context_lens[B], alibi[Hq], o like q",
                kOp);
  if (q.shape[2] > kern::kMaxHeadDim)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: head dim %lld is over the cuda limit %d", kOp,
                static_cast<long long>(q.shape[2]), kern::kMaxHeadDim);
  const int64_t group = q.shape[1] / kc.shape[2];
  const int64_t chunks = (group + kern::kMaxGroupHeads - 1) / kern::kMaxGroupHeads;
  if (q.shape[0] > kMaxGridY || q.shape[1] > INT32_MAX || kc.shape[2] * chunks > kMaxGridY ||
      kc.shape[1] > INT32_MAX || table.shape[1] > INT32_MAX ||
      kc.shape[1] * table.shape[1] > INT32_MAX)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: too many sequences, heads, block rows or table columns for cuda", kOp);
  if (!is_dense(q) || !is_dense(kc) || !is_dense(vc) || !is_dense(table) || !is_dense(lens) ||
      !is_dense(o) || (alibi && !is_dense(*alibi)))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: cuda runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// Reads block_table and context_lens back and checks every index the kernel
// will follow; sets *longest to the most keys any query attends.
rma_status check_indices(const Context& ctx, const rma_tensor& table, const rma_tensor& lens,
                         int64_t num_blocks, int64_t block_size, int32_t window, int64_t* longest,
                         rma_error* err) {
  const int64_t batch = table.shape[0], max_blocks = table.shape[1];
  std::vector<int64_t> tb, ln;
  if (rma_status st = read_index_tensor(ctx, table, &tb, err)) return st;
  if (rma_status st = read_index_tensor(ctx, lens, &ln, err)) return st;
  *longest = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = ln[size_t(b)];
    if (len < 0 || len > max_blocks * block_size)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: context_lens[%lld] = %lld is outside [0, %lld] (max_blocks * block_size)",
                  kOp, static_cast<long long>(b), static_cast<long long>(len),
                  static_cast<long long>(max_blocks * block_size));
    // Only the blocks of attended keys are looked up (a sliding window may
    // leave earlier entries unused), as in the reference.
    const int64_t first = window > 0 && len > window ? len - window : 0;
    for (int64_t j = first / block_size; len > 0 && j <= (len - 1) / block_size; ++j) {
      const int64_t block = tb[size_t(b * max_blocks + j)];
      if (block < 0 || block >= num_blocks)
        return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                    "%s: block_table[%lld, %lld] = %lld is outside [0, %lld)", kOp,
                    static_cast<long long>(b), static_cast<long long>(j),
                    static_cast<long long>(block), static_cast<long long>(num_blocks));
    }
    *longest = std::max(*longest, len - first);
  }
  return RMA_STATUS_OK;
}

int next_pow2(int v) {
  int p = 1;
  while (p < v) p <<= 1;
  return p;
}

template <class QT, class CT, int VEC, int NC>
void launch(const Context& ctx, const kern::PagedParams& p, dim3 grid, size_t smem) {
  auto kernel = kern::paged_decode_kernel<QT, CT, VEC, NC>;
  if (smem > 48 * 1024)
    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
  kernel<<<grid, kern::kThreads, smem, ctx.stream>>>(p);
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  if (rma_status st = supported(ctx.dev, call, err)) return st;
  const rma_tensor &q = call.inputs[0], &kc = call.inputs[1], &vc = call.inputs[2],
                   &table = call.inputs[3], &lens = call.inputs[4], &o = call.outputs[0];
  const rma_tensor* alibi = alibi_of(call);
  const auto& attrs = *static_cast<const rma_attention_attrs*>(call.attrs);
  const int64_t batch = q.shape[0], d = q.shape[2];
  const int64_t block_size = kc.shape[1], max_blocks = table.shape[1];
  const int32_t window = attrs.sliding_window > 0 ? attrs.sliding_window : 0;
  if (batch == 0 || q.shape[1] == 0 || d == 0) return RMA_STATUS_OK;

  // The most keys a query attends: exact when the lengths are read back,
  // else the table's capacity (empty partitions then exit at once).
  int64_t longest = max_blocks * block_size;
  if (window > 0) longest = std::min<int64_t>(longest, window);
  if (!stream_capturing(ctx))
    if (rma_status st =
            check_indices(ctx, table, lens, kc.shape[0], block_size, window, &longest, err))
      return st;

  kern::PagedParams p{};
  p.q = ptr(q);
  p.k_cache = ptr(kc);
  p.v_cache = ptr(vc);
  p.o = ptr(o);
  p.block_table = ptr<const int32_t>(table);
  p.context_lens = ptr<const int32_t>(lens);
  p.alibi = alibi ? ptr<const float>(*alibi) : nullptr;
  p.batch = static_cast<int32_t>(batch);
  p.hq = static_cast<int32_t>(q.shape[1]);
  p.hkv = static_cast<int32_t>(kc.shape[2]);
  p.group = p.hq / p.hkv;
  p.gh = std::min(p.group, kern::kMaxGroupHeads);
  p.nhc = (p.group + p.gh - 1) / p.gh;
  p.d = static_cast<int32_t>(d);
  p.block_size = static_cast<int32_t>(block_size);
  p.max_blocks = static_cast<int32_t>(max_blocks);
  p.num_blocks = kc.shape[0];
  p.scale_log2 = attrs.scale * attention_math::kLog2e;
  p.window = window;

  // 16-byte loads when every head row starts 16-byte aligned.
  const int64_t cache_bytes = plain_dtype_bytes(kc.dtype);
  const bool vec = aligned16(p.k_cache) && aligned16(p.v_cache) && (d * cache_bytes) % 16 == 0;
  const int vec_elems = vec ? int(16 / cache_bytes) : 1;
  p.lanes = std::min(32, next_pow2(int((d + vec_elems - 1) / vec_elems)));

  // Partitions: halve them while the GPU would have too few blocks.
  const int64_t base_blocks = batch * p.hkv * p.nhc;
  const int64_t want_blocks = int64_t(cfg::kMinBlocksPerSm) * multiprocessor_count(ctx.dev);
  int part = cfg::kPartitionTokens;
  auto parts_for = [&](int tokens) {
    return std::max<int64_t>(1, (longest + tokens - 1) / tokens);
  };
  while (part > cfg::kMinPartitionTokens && base_blocks * parts_for(part) < want_blocks) part /= 2;
  const int64_t num_parts = parts_for(part);
  if (num_parts > INT32_MAX)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: %lld partitions is over the grid limit", kOp,
                static_cast<long long>(num_parts));
  p.part_tokens = part;
  p.num_parts = static_cast<int32_t>(num_parts);
  if (num_parts > 1) {
    const size_t slots = size_t(batch) * p.hq * size_t(num_parts);
    void* scratch = nullptr;
    if (rma_status st = ctx.scratch(ctx, slots * (size_t(d) + 2) * sizeof(float), &scratch, err))
      return st;
    p.part_acc = static_cast<float*>(scratch);
    p.part_ml = p.part_acc + slots * size_t(d);
  }

  const size_t smem = kern::shared_bytes(p.gh, part, p.d, p.block_size);
  const dim3 grid(static_cast<unsigned>(num_parts), static_cast<unsigned>(p.hkv * p.nhc),
                  static_cast<unsigned>(batch));
  with_float_type(q.dtype, [&]<class QT>() {
    return with_float_type(kc.dtype, [&]<class CT>() {
      constexpr int kVec = 16 / int(sizeof(CT));
      constexpr int kVecChunks =
          kern::kMaxHeadDim / kVec / 32 > 0 ? kern::kMaxHeadDim / kVec / 32 : 1;
      if (vec)
        launch<QT, CT, kVec, kVecChunks>(ctx, p, grid, smem);
      else
        launch<QT, CT, 1, kern::kMaxHeadDim / 32>(ctx, p, grid, smem);
      if (num_parts > 1)
        kern::paged_decode_combine_kernel<QT>
            <<<dim3(static_cast<unsigned>(p.hq), static_cast<unsigned>(batch)), 128, 0,
               ctx.stream>>>(p);
      return RMA_STATUS_OK;
    });
  });
  return check_launch(kOp, call, err);
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_PAGED_DECODE_ATTENTION, supported, run);

}  // namespace rma::cuda
