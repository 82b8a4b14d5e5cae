// cuda rope: rotary position embedding of q and k (neox or gptj pairs,
// partial rotary_dim, none/linear/llama3 scaling); f32, f16 or bf16 (computed
// in f32, rounded once), i32 or i64 positions; outputs may alias inputs.
// inv_freq is computed on the host in double and rounded to f32 exactly as
// the reference does (rope_math::inv_freq) and travels in the kernel's
// parameters, so a captured graph needs no upload.
#include "common/cuda_op.h"
#include "common/kernel_utils.cuh"
#include "ops/rope/config.h"
#include "ops/rope/kernels/rope.cuh"

namespace rma::cuda {
namespace {

constexpr const char* kOp = "rope";

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 3 || call.num_outputs < 2)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected inputs (q, k, positions) and outputs (q_out, k_out)", kOp);
  const auto* a = static_cast<const rma_rope_attrs*>(call.attrs);
  if (!a || a->struct_size < sizeof(rma_rope_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_rope_attrs missing or too small", kOp);
  const rma_tensor &q = call.inputs[0], &k = call.inputs[1], &pos = call.inputs[2];
  const rma_tensor &qo = call.outputs[0], &ko = call.outputs[1];
  if (!is_float_dtype(q.dtype) || k.dtype != q.dtype || qo.dtype != q.dtype || ko.dtype != q.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: q, k, q_out, k_out must share one float dtype (got %s, %s, %s, %s)", kOp,
                dtype_label(q.dtype), dtype_label(k.dtype), dtype_label(qo.dtype),
                dtype_label(ko.dtype));
  if (q.dtype == RMA_DTYPE_BF16 && compute_capability(dev) < 80)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: bf16 needs sm_80 or newer (%s is sm_%d)", kOp,
                device_name(dev), compute_capability(dev));
  if (!is_index_dtype(pos.dtype))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: positions must be i32 or i64 (got %s)", kOp,
                dtype_label(pos.dtype));
  if (q.ndim != 3 || k.ndim != 3 || pos.ndim != 1 || k.shape[0] != q.shape[0] ||
      k.shape[2] != q.shape[2] || pos.shape[0] != q.shape[0] || !same_shape(q, qo) ||
      !same_shape(k, ko))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected q[T,Hq,D], k[T,Hkv,D], positions[T], outputs like q and k", kOp);
  const int64_t d = q.shape[2];
  const int64_t r = a->rotary_dim == 0 ? d : a->rotary_dim;
  if (r < 0 || r % 2 != 0 || r > d)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rotary_dim %d must be even and <= D (%lld)",
                kOp, a->rotary_dim, static_cast<long long>(d));
  if (a->style != RMA_ROPE_NEOX && a->style != RMA_ROPE_GPTJ)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: unknown style %d", kOp, a->style);
  if (a->scaling != RMA_ROPE_SCALING_NONE && a->scaling != RMA_ROPE_SCALING_LINEAR &&
      a->scaling != RMA_ROPE_SCALING_LLAMA3)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: scaling %d is not supported (none, linear, llama3)", kOp, a->scaling);
  if (r / 2 > rope_math::kMaxPairs)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: rotary_dim %lld is over the cuda limit %d", kOp,
                static_cast<long long>(r), 2 * rope_math::kMaxPairs);
  if (q.shape[1] > INT32_MAX || k.shape[1] > INT32_MAX || q.shape[0] > INT32_MAX)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: too many tokens or heads", kOp);
  if (!is_dense(q) || !is_dense(k) || !is_dense(pos) || !is_dense(qo) || !is_dense(ko))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: cuda runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  if (rma_status st = supported(ctx.dev, call, err)) return st;
  const auto& a = *static_cast<const rma_rope_attrs*>(call.attrs);
  const rma_tensor &q = call.inputs[0], &k = call.inputs[1], &pos = call.inputs[2];
  const rma_tensor &qo = call.outputs[0], &ko = call.outputs[1];
  const int64_t tokens = q.shape[0], d = q.shape[2];
  const int64_t r = a.rotary_dim == 0 ? d : a.rotary_dim;
  if (tokens == 0 || d == 0 || q.shape[1] + k.shape[1] == 0) return RMA_STATUS_OK;

  rope_kernels::InvFreq inv{};
  for (int64_t i = 0; i < r / 2; ++i) inv.v[i] = rope_math::inv_freq(a, i, r);
  rope_kernels::RopeParams p{};
  p.q = ptr(q);
  p.k = ptr(k);
  p.q_out = ptr(qo);
  p.k_out = ptr(ko);
  p.positions = ptr(pos);
  p.positions_i64 = pos.dtype == RMA_DTYPE_I64;
  p.hq = static_cast<int32_t>(q.shape[1]);
  p.hkv = static_cast<int32_t>(k.shape[1]);
  p.d = d;
  p.r = r;
  p.gptj = a.style == RMA_ROPE_GPTJ;
  const dim3 grid(static_cast<unsigned>(tokens));
  with_float_type(q.dtype, [&]<class T>() {
    rope_kernels::rope_kernel<T><<<grid, rope_config::kThreads, 0, ctx.stream>>>(p, inv);
    return RMA_STATUS_OK;
  });
  return check_launch(kOp, call, err);
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_ROPE, supported, run);

}  // namespace rma::cuda
