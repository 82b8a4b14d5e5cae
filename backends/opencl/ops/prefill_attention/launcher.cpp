// opencl prefill_attention: varlen (cu_seqlens), causal, sliding window,
// optional ALiBi, GQA; f32, f16 or bf16 q/k/v/o (computed in f32, rounded
// once) with i32 cu_seqlens. One work-group per (block of tokens, kv head)
// sharing local K/V tiles across the block's tokens and the group's query
// heads (see the kernel's header).
#include <climits>
#include <string>
#include <vector>

#include "common/cl_device.h"
#include "ops/prefill_attention/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "prefill_attention";
namespace cfg = prefill_attention_config;

const rma_tensor* alibi_of(const rma_op_call& call) {
  return call.num_inputs > 4 && present(call.inputs[4]) ? &call.inputs[4] : nullptr;
}

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
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
  if (k.dtype != q.dtype || v.dtype != q.dtype || o.dtype != q.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: q, k, v, o must share one dtype", kOp);
  if (rma_status st = require_float(kOp, "q", q, err)) return st;
  if (cu.dtype != RMA_DTYPE_I32)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl takes i32 cu_seqlens only so far (got %s)",
                kOp, dtype_label(cu.dtype));
  if (alibi && alibi->dtype != RMA_DTYPE_F32)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: alibi_slopes must be f32", kOp);
  if (q.ndim != 3 || k.ndim != 3 || !same_shape(k, v) || k.shape[0] != q.shape[0] ||
      k.shape[2] != q.shape[2] || k.shape[1] < 1 || q.shape[1] % k.shape[1] != 0 ||
      cu.ndim != 1 || cu.shape[0] < 1 || !same_shape(q, o) ||
      (alibi && (alibi->ndim != 1 || alibi->shape[0] != q.shape[1])))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected q[T,Hq,D], k/v[T,Hkv,D] with Hkv | Hq, cu_seqlens[B+1], "
                "alibi[Hq], o like q",
                kOp);
  if (q.shape[2] > cfg::kMaxHeadDim)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: head dim %lld is over opencl's limit %d", kOp,
                static_cast<long long>(q.shape[2]), cfg::kMaxHeadDim);
  if (q.shape[0] > INT32_MAX || q.shape[1] > INT32_MAX || cu.shape[0] > INT32_MAX)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: too many tokens, heads or sequences", kOp);
  if (!is_dense(q) || !is_dense(k) || !is_dense(v) || !is_dense(cu) || !is_dense(o) ||
      (alibi && !is_dense(*alibi)))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &q = call.inputs[0], &k = call.inputs[1], &v = call.inputs[2],
                   &cu = call.inputs[3], &o = call.outputs[0];
  const rma_tensor* alibi = alibi_of(call);
  const auto& attrs = *static_cast<const rma_attention_attrs*>(call.attrs);
  const int64_t tokens = q.shape[0];
  const cl_int hq = static_cast<cl_int>(q.shape[1]), hkv = static_cast<cl_int>(k.shape[1]),
               d = static_cast<cl_int>(q.shape[2]);
  const cl_int batch = static_cast<cl_int>(cu.shape[0] - 1);

  // cu_seqlens is small: read it back (the queue is in order) and check it
  // as docs/ops.md states, so a bad one is an error, not a wild read.
  std::vector<cl_int> cuv(static_cast<size_t>(cu.shape[0]));
  cl_int cst = clEnqueueReadBuffer(ctx.queue, mem_of(cu), CL_TRUE, cu.offset,
                                   cuv.size() * sizeof(cl_int), cuv.data(), 0, nullptr, nullptr);
  if (cst != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl: %s: reading cu_seqlens: %s", kOp,
                cl_error_name(cst));
  bool valid = cuv[0] == 0 && cuv[static_cast<size_t>(batch)] == tokens;
  for (cl_int b = 0; valid && b < batch; ++b) valid = cuv[b] <= cuv[b + 1];
  if (!valid) {
    std::string list;
    for (size_t i = 0; i < cuv.size() && i < 16; ++i)
      list += (i ? ", " : "") + std::to_string(cuv[i]);
    if (cuv.size() > 16) list += ", ...";
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: cu_seqlens [%s] must start at 0, not decrease and end at T = %lld", kOp,
                list.c_str(), static_cast<long long>(tokens));
  }
  if (tokens == 0 || hq == 0 || d == 0) return RMA_STATUS_OK;

  constexpr size_t kLocal = cfg::kLocalSize;
  // Rows of a work-group: gh query heads of one kv head's group (the group is
  // split into nhc chunks when larger than the work-group) times qpb tokens.
  const cl_int group = hq / hkv;
  const cl_int gh = group < cl_int(kLocal) ? group : cl_int(kLocal);
  const cl_int nhc = (group + gh - 1) / gh, qpb = cl_int(kLocal) / gh;
  // K and V tiles of `tile` keys, padded to float4 rows, must fit local memory.
  const size_t row_bytes = size_t((d + 3) / 4) * 4 * sizeof(float);
  cl_ulong local_mem = 0;
  clGetDeviceInfo(ctx.dev.id, CL_DEVICE_LOCAL_MEM_SIZE, sizeof(local_mem), &local_mem, nullptr);
  int tile = cfg::kTileKeys;
  while (tile > 1 && 2 * size_t(tile) * row_bytes + 1024 > local_mem) tile /= 2;
  cl_kernel kern = nullptr;
  if (rma_status st =
          get_kernel(ctx.dev, "prefill_attention/prefill_attention", "prefill_attention",
                     "-DLOCAL_SIZE=" + std::to_string(kLocal) + " -DTILE=" + std::to_string(tile) +
                         " -DHEAD_D=" + std::to_string(d) + dtype_option("DTYPE", q.dtype),
                     &kern, err))
    return st;
  const cl_mem slopes = alibi ? mem_of(*alibi) : nullptr;
  const cl_ulong slopes_off = alibi ? elem_offset(*alibi) : 0;
  const cl_int has_alibi = alibi ? 1 : 0, causal = attrs.causal ? 1 : 0,
               window = attrs.sliding_window > 0 ? attrs.sliding_window : 0;
  const cl_long tokens_l = tokens;
  ArgSetter set(kern);
  set(mem_of(q))(elem_offset(q))(mem_of(k))(elem_offset(k))(mem_of(v))(elem_offset(v))(mem_of(cu))(
      elem_offset(cu))(slopes)(slopes_off)(has_alibi)(mem_of(o))(elem_offset(o))(tokens_l)(batch)(
      hq)(hkv)(attrs.scale)(causal)(window)(gh)(nhc)(qpb);
  const size_t blocks = size_t((tokens + qpb - 1) / qpb);
  const size_t global = blocks * size_t(hkv) * size_t(nhc) * kLocal, local = kLocal;
  return launch(ctx, kern, kOp, set.status(), 1, &global, &local, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_PREFILL_ATTENTION, supported, run);

}  // namespace rma::opencl
