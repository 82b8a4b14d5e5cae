// cpu conv2d: y = act(cross-correlation(x, w) + bias) over NCHW tensors
// (docs/ops.md "conv2d"), f32/f16/bf16 accumulated in f32. Two paths:
//   depthwise-like (one input channel per filter): direct, one (image,
//     filter) plane per task, each tap a multiply-add over an output row of
//     a zero-padded f32 copy of the input plane;
//   otherwise im2col + the shared GEMM (common/gemm): per image and group,
//     y[Mg, P] = w[Mg, K] . col[K, P] with K = C/group * kH * kW, P = oH *
//     oW, in column tiles that keep col small. A 1x1 conv with stride 1 and
//     no padding reads x as col directly. The GEMM sums into an f32 tile;
//     bias (per row) and the activation are applied as it is stored.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "common/convert.h"
#include "common/cpu_op.h"
#include "common/gemm/gemm.h"
#include "ops/conv2d/config.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "conv2d";

// The call's sizes, read once.
struct Geometry {
  int64_t batch, channels, h, w;                // x [N, C, H, W]
  int64_t filters, group_channels, kh, kw;      // w [M, C/group, kH, kW]
  int64_t oh, ow;                               // y [N, M, oH, oW]
  int64_t groups, group_filters, taps, pixels;  // group, M/group, K, P
};

Geometry geometry(const rma_op_call& call) {
  const auto& a = *static_cast<const rma_conv2d_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  Geometry g{};
  g.batch = x.shape[0];
  g.channels = x.shape[1];
  g.h = x.shape[2];
  g.w = x.shape[3];
  g.filters = w.shape[0];
  g.group_channels = w.shape[1];
  g.kh = w.shape[2];
  g.kw = w.shape[3];
  g.oh = y.shape[2];
  g.ow = y.shape[3];
  g.groups = a.group;
  g.group_filters = a.group > 0 ? g.filters / a.group : 0;
  g.taps = g.group_channels * g.kh * g.kw;
  g.pixels = g.oh * g.ow;
  return g;
}

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_outputs < 1 || !call.attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs x, w, attrs and output y",
                kOp);
  const auto* a = static_cast<const rma_conv2d_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const bool has_bias = call.num_inputs > 2 && present(call.inputs[2]);
  if (a->struct_size < sizeof(rma_conv2d_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_conv2d_attrs too small", kOp);
  if (!is_float_dtype(x.dtype) || w.dtype != x.dtype || y.dtype != x.dtype ||
      (has_bias && call.inputs[2].dtype != x.dtype))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: x, w, bias, y must share one float dtype",
                kOp);
  if (x.ndim != 4 || w.ndim != 4 || y.ndim != 4 || a->group < 1 ||
      x.shape[1] != w.shape[1] * a->group || w.shape[0] % a->group != 0 ||
      y.shape[0] != x.shape[0] || y.shape[1] != w.shape[0] ||
      (has_bias && (call.inputs[2].ndim != 1 || call.inputs[2].shape[0] != w.shape[0])))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected x[N,C,H,W], w[M,C/group,kH,kW], bias[M], y[N,M,oH,oW]", kOp);
  if (!is_dense(x) || !is_dense(w) || !is_dense(y) || (has_bias && !is_dense(call.inputs[2])))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the cpu runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// Per-thread buffers, kept between calls: allocating them per call costs
// page faults that dominate small convolutions. They grow to the largest
// call's needs (the im2col panel is bounded by config.h).
struct Scratch {
  std::vector<float> src, col, sums;  // GEMM path: x as f32, im2col panel, f32 sums
  std::vector<float> padded, row;     // depthwise path: padded plane, one output row
};
Scratch& thread_scratch() {
  thread_local Scratch scratch;
  return scratch;
}

// One output row of f32 sums -> y's dtype: + bias, then the activation.
void store_row(float* sums, int64_t n, float bias, const rma_conv2d_attrs& a, void* y,
               int32_t dtype) {
  if (bias != 0.f)
    for (int64_t j = 0; j < n; ++j) sums[j] += bias;
  epilogue_row(sums, n, nullptr, 1.f, a.activation, a.activation_param, y, dtype);
}

// ------------------------------------------------------------ depthwise

// Filters that read one input channel each (C/group == 1): a direct loop
// per (image, filter) plane beats a GEMM with K = kH * kW. At stride 1 each
// tap is one multiply-add over the whole plane seen as rows of the padded
// width (the columns past oW are computed and dropped), so the loops are
// long; other strides go output row by output row.
void run_depthwise(ThreadPool& pool, const rma_op_call& call, const Geometry& g,
                   const std::vector<float>& bias, const std::vector<float>& weights) {
  const auto& a = *static_cast<const rma_conv2d_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const int64_t es = bytes_for(dtype_of(x), 1);
  const int64_t ph = g.h + a.pad[0] + a.pad[2], pw = g.w + a.pad[1] + a.pad[3];
  const int64_t sh = a.stride[0], sw = a.stride[1], dh = a.dilation[0], dw = a.dilation[1];
  const bool unit_stride = sh == 1 && sw == 1;
  // Sums: a plane of oH rows of the padded width at unit stride, else a row.
  const int64_t sums_size = unit_stride ? g.oh * pw : g.ow;
  pool.parallel_for(g.batch * g.filters, 1, [&](int64_t p0, int64_t p1) {
    Scratch& s = thread_scratch();
    // The padded plane, plus the tail the last flat tap reads past it.
    s.padded.resize(static_cast<size_t>(ph * pw + (g.kw - 1) * dw));
    s.row.resize(static_cast<size_t>(sums_size));
    float* padded = s.padded.data();
    float* sums = s.row.data();
    int64_t loaded = -1;  // the input plane now in `padded`
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n = p / g.filters, m = p % g.filters;
      const int64_t channel = n * g.channels + m / g.group_filters;
      if (channel != loaded) {  // filters of one channel reuse its copy
        std::fill(s.padded.begin(), s.padded.end(), 0.f);
        for (int64_t i = 0; i < g.h; ++i)
          load_f32(x.dtype, data<const uint8_t>(x) + ((channel * g.h + i) * g.w) * es,
                   padded + (i + a.pad[0]) * pw + a.pad[1], g.w);
        loaded = channel;
      }
      const float* wm = weights.data() + m * g.kh * g.kw;
      const float b = bias.empty() ? 0.f : bias[m];
      uint8_t* y_plane = data<uint8_t>(y) + (n * g.filters + m) * g.pixels * es;
      if (unit_stride) {
        std::fill(sums, sums + sums_size, 0.f);
        for (int64_t r = 0; r < g.kh; ++r)
          for (int64_t q = 0; q < g.kw; ++q) {
            const float wt = wm[r * g.kw + q];
            const float* src = padded + r * dh * pw + q * dw;
            for (int64_t t = 0; t < sums_size; ++t) sums[t] += wt * src[t];
          }
        for (int64_t i = 0; i < g.oh; ++i)
          store_row(sums + i * pw, g.ow, b, a, y_plane + i * g.ow * es, y.dtype);
        continue;
      }
      for (int64_t i = 0; i < g.oh; ++i) {
        std::fill(sums, sums + g.ow, 0.f);
        for (int64_t r = 0; r < g.kh; ++r) {
          const float* src = padded + (i * sh + r * dh) * pw;
          for (int64_t q = 0; q < g.kw; ++q) {
            const float wt = wm[r * g.kw + q];
            const float* row = src + q * dw;
            for (int64_t j = 0; j < g.ow; ++j) sums[j] += wt * row[j * sw];
          }
        }
        store_row(sums, g.ow, b, a, y_plane + i * g.ow * es, y.dtype);
      }
    }
  });
}

// --------------------------------------------------------- im2col + GEMM

// col[k, t] for output pixels [p0, p0 + cols) of one image and group, k =
// (c, r, q); `src` is the group's C/group input planes as f32.
void im2col(const float* src, const Geometry& g, const rma_conv2d_attrs& a, int64_t p0,
            int64_t cols, int64_t k0, int64_t k1, float* col) {
  for (int64_t k = k0; k < k1; ++k) {
    const int64_t c = k / (g.kh * g.kw), r = k / g.kw % g.kh, q = k % g.kw;
    const float* plane = src + c * g.h * g.w;
    float* out = col + k * cols;
    // The columns j with 0 <= j * sw - pl + q * dw < W read x; the rest pad.
    const int64_t offset = q * a.dilation[1] - a.pad[1], sw = a.stride[1];
    const int64_t j_lo = offset >= 0 ? 0 : (-offset + sw - 1) / sw;
    const int64_t j_hi = g.w - offset <= 0 ? 0 : std::min(g.ow, (g.w - offset - 1) / sw + 1);
    // Output row by output row from pixel p0: i, j0 advance without
    // dividing.
    int64_t i = p0 / g.ow, j0 = p0 % g.ow;
    for (int64_t t = 0; t < cols; t += g.ow - j0, ++i, j0 = 0) {
      const int64_t run = std::min(g.ow - j0, cols - t);  // the rest of output row i
      const int64_t hi = i * a.stride[0] - a.pad[0] + r * a.dilation[0];
      float* dst = out + t;
      if (hi < 0 || hi >= g.h) {
        std::fill(dst, dst + run, 0.f);
        continue;
      }
      // Zeros, the columns that read x, zeros.
      const int64_t j1 = j0 + run;
      const int64_t a0 = std::clamp(j_lo, j0, j1), a1 = std::clamp(j_hi, a0, j1);
      std::fill(dst, dst + (a0 - j0), 0.f);
      const float* s = plane + hi * g.w + offset;
      if (sw == 1) {
        std::copy(s + a0, s + a1, dst + (a0 - j0));
      } else {
        for (int64_t j = a0; j < a1; ++j) dst[j - j0] = s[j * sw];
      }
      std::fill(dst + (a1 - j0), dst + run, 0.f);
    }
  }
}

rma_status run_gemm(ThreadPool& pool, const rma_op_call& call, const Geometry& g,
                    const std::vector<float>& bias, rma_error* err) {
  const auto& a = *static_cast<const rma_conv2d_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const int64_t es = bytes_for(dtype_of(x), 1);
  // A 1x1 window at stride 1 without padding: x's planes are col already.
  const bool pointwise = g.kh == 1 && g.kw == 1 && a.stride[0] == 1 && a.stride[1] == 1 &&
                         a.pad[0] == 0 && a.pad[1] == 0 && a.pad[2] == 0 && a.pad[3] == 0;
  const int64_t tile = pointwise ? g.pixels
                                 : std::min(g.pixels, std::max(conv2d_config::kMinTileColumns,
                                                               conv2d_config::kPanelFloats /
                                                                   std::max<int64_t>(g.taps, 1)));
  const int64_t tiles = (g.pixels + tile - 1) / tile;
  const int64_t jobs = g.batch * g.groups * tiles;
  const bool per_thread =
      jobs >= pool.size() && g.group_filters * g.taps * tile <= conv2d_config::kPerThreadJobMaxMacs;

  // One job: image n, group gi, column tile ti, with the calling thread's
  // scratch.
  auto run_job = [&](ThreadPool& job_pool, int64_t job, Scratch& s) {
    const int64_t ti = job % tiles, gi = job / tiles % g.groups, n = job / tiles / g.groups;
    const int64_t p0 = ti * tile, cols = std::min(tile, g.pixels - p0);
    const int64_t c0 = n * g.channels + gi * g.group_channels;  // first input plane
    const uint8_t* x_group = data<const uint8_t>(x) + c0 * g.h * g.w * es;
    GemmArgs args;
    args.m = g.group_filters;
    args.n = cols;
    args.k = g.taps;
    args.a = {data<const uint8_t>(w) + gi * g.group_filters * g.taps * es, w.dtype, g.taps, true};
    if (pointwise) {
      args.b = {x_group + p0 * es, x.dtype, g.pixels, false};
    } else {
      const float* src = reinterpret_cast<const float*>(x_group);
      if (x.dtype != RMA_DTYPE_F32) {
        s.src.resize(static_cast<size_t>(g.group_channels * g.h * g.w));
        load_f32(x.dtype, x_group, s.src.data(), g.group_channels * g.h * g.w);
        src = s.src.data();
      }
      s.col.resize(static_cast<size_t>(g.taps * cols));
      if (!per_thread) {  // the one job running: spread its im2col too
        job_pool.parallel_for(g.taps, 8, [&](int64_t k0, int64_t k1) {
          im2col(src, g, a, p0, cols, k0, k1, s.col.data());
        });
      } else {
        im2col(src, g, a, p0, cols, 0, g.taps, s.col.data());
      }
      args.b = {s.col.data(), RMA_DTYPE_F32, cols, false};
    }
    s.sums.resize(static_cast<size_t>(g.group_filters * cols));
    args.y = s.sums.data();
    args.y_dtype = RMA_DTYPE_F32;
    args.ldy = cols;
    if (!gemv(job_pool, args)) return false;
    for (int64_t r = 0; r < g.group_filters; ++r) {
      const int64_t m = gi * g.group_filters + r;
      store_row(s.sums.data() + r * cols, cols, bias.empty() ? 0.f : bias[m], a,
                data<uint8_t>(y) + ((n * g.filters + m) * g.pixels + p0) * es, y.dtype);
    }
    return true;
  };

  bool ok = true;
  if (per_thread) {
    std::atomic<bool> all{true};
    pool.parallel_for(jobs, 1, [&](int64_t j0, int64_t j1) {
      Scratch& s = thread_scratch();
      for (int64_t j = j0; j < j1; ++j)
        if (!run_job(pool, j, s)) all = false;  // nested: each GEMM runs serially
    });
    ok = all;
  } else {
    Scratch& s = thread_scratch();
    for (int64_t j = 0; j < jobs && ok; ++j) ok = run_job(pool, j, s);
  }
  if (!ok)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY,
                "%s: no memory for the GEMM scratch (M = %lld, N = %lld, K = %lld)", kOp,
                static_cast<long long>(g.group_filters), static_cast<long long>(tile),
                static_cast<long long>(g.taps));
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &w = call.inputs[1], &y = call.outputs[0];
  const Geometry g = geometry(call);
  if (numel(y) == 0) return RMA_STATUS_OK;
  std::vector<float> bias;
  if (call.num_inputs > 2 && present(call.inputs[2])) {
    bias.resize(static_cast<size_t>(g.filters));
    load_f32(call.inputs[2].dtype, data<const void>(call.inputs[2]), bias.data(), g.filters);
  }
  if (g.taps == 0) {  // no input channels: every sum is empty
    std::vector<float> zeros(static_cast<size_t>(g.pixels));
    const int64_t es = bytes_for(dtype_of(y), 1);
    for (int64_t row = 0; row < g.batch * g.filters; ++row) {
      std::fill(zeros.begin(), zeros.end(), 0.f);
      store_row(zeros.data(), g.pixels, bias.empty() ? 0.f : bias[row % g.filters],
                *static_cast<const rma_conv2d_attrs*>(call.attrs),
                data<uint8_t>(y) + row * g.pixels * es, y.dtype);
    }
    return RMA_STATUS_OK;
  }
  if (g.group_channels == 1) {
    std::vector<float> weights(static_cast<size_t>(numel(w)));
    load_f32(w.dtype, data<const void>(w), weights.data(), numel(w));
    run_depthwise(ctx.pool, call, g, bias, weights);
    return RMA_STATUS_OK;
  }
  return run_gemm(ctx.pool, call, g, bias, err);
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_CONV2D, supported, run);

}  // namespace rma::cpu
