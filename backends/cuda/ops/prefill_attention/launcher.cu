// cuda prefill_attention: varlen (cu_seqlens), causal, sliding window,
// optional ALiBi, GQA; f32, f16 or bf16 q/k/v/o (f32 arithmetic, o rounded
// once), i32 cu_seqlens. Two kernels, one pass over K/V tiles in shared
// memory with an online softmax each:
//  - f16/bf16 with head dim 64, 80, 96, 128 or 256 on sm_80+: tensor cores
//    (kernels/prefill_tc.cuh);
//  - f32, and any other head dim up to 256: SIMT (kernels/prefill_simt.cuh).
// A tile is consecutive packed tokens times the query heads of one kv head,
// so tiles may straddle sequences (rows keep their own sequence's keys) and
// no per-sequence launch geometry is needed: the grid depends on T only, and
// a graph can capture it. Outside capture, cu_seqlens is read back and checked
// first, as the other backends do.
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "common/cuda_op.h"
#include "common/kernel_utils.cuh"
#include "ops/fill_kv_cache/index_tensors.cuh"
#include "ops/prefill_attention/config.h"
#include "ops/prefill_attention/kernels/attention_math.h"
#include "ops/prefill_attention/kernels/prefill_common.cuh"
#include "ops/prefill_attention/kernels/prefill_simt.cuh"
#include "ops/prefill_attention/kernels/prefill_tc.cuh"

namespace rma::cuda {
namespace {

constexpr const char* kOp = "prefill_attention";
namespace cfg = prefill_attention_config;
using prefill_kernels::PrefillParams;

const rma_tensor* alibi_of(const rma_op_call& call) {
  return call.num_inputs > 4 && present(call.inputs[4]) ? &call.inputs[4] : nullptr;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Keys per tile of the tensor-core kernel for head dim d, 0 when it has none.
int tc_keys_per_tile(int64_t d) {
  switch (d) {
    case 64:
    case 80:
    case 96:
    case 128:
      return cfg::kTcKeysPerTile;
    case 256:
      return cfg::kTcKeysPerTileD256;
    default:
      return 0;
  }
}

// Whether the call runs on the tensor-core kernel (the SIMT one otherwise).
bool use_tensor_cores(const CudaDevice& dev, const rma_op_call& call) {
  const rma_tensor &q = call.inputs[0], &k = call.inputs[1], &v = call.inputs[2],
                   &o = call.outputs[0];
  const int64_t d = q.shape[2];
  const int bn = tc_keys_per_tile(d);
  if (q.dtype == RMA_DTYPE_F32 || bn == 0 || compute_capability(dev) < 80) return false;
  if (prefill_kernels::tc_shared_bytes(int(d), bn) > shared_memory_per_block_optin(dev))
    return false;
  // cp.async moves 16-byte chunks: data pointers must be 16-byte aligned
  // (rows are, D being a multiple of 8). Query tensors have no data.
  return (!q.data ||
          (aligned16(ptr(q)) && aligned16(ptr(k)) && aligned16(ptr(v)) && aligned16(ptr(o))));
}

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 4 || call.num_outputs < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected inputs (q, k, v, cu_seqlens, alibi?) and one output", kOp);
  const auto* attrs = static_cast<const rma_attention_attrs*>(call.attrs);
  if (!attrs || attrs->struct_size < sizeof(rma_attention_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_attention_attrs missing or too small",
                kOp);
  const rma_tensor &q = call.inputs[0], &k = call.inputs[1], &v = call.inputs[2],
                   &cu = call.inputs[3], &o = call.outputs[0];
  const rma_tensor* alibi = alibi_of(call);
  if (!is_float_dtype(q.dtype) || k.dtype != q.dtype || v.dtype != q.dtype || o.dtype != q.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: q, k, v, o must share one float dtype (got %s, %s, %s, %s)", kOp,
                dtype_label(q.dtype), dtype_label(k.dtype), dtype_label(v.dtype),
                dtype_label(o.dtype));
  if (q.dtype == RMA_DTYPE_BF16 && compute_capability(dev) < 80)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: bf16 needs sm_80 or newer (%s is sm_%d)", kOp,
                device_name(dev), compute_capability(dev));
  if (cu.dtype != RMA_DTYPE_I32)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: cu_seqlens must be i32 (got %s)", kOp,
                dtype_label(cu.dtype));
  if (alibi && alibi->dtype != RMA_DTYPE_F32)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: alibi_slopes must be f32 (got %s)", kOp,
                dtype_label(alibi->dtype));
  if (q.ndim != 3 || k.ndim != 3 || !same_shape(k, v) || k.shape[0] != q.shape[0] ||
      k.shape[2] != q.shape[2] || k.shape[1] < 1 || q.shape[1] % k.shape[1] != 0 || cu.ndim != 1 ||
      cu.shape[0] < 1 || !same_shape(q, o) ||
      (alibi && (alibi->ndim != 1 || alibi->shape[0] != q.shape[1])))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected q[T,Hq,D], k/v[T,Hkv,D] with Hkv | Hq, cu_seqlens[B+1], "
                "alibi[Hq], o like q",
                kOp);
  const int64_t d = q.shape[2];
  if (d > cfg::kSimtMaxHeadDim)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: head dim %lld is not supported on cuda (up to %d)", kOp,
                static_cast<long long>(d), cfg::kSimtMaxHeadDim);
  if (!use_tensor_cores(dev, call) &&
      prefill_kernels::simt_shared_bytes(int(d)) > shared_memory_per_block_optin(dev))
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: head dim %lld needs more shared memory than %s offers a block", kOp,
                static_cast<long long>(d), device_name(dev));
  if (q.shape[0] > INT32_MAX || q.shape[1] > INT32_MAX || cu.shape[0] > INT32_MAX)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: too many tokens, heads or sequences", kOp);
  if (!is_dense(q) || !is_dense(k) || !is_dense(v) || !is_dense(cu) || !is_dense(o) ||
      (alibi && !is_dense(*alibi)))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: cuda runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// Reads cu_seqlens back and checks it as docs/ops.md states it.
rma_status check_cu_seqlens(const Context& ctx, const rma_tensor& cu, int64_t tokens,
                            rma_error* err) {
  std::vector<int64_t> cuv;
  if (rma_status st = read_index_tensor(ctx, cu, &cuv, err)) return st;
  const size_t batch = cuv.size() - 1;
  bool valid = cuv[0] == 0 && cuv[batch] == tokens;
  for (size_t b = 0; valid && b < batch; ++b) valid = cuv[b] <= cuv[b + 1];
  if (valid) return RMA_STATUS_OK;
  std::string list;
  for (size_t i = 0; i < cuv.size() && i < 16; ++i)
    list += (i ? ", " : "") + std::to_string(cuv[i]);
  if (cuv.size() > 16) list += ", ...";
  return fail(err, RMA_STATUS_INVALID_ARGUMENT,
              "%s: cu_seqlens [%s] must start at 0, not decrease and end at T = %lld", kOp,
              list.c_str(), static_cast<long long>(tokens));
}

template <class T, int D, int BN>
void launch_tc(const Context& ctx, const PrefillParams& p, dim3 grid) {
  const size_t smem = prefill_kernels::tc_shared_bytes(D, BN);
  auto kernel = prefill_kernels::prefill_tc_kernel<T, D, BN>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
  kernel<<<grid, prefill_kernels::kTcThreads, smem, ctx.stream>>>(p);
}

template <class T>
void launch_tc_for_dim(const Context& ctx, const PrefillParams& p, dim3 grid) {
  constexpr int kBn = cfg::kTcKeysPerTile, kBn256 = cfg::kTcKeysPerTileD256;
  switch (p.d) {
    case 64:
      launch_tc<T, 64, kBn>(ctx, p, grid);
      break;
    case 80:
      launch_tc<T, 80, kBn>(ctx, p, grid);
      break;
    case 96:
      launch_tc<T, 96, kBn>(ctx, p, grid);
      break;
    case 128:
      launch_tc<T, 128, kBn>(ctx, p, grid);
      break;
    default:
      launch_tc<T, 256, kBn256>(ctx, p, grid);
      break;
  }
}

template <class T, int DCH>
void launch_simt(const Context& ctx, const PrefillParams& p, dim3 grid) {
  const size_t smem = prefill_kernels::simt_shared_bytes(p.d);
  auto kernel = prefill_kernels::prefill_simt_kernel<T, DCH>;
  if (smem > 48 * 1024)
    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
  kernel<<<grid, prefill_kernels::kSimtWarps * 32, smem, ctx.stream>>>(p);
}

template <class T>
void launch_simt_for_dim(const Context& ctx, const PrefillParams& p, dim3 grid) {
  if (p.d <= 32)
    launch_simt<T, 1>(ctx, p, grid);
  else if (p.d <= 64)
    launch_simt<T, 2>(ctx, p, grid);
  else if (p.d <= 128)
    launch_simt<T, 4>(ctx, p, grid);
  else
    launch_simt<T, 8>(ctx, p, grid);
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  if (rma_status st = supported(ctx.dev, call, err)) return st;
  const rma_tensor &q = call.inputs[0], &k = call.inputs[1], &v = call.inputs[2],
                   &cu = call.inputs[3], &o = call.outputs[0];
  const rma_tensor* alibi = alibi_of(call);
  const auto& attrs = *static_cast<const rma_attention_attrs*>(call.attrs);
  const int64_t tokens = q.shape[0];
  if (!stream_capturing(ctx))
    if (rma_status st = check_cu_seqlens(ctx, cu, tokens, err)) return st;
  const int32_t batch = static_cast<int32_t>(cu.shape[0] - 1);
  if (tokens == 0 || batch == 0 || q.shape[1] == 0 || q.shape[2] == 0) return RMA_STATUS_OK;

  const bool tc = use_tensor_cores(ctx.dev, call);
  PrefillParams p{};
  p.q = ptr(q);
  p.k = ptr(k);
  p.v = ptr(v);
  p.o = ptr(o);
  p.cu_seqlens = ptr<const int32_t>(cu);
  p.alibi = alibi ? ptr<const float>(*alibi) : nullptr;
  p.tokens = tokens;
  p.batch = batch;
  p.hq = static_cast<int32_t>(q.shape[1]);
  p.hkv = static_cast<int32_t>(k.shape[1]);
  p.d = static_cast<int32_t>(q.shape[2]);
  p.tile = attention_math::tile_shape(p.hq / p.hkv,
                                      tc ? prefill_kernels::kTcRows : prefill_kernels::kSimtRows);
  p.scale_log2 = attrs.scale * attention_math::kLog2e;
  p.causal = attrs.causal != 0;
  p.window = attrs.sliding_window > 0 ? attrs.sliding_window : 0;
  const int64_t tiles = (tokens + p.tile.tpt - 1) / p.tile.tpt;
  const int64_t heads = int64_t(p.hkv) * p.tile.nhc;
  if (tiles > INT32_MAX || heads > kMaxGridY)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: %lld tiles x %lld head chunks is over the grid limit", kOp,
                static_cast<long long>(tiles), static_cast<long long>(heads));
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(heads));
  with_float_type(q.dtype, [&]<class T>() {
    if constexpr (std::is_same_v<T, float>) {
      launch_simt_for_dim<T>(ctx, p, grid);
    } else {
      if (tc)
        launch_tc_for_dim<T>(ctx, p, grid);
      else
        launch_simt_for_dim<T>(ctx, p, grid);
    }
    return RMA_STATUS_OK;
  });
  return check_launch(kOp, call, err);
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_PREFILL_ATTENTION, supported, run);

}  // namespace rma::cuda
