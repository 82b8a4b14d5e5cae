// cpu pool2d: max or average over each window of each (n, c) plane of an
// NCHW tensor (docs/ops.md "pool2d"), f32/f16/bf16 computed in f32. One
// plane per task: the plane is copied once into an f32 buffer padded with
// the kind's neutral value (-inf for max, 0 for average) wide enough for
// every window, ceil_mode's too (f32 planes that need no padding are read in
// place). Each output row reduces its window rows first (contiguous, so
// vectorised), then the window columns of that one row: the strided work is
// kW per output, not kH * kW. A global window is one reduction over the
// plane.
// Average divisors are separable (a tap counts when both its row and its
// column do), so they come from one count per output row and column.
#include <algorithm>
#include <limits>
#include <vector>

#include "common/convert.h"
#include "common/cpu_op.h"
#include "ops/pool2d/config.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "pool2d";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 1 || call.num_outputs < 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected input x, attrs and output y", kOp);
  const auto* a = static_cast<const rma_pool2d_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (a->struct_size < sizeof(rma_pool2d_attrs) || a->kind < 0 || a->kind >= RMA_POOL_COUNT)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: bad rma_pool2d_attrs", kOp);
  if (!is_float_dtype(x.dtype) || y.dtype != x.dtype || x.ndim != 4 || y.ndim != 4 ||
      y.shape[0] != x.shape[0] || y.shape[1] != x.shape[1])
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected x[N,C,H,W] and y[N,C,oH,oW] of one float dtype", kOp);
  if (!is_dense(x) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the cpu runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// Per output index along one axis: how many window taps fall inside x, or
// inside the padded extent [-pad_begin, in + pad_end) when include_pad.
std::vector<float> tap_counts(int64_t out, int64_t in, int64_t kernel, int64_t stride,
                              int64_t dilation, int64_t pad_begin, int64_t pad_end,
                              bool include_pad) {
  std::vector<float> counts(static_cast<size_t>(out));
  const int64_t hi = include_pad ? in + pad_end : in, lo = include_pad ? -pad_begin : 0;
  for (int64_t i = 0; i < out; ++i) {
    int64_t n = 0;
    for (int64_t k = 0; k < kernel; ++k) {
      const int64_t at = i * stride - pad_begin + k * dilation;
      n += at >= lo && at < hi;
    }
    counts[i] = float(n);
  }
  return counts;
}

// The sum / max of n floats, in kLanes independent partial results so the
// compiler can keep them in one vector register.
constexpr int kLanes = 16;
float plane_sum(const float* v, int64_t n) {
  float part[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) part[l] += v[i + l];
  float total = 0.f;
  for (; i < n; ++i) total += v[i];
  for (float x : part) total += x;
  return total;
}
float plane_max(const float* v, int64_t n) {
  float part[kLanes];
  std::fill(part, part + kLanes, -std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) part[l] = std::max(part[l], v[i + l]);
  float best = -std::numeric_limits<float>::infinity();
  for (; i < n; ++i) best = std::max(best, v[i]);
  for (float x : part) best = std::max(best, x);
  return best;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  const auto& a = *static_cast<const rma_pool2d_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  if (numel(y) == 0) return RMA_STATUS_OK;
  const int64_t planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t oh = y.shape[2], ow = y.shape[3];
  const int64_t sh = a.stride[0], sw = a.stride[1], dh = a.dilation[0], dw = a.dilation[1];
  const int64_t kh = a.kernel[0], kw = a.kernel[1];
  const bool max = a.kind == RMA_POOL_MAX;
  // The padded buffer covers the last window's last tap (ceil_mode may
  // reach past the end padding).
  const int64_t ph = std::max(h + a.pad[0] + a.pad[2], (oh - 1) * sh + (kh - 1) * dh + 1);
  const int64_t pw = std::max(w + a.pad[1] + a.pad[3], (ow - 1) * sw + (kw - 1) * dw + 1);
  const float neutral = max ? -std::numeric_limits<float>::infinity() : 0.f;
  std::vector<float> row_counts, col_counts;
  if (!max) {
    row_counts = tap_counts(oh, h, kh, sh, dh, a.pad[0], a.pad[2], a.count_include_pad);
    col_counts = tap_counts(ow, w, kw, sw, dw, a.pad[1], a.pad[3], a.count_include_pad);
  }
  // The columns the windows of one output row read.
  const int64_t span_w = (ow - 1) * sw + (kw - 1) * dw + 1;
  const int64_t es = bytes_for(dtype_of(x), 1);
  // f32 planes whose every window lies inside x are read in place.
  const bool in_place = x.dtype == RMA_DTYPE_F32 && ph == h && pw == w;
  const bool global = oh == 1 && ow == 1 && kh == h && kw == w && ph == h && pw == w;
  ctx.pool.parallel_for(planes, pool2d_config::kMinPlanesPerTask, [&](int64_t p0, int64_t p1) {
    // Per-thread buffers kept between calls (no page faults per call).
    thread_local std::vector<float> padded, acc, column_sums;
    acc.resize(static_cast<size_t>(ow));
    column_sums.resize(static_cast<size_t>(span_w));
    float* vert = column_sums.data();
    if (!in_place) {
      // The border keeps the neutral value; each plane overwrites the rest.
      padded.assign(static_cast<size_t>(ph * pw), neutral);
    }
    for (int64_t p = p0; p < p1; ++p) {
      const float* plane = in_place ? data<const float>(x) + p * h * w : padded.data();
      if (!in_place)
        for (int64_t i = 0; i < h; ++i)
          load_f32(x.dtype, data<const uint8_t>(x) + (p * h + i) * w * es,
                   padded.data() + (i + a.pad[0]) * pw + a.pad[1], w);
      uint8_t* y_plane = data<uint8_t>(y) + p * oh * ow * es;
      if (global) {
        acc[0] = max ? plane_max(plane, h * w) : plane_sum(plane, h * w) / float(h * w);
        store_f32(y.dtype, acc.data(), y_plane, 1);
        continue;
      }
      for (int64_t i = 0; i < oh; ++i) {
        // Down the window's rows first (contiguous), then along its columns.
        const float* top = plane + i * sh * pw;
        std::copy(top, top + span_w, vert);
        for (int64_t r = 1; r < kh; ++r) {
          const float* src = top + r * dh * pw;
          if (max) {
            for (int64_t t = 0; t < span_w; ++t) vert[t] = std::max(vert[t], src[t]);
          } else {
            for (int64_t t = 0; t < span_w; ++t) vert[t] += src[t];
          }
        }
        float* out = acc.data();
        for (int64_t j = 0; j < ow; ++j) out[j] = vert[j * sw];
        for (int64_t q = 1; q < kw; ++q) {
          const float* s = vert + q * dw;
          if (max) {
            for (int64_t j = 0; j < ow; ++j) out[j] = std::max(out[j], s[j * sw]);
          } else {
            for (int64_t j = 0; j < ow; ++j) out[j] += s[j * sw];
          }
        }
        if (!max)
          for (int64_t j = 0; j < ow; ++j) {
            const float count = row_counts[i] * col_counts[j];
            out[j] = count > 0 ? out[j] / count : 0.f;
          }
        store_f32(y.dtype, out, y_plane + i * ow * es, ow);
      }
    }
  });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_POOL2D, supported, run);

}  // namespace rma::cpu
