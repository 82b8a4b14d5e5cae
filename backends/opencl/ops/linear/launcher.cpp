// opencl linear: y = act(alpha * opA(x) . opB(w) + bias); f32, f16 or bf16
// (products and sums in f32, y rounded once). Our own register-tiled GEMM
// kernel (epilogue fused), a one-work-item-per-column kernel for a few rows,
// or, where config.h's policy says it wins and the plugin was built with it,
// CLBlast's SGEMM (alpha folded in) followed by our bias/activation epilogue;
// f16 / bf16 operands are widened to f32 scratch buffers for it (CLBlast's
// HGEMM would accumulate in half and needs cl_khr_fp16).
// RMA_OPENCL_LINEAR=own|clblast forces one path.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
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
    const bool vec4 =
        attrs.trans_b && s.k % 4 == 0 && elem_offset(x) % 4 == 0 && elem_offset(w) % 4 == 0;
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
// `widened_w`: w already widened to f32 (a prepared linear's), or null.
rma_status run_clblast(const Context& ctx, const rma_op_call& call, const rma_linear_attrs& attrs,
                       Shape s, rma_error* err, cl_mem widened_w = nullptr) {
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
    for (cl_long floats : {numel(x), widened_w ? cl_long{1} : numel(w), s.t * s.n}) {
      cl_mem m = nullptr;
      if (rma_status st = scratch(ctx, floats, &m, err)) {
        release();
        return st;
      }
      scratches.push_back(m);
    }
    xs = scratches[0];
    ws = widened_w ? widened_w : scratches[1];
    ys = scratches[2];
    x_off = w_off = y_off = 0;
    rma_status st = widen(ctx, x, xs, err);
    if (st == RMA_STATUS_OK && !widened_w) st = widen(ctx, w, ws, err);
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

#if defined(RMA_HAVE_CLBLAST)
// ------------------------------------------------------------ prepared
// A prepared linear (a compiled plan's node) picks its GEMM path by timing
// both on this device for this shape — our kernel and CLBlast — instead of
// config.h's shape-class policy (the choice is what it exports: a tuning
// parameter the .rmx keeps), and, on the CLBlast path with f16/bf16
// weights, keeps w widened to f32 once instead of per call.
struct PreparedLinear {
  bool clblast = false;
  double own_us = 0, clblast_us = 0;  // what the timing saw
  std::string device, driver;
  cl_mem widened_w = nullptr;  // f32 copy of w (CLBlast path, f16/bf16 w)
  ~PreparedLinear() {
    if (widened_w) clReleaseMemObject(widened_w);
  }
};

constexpr char kPreparedMagic[8] = {'R', 'M', 'A', 'O', 'C', 'L', 'L', 'N'};
constexpr uint32_t kPreparedVersion = 1;

Shape shape_of(const rma_op_call& call) {
  const auto& attrs = *static_cast<const rma_linear_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1];
  return {attrs.trans_a ? x.shape[1] : leading_rows(x), attrs.trans_b ? w.shape[0] : w.shape[1],
          attrs.trans_a ? x.shape[0] : last_dim(x)};
}

// Both paths run this call: the GEMM shapes (past the rows kernel's range).
bool tunable(const rma_op_call& call) {
  const auto& attrs = *static_cast<const rma_linear_attrs*>(call.attrs);
  const Shape s = shape_of(call);
  return !attrs.trans_a && s.t > linear_config::kRows && s.n > 0 && s.k > 0;
}

rma_status widen_w(const Context& ctx, const rma_op_call& call, PreparedLinear& p, rma_error* err) {
  const rma_tensor& w = call.inputs[1];
  if (!p.clblast || w.dtype == RMA_DTYPE_F32) return RMA_STATUS_OK;
  if (rma_status st = scratch(ctx, numel(w), &p.widened_w, err)) return st;
  return widen(ctx, w, p.widened_w, err);
}

// A zero-filled buffer of `bytes` (timing inputs and outputs).
rma_status zeroed(const Context& ctx, size_t bytes, cl_mem* out, rma_error* err) {
  cl_int st = CL_SUCCESS;
  *out = clCreateBuffer(ctx.dev.context, CL_MEM_READ_WRITE, bytes ? bytes : 1, nullptr, &st);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, "opencl (%s): linear: %zu-byte timing buffer: %s",
                ctx.dev.name.c_str(), bytes, cl_error_name(st));
  const cl_uchar zero = 0;
  st = clEnqueueFillBuffer(ctx.queue, *out, &zero, 1, 0, bytes ? bytes : 1, 0, nullptr, nullptr);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): linear: fill: %s", ctx.dev.name.c_str(),
                cl_error_name(st));
  return RMA_STATUS_OK;
}

// Median microseconds of `runs` calls of one path (after one untimed call
// that builds its kernels).
rma_status time_path(const Context& ctx, const rma_op_call& call, bool clblast, double* us,
                     rma_error* err) {
  const auto& attrs = *static_cast<const rma_linear_attrs*>(call.attrs);
  const Shape s = shape_of(call);
  constexpr int kRuns = 3;
  std::vector<double> times;
  for (int i = 0; i <= kRuns; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const rma_status st =
        clblast ? run_clblast(ctx, call, attrs, s, err) : run_own(ctx, call, attrs, s, err);
    if (st != RMA_STATUS_OK) return st;
    clFinish(ctx.queue);
    if (i > 0)
      times.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  *us = times[times.size() / 2];
  return RMA_STATUS_OK;
}

rma_status prepare(const Context& ctx, const rma_op_call& call, uint64_t const_inputs, void** out,
                   rma_error* err) {
  if (!(const_inputs & 2u) || !tunable(call) || forced_path() != Path::kPolicy)
    return RMA_STATUS_OK;
  // The call as given, with x and y in zero-filled timing buffers.
  rma_tensor x = call.inputs[0], y = call.outputs[0];
  const size_t xb = size_t(numel(x)) * element_bytes(x.dtype);
  const size_t yb = size_t(numel(y)) * element_bytes(y.dtype);
  cl_mem xm = nullptr, ym = nullptr;
  rma_status st = zeroed(ctx, xb, &xm, err);
  if (st == RMA_STATUS_OK) st = zeroed(ctx, yb, &ym, err);
  auto p = std::make_unique<PreparedLinear>();
  if (st == RMA_STATUS_OK) {
    x.data = xm;
    x.offset = 0;
    y.data = ym;
    y.offset = 0;
    std::vector<rma_tensor> inputs(call.inputs, call.inputs + call.num_inputs);
    inputs[0] = x;
    // A bias the plan passes as a per-run value has no data here: time
    // without it (it is the same elementwise epilogue on both paths).
    if (inputs.size() > 2 && !(const_inputs & 4u)) inputs[2].ndim = -1;
    rma_op_call timing = call;
    timing.inputs = inputs.data();
    timing.outputs = &y;
    st = time_path(ctx, timing, false, &p->own_us, err);
    if (st == RMA_STATUS_OK) st = time_path(ctx, timing, true, &p->clblast_us, err);
  }
  if (xm) clReleaseMemObject(xm);
  if (ym) clReleaseMemObject(ym);
  if (st != RMA_STATUS_OK) return st;
  p->clblast = p->clblast_us < p->own_us;
  p->device = ctx.dev.name;
  p->driver = ctx.dev.driver_version;
  if (rma_status w = widen_w(ctx, call, *p, err)) return w;
  *out = p.release();
  return RMA_STATUS_OK;
}

rma_status run_prepared(const Context& ctx, const void* prepared, const rma_op_call& call,
                        rma_error* err) {
  const auto& p = *static_cast<const PreparedLinear*>(prepared);
  // Another batch size of the same node outside the timed range: the policy.
  if (!tunable(call)) return run(ctx, call, err);
  const auto& attrs = *static_cast<const rma_linear_attrs*>(call.attrs);
  const Shape s = shape_of(call);
  return p.clblast ? run_clblast(ctx, call, attrs, s, err, p.widened_w)
                   : run_own(ctx, call, attrs, s, err);
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}
void put_str(std::vector<uint8_t>& out, const std::string& s) {
  put_u32(out, uint32_t(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

// Layout: magic, version u32, device name, driver version (u32 length +
// bytes each), path u32 (0 own, 1 CLBlast), own and CLBlast microseconds
// (u32 each, for reports). The widened w is made again at import.
rma_status serialize(const void* prepared, std::vector<uint8_t>* out, rma_error*) {
  const auto& p = *static_cast<const PreparedLinear*>(prepared);
  out->insert(out->end(), kPreparedMagic, kPreparedMagic + 8);
  put_u32(*out, kPreparedVersion);
  put_str(*out, p.device);
  put_str(*out, p.driver);
  put_u32(*out, p.clblast ? 1 : 0);
  put_u32(*out, uint32_t(std::min(p.own_us, 4e9)));
  put_u32(*out, uint32_t(std::min(p.clblast_us, 4e9)));
  return RMA_STATUS_OK;
}

rma_status deserialize(const Context& ctx, const rma_op_call& call, const uint8_t* data,
                       uint64_t size, void** out, rma_error* err) {
  uint64_t at = 0;
  const auto u32 = [&](uint32_t* v) {
    if (size - at < 4) return false;
    *v = uint32_t(data[at]) | uint32_t(data[at + 1]) << 8 | uint32_t(data[at + 2]) << 16 |
         uint32_t(data[at + 3]) << 24;
    at += 4;
    return true;
  };
  const auto str = [&](std::string* v) {
    uint32_t n = 0;
    if (!u32(&n) || size - at < n) return false;
    v->assign(reinterpret_cast<const char*>(data + at), n);
    at += n;
    return true;
  };
  if (size < 8 || std::memcmp(data, kPreparedMagic, 8) != 0)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: prepared bytes lack the magic");
  at = 8;
  uint32_t version = 0, path = 0, own_us = 0, clblast_us = 0;
  auto p = std::make_unique<PreparedLinear>();
  if (!u32(&version))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: prepared bytes end at byte %llu",
                static_cast<unsigned long long>(size));
  if (version != kPreparedVersion)
    return fail(err, RMA_STATUS_UNSUPPORTED, "linear: prepared format %u, this build reads %u",
                version, kPreparedVersion);
  if (!str(&p->device) || !str(&p->driver) || !u32(&path) || !u32(&own_us) || !u32(&clblast_us) ||
      at != size || path > 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: prepared bytes corrupt at byte %llu",
                static_cast<unsigned long long>(at));
  if (p->device != ctx.dev.name || p->driver != ctx.dev.driver_version)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "linear: timed on '%s' (driver %s), this is '%s' (driver %s)", p->device.c_str(),
                p->driver.c_str(), ctx.dev.name.c_str(), ctx.dev.driver_version.c_str());
  if (!tunable(call))
    return fail(err, RMA_STATUS_UNSUPPORTED, "linear: prepared for a GEMM-sized call");
  p->clblast = path == 1;
  p->own_us = own_us;
  p->clblast_us = clblast_us;
  if (rma_status st = widen_w(ctx, call, *p, err)) return st;
  *out = p.release();
  return RMA_STATUS_OK;
}

void destroy(void* prepared) { delete static_cast<PreparedLinear*>(prepared); }

const PreparedFns kPrepared = {prepare, run_prepared, serialize, deserialize, destroy};
#endif

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_LINEAR, supported, run);
#if defined(RMA_HAVE_CLBLAST)
RMA_OPENCL_REGISTER_PREPARED(RMA_OP_LINEAR, kPrepared);
#endif

}  // namespace rma::opencl
