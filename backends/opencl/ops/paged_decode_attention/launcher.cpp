// opencl paged_decode_attention: one query per sequence against a paged KV
// cache; GQA, sliding window, optional ALiBi; q/o and the cache each f32,
// f16 or bf16 (computed in f32, o rounded once), i32 block_table and
// context_lens. One work-group per (sequence, kv head) that reads each cache
// row once for all the group's query heads (see the kernel).
//
// Unlike the reference, block_table and context_lens are not read back to be
// checked (that would stall every decode step): the kernel keeps bad entries
// safe instead (see the kernel's header).
#include <climits>
#include <string>
#include <vector>

#include "common/cl_device.h"
#include "ops/paged_decode_attention/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "paged_decode_attention";
namespace cfg = paged_decode_attention_config;

const rma_tensor* alibi_of(const rma_op_call& call) {
  return call.num_inputs > 5 && present(call.inputs[5]) ? &call.inputs[5] : nullptr;
}

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
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
  if (o.dtype != q.dtype || vc.dtype != kc.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: o must have q's dtype and v_cache k_cache's", kOp);
  if (rma_status st = require_float(kOp, "q", q, err)) return st;
  if (rma_status st = require_float(kOp, "k_cache", kc, err)) return st;
  if (table.dtype != RMA_DTYPE_I32 || lens.dtype != RMA_DTYPE_I32)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: opencl takes i32 block_table and context_lens only so far (got %s, %s)", kOp,
                dtype_label(table.dtype), dtype_label(lens.dtype));
  if (alibi && alibi->dtype != RMA_DTYPE_F32)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: alibi_slopes must be f32", kOp);
  if (q.ndim != 3 || kc.ndim != 4 || !same_shape(kc, vc) || kc.shape[3] != q.shape[2] ||
      kc.shape[1] < 1 || kc.shape[2] < 1 || q.shape[1] % kc.shape[2] != 0 || table.ndim != 2 ||
      table.shape[0] != q.shape[0] || lens.ndim != 1 || lens.shape[0] != q.shape[0] ||
      !same_shape(q, o) || (alibi && (alibi->ndim != 1 || alibi->shape[0] != q.shape[1])))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected q[B,Hq,D], caches [blocks, block_size, Hkv, D] with Hkv | Hq, "
                "block_table[B, max_blocks], context_lens[B], alibi[Hq], o like q",
                kOp);
  if (q.shape[2] > cfg::kMaxHeadDim)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: head dim %lld is over opencl's limit %d", kOp,
                static_cast<long long>(q.shape[2]), cfg::kMaxHeadDim);
  if (q.shape[1] > INT32_MAX || kc.shape[1] > INT32_MAX || table.shape[1] > INT32_MAX)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: too many heads, block rows or table columns",
                kOp);
  if (!is_dense(q) || !is_dense(kc) || !is_dense(vc) || !is_dense(table) || !is_dense(lens) ||
      !is_dense(o) || (alibi && !is_dense(*alibi)))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// Reads block_table and context_lens back (ordered after earlier work on this
// queue, small) and checks every index the kernel will follow, as the other
// index-taking ops do: a bad table is an error naming the entry, never an
// out-of-bounds read on the device.
rma_status check_indices(const Context& ctx, const rma_tensor& table, const rma_tensor& lens,
                         cl_long num_blocks, cl_int block_size, rma_error* err) {
  const int64_t batch = table.shape[0], max_blocks = table.shape[1];
  std::vector<int32_t> tb(static_cast<size_t>(batch * max_blocks));
  std::vector<int32_t> ln(static_cast<size_t>(batch));
  cl_int st = CL_SUCCESS;
  if (!tb.empty())
    st = clEnqueueReadBuffer(ctx.queue, mem_of(table), CL_FALSE, table.offset,
                             tb.size() * sizeof(int32_t), tb.data(), 0, nullptr, nullptr);
  if (st == CL_SUCCESS)
    st = clEnqueueReadBuffer(ctx.queue, mem_of(lens), CL_TRUE, lens.offset,
                             ln.size() * sizeof(int32_t), ln.data(), 0, nullptr, nullptr);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR,
                "opencl: %s: reading block_table/context_lens: %s", kOp, cl_error_name(st));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = ln[size_t(b)];
    if (len < 0 || len > max_blocks * block_size)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: context_lens[%lld] = %lld is outside [0, %lld] (max_blocks * block_size)",
                  kOp, static_cast<long long>(b), static_cast<long long>(len),
                  static_cast<long long>(max_blocks * block_size));
    for (int64_t j = 0; j < (len + block_size - 1) / block_size; ++j) {
      const int64_t block = tb[size_t(b * max_blocks + j)];
      if (block < 0 || block >= num_blocks)
        return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                    "%s: block_table[%lld, %lld] = %lld is outside [0, %lld)", kOp,
                    static_cast<long long>(b), static_cast<long long>(j),
                    static_cast<long long>(block), static_cast<long long>(num_blocks));
    }
  }
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &q = call.inputs[0], &kc = call.inputs[1], &vc = call.inputs[2],
                   &table = call.inputs[3], &lens = call.inputs[4], &o = call.outputs[0];
  const rma_tensor* alibi = alibi_of(call);
  const auto& attrs = *static_cast<const rma_attention_attrs*>(call.attrs);
  const int64_t batch = q.shape[0];
  const cl_int hq = static_cast<cl_int>(q.shape[1]), hkv = static_cast<cl_int>(kc.shape[2]),
               d = static_cast<cl_int>(q.shape[2]), block_size = static_cast<cl_int>(kc.shape[1]),
               max_blocks = static_cast<cl_int>(table.shape[1]);
  const cl_long num_blocks = kc.shape[0];
  if (batch == 0 || hq == 0 || d == 0) return RMA_STATUS_OK;
  if (rma_status st = check_indices(ctx, table, lens, num_blocks, block_size, err)) return st;

  constexpr size_t kLocal = cfg::kLocalSize;
  // The query heads of one kv head's group, in chunks of at most gh.
  const cl_int group = hq / hkv;
  const cl_int gh = group < cfg::kMaxGroupHeads ? group : cfg::kMaxGroupHeads;
  const cl_int nhc = (group + gh - 1) / gh;
  cl_kernel kern = nullptr;
  if (rma_status st = get_kernel(
          ctx.dev, "paged_decode_attention/paged_decode_attention", "paged_decode_attention",
          "-DLOCAL_SIZE=" + std::to_string(kLocal) + " -DGH=" + std::to_string(gh) +
              " -DHEAD_D=" + std::to_string(d) + dtype_option("Q_DTYPE", q.dtype) +
              dtype_option("CACHE_DTYPE", kc.dtype),
          &kern, err))
    return st;
  const cl_mem slopes = alibi ? mem_of(*alibi) : nullptr;
  const cl_ulong slopes_off = alibi ? elem_offset(*alibi) : 0;
  const cl_int has_alibi = alibi ? 1 : 0,
               window = attrs.sliding_window > 0 ? attrs.sliding_window : 0;
  ArgSetter set(kern);
  set(mem_of(q))(elem_offset(q))(mem_of(kc))(elem_offset(kc))(mem_of(vc))(elem_offset(vc))(
      mem_of(table))(elem_offset(table))(mem_of(lens))(elem_offset(lens))(slopes)(slopes_off)(
      has_alibi)(mem_of(o))(elem_offset(o))(hq)(hkv)(block_size)(max_blocks)(num_blocks)(
      attrs.scale)(window)(nhc);
  const size_t global = size_t(batch) * size_t(hkv) * size_t(nhc) * kLocal, local = kLocal;
  return launch(ctx, kern, kOp, set.status(), 1, &global, &local, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_PAGED_DECODE_ATTENTION, supported, run);

}  // namespace rma::opencl
