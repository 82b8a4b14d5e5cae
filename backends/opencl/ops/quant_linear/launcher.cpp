// opencl quant_linear: y = act(alpha * x . deq(w)^T + bias), w [N, K] in
// q8_0, q4_0, q4_1, q4_k, q5_k or q6_k, or f16 / bf16, dequantized inside the
// kernel exactly as include/rma/block_decode.h (local-memory staging of
// decoded weights, no activation quantization). x, bias and y: one float
// dtype (f32, f16 or bf16; the 16-bit ones through common/kernels/dtype.cl,
// no cl_khr_fp16 needed), computed in f32.
#include <cstddef>
#include <string>

#include "common/cl_device.h"
#include "ops/quant_linear/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "quant_linear";

const rma_tensor* bias_of(const rma_op_call& call) {
  return call.num_inputs > 2 && present(call.inputs[2]) ? &call.inputs[2] : nullptr;
}

rma_status supported(const ClDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_inputs > 3 || call.num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected inputs (x, w, bias?) and one output, got %d inputs, %d outputs", kOp,
                call.num_inputs, call.num_outputs);
  // `precision` was appended to ABI v1; a caller built before it passes the
  // shorter struct. Both precisions run the same exact f32 kernels here.
  const auto* attrs = static_cast<const rma_linear_attrs*>(call.attrs);
  if (!attrs || attrs->struct_size < offsetof(rma_linear_attrs, precision))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_linear_attrs missing or too small", kOp);
  if (attrs->struct_size >= offsetof(rma_linear_attrs, precision) + sizeof(int32_t) &&
      attrs->precision != RMA_PRECISION_ACCURATE && attrs->precision != RMA_PRECISION_FAST)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: unknown precision %d", kOp,
                attrs->precision);
  if (attrs->trans_a != 0 || attrs->trans_b != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: requires trans_a = 0 and trans_b = 1 (w stored [N, K])", kOp);
  if (attrs->activation < RMA_ACT_NONE || attrs->activation > RMA_ACT_TANH)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: unknown activation %d", kOp,
                attrs->activation);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* bias = bias_of(call);
  const Block blk = block_of(w.dtype);
  if (blk.elems == 0 || w.dtype == RMA_DTYPE_F32)  // f32 weights go to linear
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: the opencl backend reads q8_0, q4_0, q4_1, q4_k, q5_k, q6_k, f16, bf16 "
                "weights (got %s)",
                kOp, dtype_label(w.dtype));
  if (y.dtype != x.dtype || (bias && bias->dtype != x.dtype))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: x, bias, y must share one dtype", kOp);
  if (rma_status st = require_float(kOp, "x", x, err)) return st;
  if (w.ndim != 2 || x.ndim < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected w [N, K] and x [..., K]", kOp);
  const int64_t k = last_dim(x), t = leading_rows(x), n = w.shape[0];
  if (w.shape[1] != k)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: K of x is %lld but w has K = %lld", kOp,
                static_cast<long long>(k), static_cast<long long>(w.shape[1]));
  if (k % blk.elems != 0)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: K (%lld) must be a multiple of %s's block of %lld",
                kOp, static_cast<long long>(k), dtype_label(w.dtype),
                static_cast<long long>(blk.elems));
  if (bias && (bias->ndim != 1 || bias->shape[0] != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bias must be [N = %lld]", kOp,
                static_cast<long long>(n));
  if (numel(y) != t * n || (y.ndim > 0 && last_dim(y) != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: y must hold [T = %lld, N = %lld]", kOp,
                static_cast<long long>(t), static_cast<long long>(n));
  if (!is_dense(x) || !is_dense(w) || !is_dense(y) || (bias && !is_dense(*bias)))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& attrs = *static_cast<const rma_linear_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* bias = bias_of(call);
  const cl_long k = last_dim(x), t = leading_rows(x), n = w.shape[0];
  if (t == 0 || n == 0) return RMA_STATUS_OK;
  const Block blk = block_of(w.dtype);
  const cl_ulong row_bytes = cl_ulong(k / blk.elems * blk.bytes);
  constexpr size_t kLanes = quant_linear_config::kLanes, kTokens = quant_linear_config::kTokens;
  constexpr size_t kDecMax = quant_linear_config::kDecodeMaxTokens;
  constexpr size_t kDecGroup = quant_linear_config::kDecodeGroup;
  const bool decode_path = t <= cl_long(kDecMax);
  const std::string options = "-DLANES=" + std::to_string(kLanes) +
                              " -DTOKENS=" + std::to_string(kTokens) +
                              " -DDEC_TMAX=" + std::to_string(kDecMax) +
                              " -DDEC_WG=" + std::to_string(kDecGroup) +
                              dtype_option("XT", x.dtype);
  cl_kernel kern = nullptr;
  if (rma_status st = get_kernel(ctx.dev, "quant_linear/quant_linear",
                                 decode_path ? "quant_linear_decode" : "quant_linear_tiled",
                                 options, &kern, err))
    return st;
  // Without bias the kernel never reads it; x stands in as a valid handle.
  const rma_tensor& b = bias ? *bias : x;
  ArgSetter set(kern);
  set(mem_of(x))(elem_offset(x))(mem_of(w))(cl_ulong(w.offset))(row_bytes)(cl_int(w.dtype));
  set(mem_of(b))(elem_offset(b))(cl_int(bias != nullptr))(mem_of(y))(elem_offset(y));
  set(t)(n)(k)(attrs.alpha)(cl_int(attrs.activation))(attrs.activation_param);
  if (decode_path) {
    const size_t global[1] = {size_t(n)}, local[1] = {kDecGroup};
    return launch(ctx, kern, kOp, set.status(), 1, global, local, err);
  }
  const size_t global[2] = {size_t(n) * kLanes, size_t(t)}, local[2] = {kLanes, kTokens};
  return launch(ctx, kern, kOp, set.status(), 2, global, local, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_QUANT_LINEAR, supported, run);

}  // namespace rma::opencl
