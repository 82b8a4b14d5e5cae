// opencl rope: rotary position embedding of q and k (neox or gptj pairs,
// partial rotary_dim, none/linear/llama3 scaling); f32, f16 or bf16 (computed
// in f32, rounded once). inv_freq is computed on the host in double and
// rounded to f32 (docs/ops.md "rope").
#include <cmath>
#include <numbers>
#include <vector>

#include "common/cl_device.h"
#include "ops/rope/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "rope";

bool is_index(const rma_tensor& t) { return t.dtype == RMA_DTYPE_I32 || t.dtype == RMA_DTYPE_I64; }

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 3 || call.num_outputs < 2)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected inputs (q, k, positions) and outputs (q_out, k_out)", kOp);
  const auto* a = static_cast<const rma_rope_attrs*>(call.attrs);
  if (!a || a->struct_size < sizeof(rma_rope_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_rope_attrs missing or too small", kOp);
  const rma_tensor &q = call.inputs[0], &k = call.inputs[1], &pos = call.inputs[2];
  const rma_tensor &qo = call.outputs[0], &ko = call.outputs[1];
  if (k.dtype != q.dtype || qo.dtype != q.dtype || ko.dtype != q.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: q, k, q_out, k_out must share one dtype", kOp);
  if (rma_status st = require_float(kOp, "q", q, err)) return st;
  if (!is_index(pos))
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
  if (a->scaling == RMA_ROPE_SCALING_YARN)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: yarn scaling is rejected in ABI v1", kOp);
  if (a->scaling != RMA_ROPE_SCALING_NONE && a->scaling != RMA_ROPE_SCALING_LINEAR &&
      a->scaling != RMA_ROPE_SCALING_LLAMA3)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: unknown scaling %d", kOp, a->scaling);
  if (!is_dense(q) || !is_dense(k) || !is_dense(pos) || !is_dense(qo) || !is_dense(ko))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// inv_freq[i] for i in [0, r/2), scaling applied, in double, rounded to f32.
std::vector<float> inverse_frequencies(const rma_rope_attrs& a, int64_t r) {
  std::vector<float> inv(static_cast<size_t>(r / 2));
  for (int64_t i = 0; i < r / 2; ++i) {
    double f = std::pow(double(a.theta), -2.0 * double(i) / double(r));
    if (a.scaling == RMA_ROPE_SCALING_LINEAR) {
      f /= a.factor;
    } else if (a.scaling == RMA_ROPE_SCALING_LLAMA3) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      const double lo = double(a.original_max_position) / a.low_freq_factor;
      const double hi = double(a.original_max_position) / a.high_freq_factor;
      if (wavelen < hi) {
        // high frequencies are kept
      } else if (wavelen > lo) {
        f /= a.factor;
      } else {
        const double s = (double(a.original_max_position) / wavelen - a.low_freq_factor) /
                         (double(a.high_freq_factor) - a.low_freq_factor);
        f = (1.0 - s) * f / a.factor + s * f;
      }
    }
    inv[static_cast<size_t>(i)] = static_cast<float>(f);
  }
  return inv;
}

rma_status rotate(const Context& ctx, const rma_tensor& x, const rma_tensor& out,
                  const rma_tensor& pos, cl_mem inv, cl_long r, cl_int gptj, rma_error* err) {
  const cl_long heads = x.shape[1], d = x.shape[2], rows = x.shape[0] * heads;
  const cl_long cols = r / 2 + (d - r);
  if (rows == 0 || cols == 0) return RMA_STATUS_OK;
  cl_kernel k = nullptr;
  if (rma_status st =
          get_kernel(ctx.dev, "rope/rope", "rope", dtype_option("DTYPE", x.dtype), &k, err))
    return st;
  ArgSetter set(k);
  set(mem_of(x))(elem_offset(x))(mem_of(out))(elem_offset(out));
  set(mem_of(pos))(cl_ulong(pos.offset))(cl_int(pos.dtype == RMA_DTYPE_I64 ? 1 : 0));
  set(inv)(heads)(d)(r)(gptj)(rows);
  const size_t global[2] = {size_t(cols), size_t(rows)};
  return launch(ctx, k, kOp, set.status(), 2, global, nullptr, err);
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& a = *static_cast<const rma_rope_attrs*>(call.attrs);
  const rma_tensor &q = call.inputs[0], &k = call.inputs[1], &pos = call.inputs[2];
  const rma_tensor &qo = call.outputs[0], &ko = call.outputs[1];
  const int64_t d = q.shape[2];
  const cl_long r = a.rotary_dim == 0 ? d : a.rotary_dim;
  if (q.shape[0] == 0 || d == 0) return RMA_STATUS_OK;
  std::vector<float> inv = inverse_frequencies(a, r);
  inv.push_back(0.f);  // never empty: a zero-size buffer is an OpenCL error
  cl_int st = CL_SUCCESS;
  // Released right after the enqueues: OpenCL keeps it alive until they ran.
  cl_mem inv_mem = clCreateBuffer(ctx.dev.context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                  inv.size() * sizeof(float), inv.data(), &st);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl: %s: inv_freq buffer: %s", kOp, cl_error_name(st));
  const cl_int gptj = a.style == RMA_ROPE_GPTJ ? 1 : 0;
  rma_status s = rotate(ctx, q, qo, pos, inv_mem, r, gptj, err);
  if (s == RMA_STATUS_OK) s = rotate(ctx, k, ko, pos, inv_mem, r, gptj, err);
  clReleaseMemObject(inv_mem);
  return s;
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_ROPE, supported, run);

}  // namespace rma::opencl
