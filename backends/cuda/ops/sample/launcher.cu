// cuda sample: repetition penalty, greedy argmax or temperature / top-k /
// top-p / min-p sampling with docs/ops.md's counter-based RNG, choosing the
// tokens src/ops/reference/op_sample.cpp chooses, all on the device (see
// kernels/sample.cuh). f32, f16 or bf16 logits, i32 prev_tokens and ids.
// Outside graph capture, prev_tokens are read back and checked when the
// penalty reads them, as the other backends do.
#include <cstdint>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_segmented_radix_sort.cuh>
#include <vector>

#include "common/cuda_op.h"
#include "common/kernel_utils.cuh"
#include "ops/fill_kv_cache/index_tensors.cuh"
#include "ops/sample/config.h"
#include "ops/sample/kernels/sample.cuh"

namespace rma::cuda {
namespace {

constexpr const char* kOp = "sample";
constexpr int kThreads = sample_config::kThreads;
using sample_kernels::SampleParams;

const rma_tensor* prev_of(const rma_op_call& call) {
  return call.num_inputs > 1 && present(call.inputs[1]) ? &call.inputs[1] : nullptr;
}

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 1 || call.num_inputs > 2 || call.num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected inputs (logits, prev_tokens?) and one output, got %d inputs, %d "
                "outputs",
                kOp, call.num_inputs, call.num_outputs);
  const auto* attrs = static_cast<const rma_sample_attrs*>(call.attrs);
  if (!attrs || attrs->struct_size < sizeof(rma_sample_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_sample_attrs missing or too small", kOp);
  const rma_tensor &logits = call.inputs[0], &ids = call.outputs[0];
  const rma_tensor* prev = prev_of(call);
  if (!is_float_dtype(logits.dtype))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: logits must be f32, f16 or bf16 (got %s)",
                kOp, dtype_label(logits.dtype));
  if (logits.dtype == RMA_DTYPE_BF16 && compute_capability(dev) < 80)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: bf16 needs sm_80 or newer (%s is sm_%d)", kOp,
                device_name(dev), compute_capability(dev));
  if (logits.ndim != 2)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: logits must be [B, V]", kOp);
  const int64_t batch = logits.shape[0], vocab = logits.shape[1];
  if (ids.dtype != RMA_DTYPE_I32 || ids.ndim != 1 || ids.shape[0] != batch)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: ids must be i32 [B = %lld]", kOp,
                static_cast<long long>(batch));
  if (prev && (prev->dtype != RMA_DTYPE_I32 || prev->ndim != 2 || prev->shape[0] != batch))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: prev_tokens must be i32 [B = %lld, L]", kOp,
                static_cast<long long>(batch));
  if (batch > 0 && vocab == 0)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: logits have an empty vocabulary (V = 0)",
                kOp);
  // The sort counts items in int.
  if (batch * vocab > INT32_MAX || batch > INT32_MAX)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: B x V = %lld logits is over the cuda limit", kOp,
                static_cast<long long>(batch * vocab));
  if (!is_dense(logits) || !is_dense(ids) || (prev && !is_dense(*prev)))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: cuda runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// prev_tokens, when the penalty reads them: every id < V (-1 is padding).
rma_status check_prev_tokens(const Context& ctx, const rma_tensor& prev, int64_t vocab,
                             rma_error* err) {
  std::vector<int64_t> pv;
  if (rma_status st = read_index_tensor(ctx, prev, &pv, err)) return st;
  const int64_t len = prev.shape[1];
  for (size_t i = 0; i < pv.size(); ++i)
    if (pv[i] >= vocab)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: prev_tokens[%lld, %lld] = %lld is outside the vocabulary [0, %lld)", kOp,
                  static_cast<long long>(int64_t(i) / len),
                  static_cast<long long>(int64_t(i) % len), static_cast<long long>(pv[i]),
                  static_cast<long long>(vocab));
  return RMA_STATUS_OK;
}

// Carves aligned pieces out of one scratch allocation.
struct Carver {
  size_t used = 0;
  size_t take(size_t bytes) {
    const size_t at = used;
    used += (bytes + 255) / 256 * 256;
    return at;
  }
};

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  if (rma_status st = supported(ctx.dev, call, err)) return st;
  const auto& attrs = *static_cast<const rma_sample_attrs*>(call.attrs);
  const rma_tensor &logits = call.inputs[0], &ids = call.outputs[0];
  const rma_tensor* prev = prev_of(call);
  const int64_t batch = logits.shape[0], vocab = logits.shape[1];
  if (batch == 0) return RMA_STATUS_OK;
  const int64_t prev_len = prev ? prev->shape[1] : 0;
  const bool penalty = attrs.repetition_penalty != 1.f && prev_len > 0;
  const bool greedy = attrs.temperature <= 0.f;
  if (penalty && !stream_capturing(ctx))
    if (rma_status st = check_prev_tokens(ctx, *prev, vocab, err)) return st;

  const size_t items = size_t(batch * vocab);
  const int num_items = static_cast<int>(items);
  const int num_rows = static_cast<int>(batch);
  SampleParams p{};
  p.logits = ptr(logits);
  p.prev = penalty ? ptr<const int32_t>(*prev) : nullptr;
  p.prev_len = penalty ? prev_len : 0;
  p.batch = num_rows;
  p.vocab = static_cast<int32_t>(vocab);
  p.temperature = attrs.temperature;
  p.penalty = attrs.repetition_penalty;
  p.top_p = attrs.top_p;
  p.min_p = attrs.min_p;
  p.top_k = attrs.top_k;
  p.seed = attrs.seed;
  p.ids = ptr<int32_t>(ids);

  // Scratch: the rows as sampled, and for sampling their ids, the sorted
  // copies, the row offsets and CUB's temporary storage.
  size_t sort_bytes = 0;
  if (!greedy) {
    cudaError_t e =
        batch == 1 ? cub::DeviceRadixSort::SortPairsDescending(nullptr, sort_bytes, p.vals,
                                                               p.sorted_vals, p.idx, p.sorted_idx,
                                                               num_items, 0, 32, ctx.stream)
                   : cub::DeviceSegmentedRadixSort::SortPairsDescending(
                         nullptr, sort_bytes, p.vals, p.sorted_vals, p.idx, p.sorted_idx, num_items,
                         num_rows, p.offsets, p.offsets + 1, 0, 32, ctx.stream);
    if (e != cudaSuccess)
      return fail(err, RMA_STATUS_DEVICE_ERROR, "cuda: %s: sizing the sort: %s", kOp,
                  cudaGetErrorString(e));
  }
  Carver carve;
  const size_t at_vals = carve.take(items * sizeof(float));
  const size_t at_seen = carve.take(penalty ? size_t(batch) * size_t((vocab + 31) / 32) * 4 : 0);
  const size_t at_idx = carve.take(greedy ? 0 : items * sizeof(int32_t));
  const size_t at_sorted_vals = carve.take(greedy ? 0 : items * sizeof(float));
  const size_t at_sorted_idx = carve.take(greedy ? 0 : items * sizeof(int32_t));
  const size_t at_offsets = carve.take(greedy ? 0 : size_t(batch + 1) * sizeof(int32_t));
  const size_t at_sort = carve.take(sort_bytes);
  void* scratch = nullptr;
  if (rma_status st = ctx.scratch(ctx, carve.used, &scratch, err)) return st;
  char* base = static_cast<char*>(scratch);
  p.vals = reinterpret_cast<float*>(base + at_vals);
  p.seen = penalty ? reinterpret_cast<uint32_t*>(base + at_seen) : nullptr;
  if (!greedy) {
    p.idx = reinterpret_cast<int32_t*>(base + at_idx);
    p.sorted_vals = reinterpret_cast<float*>(base + at_sorted_vals);
    p.sorted_idx = reinterpret_cast<int32_t*>(base + at_sorted_idx);
    p.offsets = reinterpret_cast<int32_t*>(base + at_offsets);
  }

  with_float_type(logits.dtype, [&]<class T>() {
    sample_kernels::sample_prepare_kernel<T, kThreads><<<num_rows, kThreads, 0, ctx.stream>>>(p);
    return RMA_STATUS_OK;
  });
  if (greedy) return check_launch(kOp, call, err);
  if (rma_status st = check_launch(kOp, call, err)) return st;

  cudaError_t e =
      batch == 1 ? cub::DeviceRadixSort::SortPairsDescending(base + at_sort, sort_bytes, p.vals,
                                                             p.sorted_vals, p.idx, p.sorted_idx,
                                                             num_items, 0, 32, ctx.stream)
                 : cub::DeviceSegmentedRadixSort::SortPairsDescending(
                       base + at_sort, sort_bytes, p.vals, p.sorted_vals, p.idx, p.sorted_idx,
                       num_items, num_rows, p.offsets, p.offsets + 1, 0, 32, ctx.stream);
  if (e != cudaSuccess)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "cuda: %s: sorting %lld x %lld logits: %s", kOp,
                static_cast<long long>(batch), static_cast<long long>(vocab),
                cudaGetErrorString(e));
  sample_kernels::sample_pick_kernel<kThreads><<<num_rows, kThreads, 0, ctx.stream>>>(p);
  return check_launch(kOp, call, err);
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_SAMPLE, supported, run);

}  // namespace rma::cuda
