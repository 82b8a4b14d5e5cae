// cpu rope: rotary embedding of q and k, f32/f16/bf16, in place when the
// outputs alias the inputs. Tokens are split across threads; each token's
// cos/sin table is built once and shared by all its q and k heads.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

#include "common/float_rows.h"
#include "ops/rope/config.h"
#include "ops/rope/kernels/rope_kernel.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "rope";

// inv_freq[i], scaling applied, computed in double and rounded to f32 exactly
// as docs/ops.md states it (the reference computes the same values).
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
        // high frequency: kept
      } else if (wavelen > lo) {
        f /= a.factor;
      } else {
        const double s = (double(a.original_max_position) / wavelen - a.low_freq_factor) /
                         (double(a.high_freq_factor) - a.low_freq_factor);
        f = (1.0 - s) * f / a.factor + s * f;
      }
    }
    inv[i] = static_cast<float>(f);
  }
  return inv;
}

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_arity(call, err, kOp, 3, 2, true)) return st;
  const rma_tensor &q = call.inputs[0], &k = call.inputs[1], &pos = call.inputs[2];
  const rma_tensor &qo = call.outputs[0], &ko = call.outputs[1];
  const auto& a = *static_cast<const rma_rope_attrs*>(call.attrs);
  if (!is_float_dtype(q.dtype) || k.dtype != q.dtype || qo.dtype != q.dtype || ko.dtype != q.dtype)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: cpu runs f32/f16/bf16 with one dtype", kOp);
  if (pos.dtype != RMA_DTYPE_I32 && pos.dtype != RMA_DTYPE_I64)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: positions must be i32 or i64", kOp);
  if (q.ndim != 3 || k.ndim != 3 || k.shape[0] != q.shape[0] || k.shape[2] != q.shape[2] ||
      pos.ndim != 1 || pos.shape[0] != q.shape[0] || !same_shape(q, qo) || !same_shape(k, ko))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected q[T,Hq,D], k[T,Hkv,D], positions[T], outputs like q and k", kOp);
  const int64_t d = q.shape[2];
  const int64_t r = a.rotary_dim == 0 ? d : a.rotary_dim;
  if (a.rotary_dim < 0 || r > d || r % 2 != 0)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rotary_dim %d must be even and <= D = %lld",
                kOp, a.rotary_dim, static_cast<long long>(d));
  if (a.style != RMA_ROPE_NEOX && a.style != RMA_ROPE_GPTJ)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: style %d is not neox (0) or gptj (1)", kOp,
                a.style);
  if (a.scaling != RMA_ROPE_SCALING_NONE && a.scaling != RMA_ROPE_SCALING_LINEAR &&
      a.scaling != RMA_ROPE_SCALING_LLAMA3)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: scaling %d is not supported (none, linear, llama3)", kOp, a.scaling);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  const rma_tensor &q = call.inputs[0], &k = call.inputs[1], &pos = call.inputs[2];
  const rma_tensor &qo = call.outputs[0], &ko = call.outputs[1];
  const auto& a = *static_cast<const rma_rope_attrs*>(call.attrs);
  const int64_t tokens = q.shape[0], hq = q.shape[1], hkv = k.shape[1], d = q.shape[2];
  const int64_t r = a.rotary_dim == 0 ? d : a.rotary_dim, half = r / 2;
  if (tokens == 0 || d == 0 || half == 0) {
    // Nothing rotates; outputs that are not the inputs still get the values.
    for (int i = 0; i < 2; ++i) {
      const rma_tensor &in = call.inputs[i], &out = call.outputs[i];
      if (data<void>(out) != data<void>(in))
        std::memmove(data<void>(out), data<void>(in), numel(in) * float_bytes(in.dtype));
    }
    return RMA_STATUS_OK;
  }
  const std::vector<float> inv = inverse_frequencies(a, r);
  const bool gptj = a.style == RMA_ROPE_GPTJ;
  const bool f32 = q.dtype == RMA_DTYPE_F32;

  const int64_t per_token = std::max<int64_t>(1, (hq + hkv) * d);
  const int64_t grain = std::max<int64_t>(1, rope_config::kChunkElems / per_token);
  ctx.pool.parallel_for(tokens, grain, [&](int64_t t0, int64_t t1) {
    std::vector<float> c(half), s(half), ce(gptj ? r : 0), se(gptj ? r : 0);
    std::vector<float> buf(f32 ? 0 : std::max(hq, hkv) * d);
    for (int64_t t = t0; t < t1; ++t) {
      rope_angles(inv.data(), half, double(load_index(pos, t)), c.data(), s.data());
      if (gptj) {
        for (int64_t i = 0; i < half; ++i) {
          ce[2 * i] = ce[2 * i + 1] = c[i];
          se[2 * i] = -s[i];
          se[2 * i + 1] = s[i];
        }
      }
      auto rotate = [&](const float* x, float* y) {
        if (gptj)
          rope_rotate_gptj(x, y, ce.data(), se.data(), r);
        else
          rope_rotate_neox(x, y, c.data(), s.data(), half);
      };
      for (int which = 0; which < 2; ++which) {
        const rma_tensor& in = which == 0 ? q : k;
        const rma_tensor& out = which == 0 ? qo : ko;
        const int64_t heads = in.shape[1], at = t * heads * d;
        if (f32) {
          const float* x = data<const float>(in) + at;
          float* y = data<float>(out) + at;
          for (int64_t h = 0; h < heads; ++h) {
            rotate(x + h * d, y + h * d);
            if (y != x && r < d) std::memcpy(y + h * d + r, x + h * d + r, (d - r) * sizeof(float));
          }
        } else {
          // The whole token is loaded before it is stored: aliasing is safe.
          load_f32(in.dtype, elem_ptr(in, at), buf.data(), heads * d);
          for (int64_t h = 0; h < heads; ++h) rotate(buf.data() + h * d, buf.data() + h * d);
          store_f32(out.dtype, buf.data(), elem_ptr(out, at), heads * d);
        }
      }
    }
  });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_ROPE, supported, run);

}  // namespace rma::cpu
