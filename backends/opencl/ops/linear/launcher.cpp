// opencl linear: y = act(alpha * opA(x) . opB(w) + bias); f32, f16 or bf16
// (products and sums in f32, y rounded once). Our own register-tiled GEMM
// kernel (epilogue fused), a one-work-item-per-column kernel for a few rows,
// or, where config.h's policy says it wins and the plugin was built with it,
// CLBlast's SGEMM (alpha folded in) followed by our bias/activation epilogue;
// f16 / bf16 operands are widened to f32 scratch buffers for it (CLBlast's
// HGEMM would accumulate in half and needs cl_khr_fp16).
// RMA_OPENCL_LINEAR=own|clblast forces one path.
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if defined(RMA_HAVE_CLBLAST)
#include <clblast.h>
#endif

#include "common/cl_device.h"
#include "ops/linear/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "linear";

const rma_tensor* bias_of(const rma_op_call& call) {
  return call.num_inputs > 2 && present(call.inputs[2]) ? &call.inputs[2] : nullptr;
}

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_inputs > 3 || call.num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "linear: expected inputs (x, w, bias?) and one output, got %d inputs, %d outputs",
                call.num_inputs, call.num_outputs);
  const auto* attrs = static_cast<const rma_linear_attrs*>(call.attrs);
  // Callers built before `precision` was appended pass the shorter struct.
  if (!attrs || attrs->struct_size < offsetof(rma_linear_attrs, precision))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: rma_linear_attrs missing or too small");
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* bias = bias_of(call);
  if (w.dtype != x.dtype || y.dtype != x.dtype || (bias && bias->dtype != x.dtype))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: x, w, bias, y must share one dtype");
  if (rma_status st = require_float(kOp, "x", x, err)) return st;
  if (attrs->activation < RMA_ACT_NONE || attrs->activation > RMA_ACT_TANH)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: unknown activation %d",
                attrs->activation);
  if (w.ndim != 2 || (attrs->trans_a ? x.ndim != 2 : x.ndim < 1))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: expected w 2-D and x %s",
                attrs->trans_a ? "2-D [K, T] (trans_a)" : "[..., K]");
  const int64_t k = attrs->trans_a ? x.shape[0] : last_dim(x);
  const int64_t t = attrs->trans_a ? x.shape[1] : leading_rows(x);
  const int64_t wk = attrs->trans_b ? w.shape[1] : w.shape[0];
  const int64_t n = attrs->trans_b ? w.shape[0] : w.shape[1];
  if (wk != k)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: K of x is %lld but w has K = %lld",
                static_cast<long long>(k), static_cast<long long>(wk));
  if (bias && (bias->ndim != 1 || bias->shape[0] != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: bias must be [N = %lld]",
                static_cast<long long>(n));
  if (numel(y) != t * n || (y.ndim > 0 && last_dim(y) != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: y must hold [T = %lld, N = %lld]",
                static_cast<long long>(t), static_cast<long long>(n));
  if (!is_dense(x) || !is_dense(w) || !is_dense(y) || (bias && !is_dense(*bias)))
    return fail(err, RMA_STATUS_UNSUPPORTED, "linear: opencl runs dense tensors only");
  return RMA_STATUS_OK;
}

#if defined(RMA_HAVE_CLBLAST)
// RMA_OPENCL_LINEAR: "own" or "clblast" forces that path; unset or
// anything else follows config.h's policy.
enum class Path { kPolicy, kOwn, kClblast };
Path forced_path() {
  const char* v = std::getenv("RMA_OPENCL_LINEAR");
  if (v && std::strcmp(v, "own") == 0) return Path::kOwn;
  if (v && std::strcmp(v, "clblast") == 0) return Path::kClblast;
  return Path::kPolicy;
}
#endif

struct Shape {
  cl_long t, n, k;
};

rma_status run_own(const Context& ctx, const rma_op_call& call, const rma_linear_attrs& attrs,
                   Shape s, rma_error* err) {
  using namespace linear_config;
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* bias = bias_of(call);
  // Without bias the kernels never read it; x stands in as a valid handle.
  const rma_tensor& b = bias ? *bias : x;
  const std::string trans = " -DTRANS_A=" + std::to_string(attrs.trans_a ? 1 : 0) +
                            " -DTRANS_B=" + std::to_string(attrs.trans_b ? 1 : 0) +
                            dtype_option("DTYPE", x.dtype);
  const bool rows = !attrs.trans_a && s.t <= kRows;
  cl_kernel kern = nullptr;
  if (rows) {
    const bool vec4 = attrs.trans_b && s.k % 4 == 0 && elem_offset(x) % 4 == 0 &&
                      elem_offset(w) % 4 == 0;
    const std::string opts =
        "-DROWS=" + std::to_string(kRows) + " -DVEC4=" + (vec4 ? "1" : "0") + trans;
    if (rma_status st = get_kernel(ctx.dev, "linear/linear", "linear_rows", opts, &kern, err))
      return st;
  } else {
    const std::string opts = "-DWG=" + std::to_string(kWg) + " -DTM=" + std::to_string(kTm) +
                             " -DTN=" + std::to_string(kTn) + " -DTK=" + std::to_string(kTk) +
                             trans;
    if (rma_status st = get_kernel(ctx.dev, "linear/linear", "linear", opts, &kern, err)) return st;
  }
  ArgSetter set(kern);
  set(mem_of(x))(elem_offset(x))(mem_of(w))(elem_offset(w))(mem_of(b))(elem_offset(b))(
      cl_int(bias != nullptr))(mem_of(y))(elem_offset(y))(s.t)(s.n)(s.k)(attrs.alpha)(
      cl_int(attrs.activation))(attrs.activation_param);
  if (rows) {
    const size_t global[1] = {size_t(s.n)}, local[1] = {kRowsGroup};
    return launch(ctx, kern, kOp, set.status(), 1, global, local, err);
  }
  // One group per (kWg*kTn) x (kWg*kTm) block of y.
  const size_t gx = (size_t(s.n) + kWg * kTn - 1) / (kWg * kTn);
  const size_t gy = (size_t(s.t) + kWg * kTm - 1) / (kWg * kTm);
  const size_t global[2] = {gx * kWg, gy * kWg}, local[2] = {kWg, kWg};
  return launch(ctx, kern, kOp, set.status(), 2, global, local, err);
}

#if defined(RMA_HAVE_CLBLAST)
// A device buffer for `floats` f32 values, released by the caller once the
// commands using it are enqueued (OpenCL keeps it alive until they ran).
rma_status scratch(const Context& ctx, cl_long floats, cl_mem* out, rma_error* err) {
  cl_int st = CL_SUCCESS;
  *out = clCreateBuffer(ctx.dev.context, CL_MEM_READ_WRITE,
                        size_t(floats > 0 ? floats : 1) * sizeof(float), nullptr, &st);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, "opencl (%s): %s: f32 scratch of %lld floats: %s",
                ctx.dev.name.c_str(), kOp, static_cast<long long>(floats), cl_error_name(st));
  return RMA_STATUS_OK;
}

// Widens `t` (f16 / bf16) into the f32 buffer `dst`.
rma_status widen(const Context& ctx, const rma_tensor& t, cl_mem dst, rma_error* err) {
  const cl_long n = numel(t);
  cl_kernel kern = nullptr;
  if (rma_status st = get_kernel(ctx.dev, "linear/linear", "linear_widen",
                                 dtype_option("DTYPE", t.dtype), &kern, err))
    return st;
  ArgSetter set(kern);
  set(mem_of(t))(elem_offset(t))(dst)(n);
  const size_t global[1] = {size_t((n + 7) / 8)};
  return launch(ctx, kern, kOp, set.status(), 1, global, nullptr, err);
}

// clblast::Gemm<float> (row-major, alpha folded in, beta 0), then our
// bias/activation epilogue. f32: straight into y, the epilogue in place when
// there is one. f16 / bf16: x and w widened to f32 scratch, the product into
// an f32 scratch, and the epilogue rounds it into y.
rma_status run_clblast(const Context& ctx, const rma_op_call& call, const rma_linear_attrs& attrs,
                       Shape s, rma_error* err) {
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const rma_tensor* bias = bias_of(call);
  const bool f32 = x.dtype == RMA_DTYPE_F32;
  cl_mem xs = mem_of(x), ws = mem_of(w), ys = mem_of(y);
  size_t x_off = size_t(elem_offset(x)), w_off = size_t(elem_offset(w)),
         y_off = size_t(elem_offset(y));
  std::vector<cl_mem> scratches;
  auto release = [&] {
    for (cl_mem m : scratches) clReleaseMemObject(m);
  };
  if (!f32) {
    for (cl_long floats : {numel(x), numel(w), s.t * s.n}) {
      cl_mem m = nullptr;
      if (rma_status st = scratch(ctx, floats, &m, err)) {
        release();
        return st;
      }
      scratches.push_back(m);
    }
    xs = scratches[0];
    ws = scratches[1];
    ys = scratches[2];
    x_off = w_off = y_off = 0;
    rma_status st = widen(ctx, x, xs, err);
    if (st == RMA_STATUS_OK) st = widen(ctx, w, ws, err);
    if (st != RMA_STATUS_OK) {
      release();
      return st;
    }
  }
  using clblast::Transpose;
  const Transpose ta = attrs.trans_a ? Transpose::kYes : Transpose::kNo;
  const Transpose tb = attrs.trans_b ? Transpose::kYes : Transpose::kNo;
  const size_t lda = size_t(attrs.trans_a ? s.t : s.k);  // x [K, T] or [T, K]
  const size_t ldb = size_t(attrs.trans_b ? s.k : s.n);  // w [N, K] or [K, N]
  cl_command_queue queue = ctx.queue;
  const clblast::StatusCode code = clblast::Gemm<float>(
      clblast::Layout::kRowMajor, ta, tb, size_t(s.t), size_t(s.n), size_t(s.k), attrs.alpha, xs,
      x_off, lda, ws, w_off, ldb, 0.f, ys, y_off, size_t(s.n), &queue, nullptr);
  if (code != clblast::StatusCode::kSuccess) {
    release();
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl: linear: clblast::Gemm failed with status %d",
                static_cast<int>(code));
  }
  if (f32 && !bias && attrs.activation == RMA_ACT_NONE) return RMA_STATUS_OK;
  cl_kernel kern = nullptr;
  if (rma_status st = get_kernel(ctx.dev, "linear/linear", "linear_epilogue",
                                 dtype_option("DTYPE", y.dtype), &kern, err)) {
    release();
    return st;
  }
  const rma_tensor& b = bias ? *bias : y;  // never read without bias
  const cl_long total = s.t * s.n;
  ArgSetter set(kern);
  set(ys)(cl_ulong(y_off))(mem_of(b))(elem_offset(b))(cl_int(bias != nullptr))(mem_of(y))(
      elem_offset(y))(total)(s.n)(cl_int(attrs.activation))(attrs.activation_param);
  const size_t global[1] = {size_t(total)}, local[1] = {64};
  const rma_status st = launch(ctx, kern, kOp, set.status(), 1, global, local, err);
  release();
  return st;
}
#endif

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& attrs = *static_cast<const rma_linear_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1];
  const Shape shape{attrs.trans_a ? x.shape[1] : leading_rows(x),  // t
                    attrs.trans_b ? w.shape[0] : w.shape[1],       // n
                    attrs.trans_a ? x.shape[0] : last_dim(x)};     // k
  if (shape.t == 0 || shape.n == 0) return RMA_STATUS_OK;
#if defined(RMA_HAVE_CLBLAST)
  const Path path = forced_path();
  if (shape.k > 0 &&
      (path == Path::kClblast ||
       (path == Path::kPolicy && linear_config::use_clblast(shape.t, attrs.trans_a != 0))))
    return run_clblast(ctx, call, attrs, shape, err);
#endif
  return run_own(ctx, call, attrs, shape, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_LINEAR, supported, run);

}  // namespace rma::opencl
