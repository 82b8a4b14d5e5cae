// opencl matmul: numpy matmul with batch broadcasting (docs/ops.md
// "matmul"), f32, f16 or bf16 (products and sums in f32, y rounded once).
// The batch dims are collapsed into an N-d plan giving each batch's offsets
// into a and b (for our kernels, a small table of them per launch). Where
// config.h's policy says so and the plugin was built with it, CLBlast's
// SGEMM runs the product: one GEMM when b is shared by every batch
// (batches * M rows), its strided-batched GEMM for one collapsed batch dim,
// else its batched GEMM with per-batch offsets; f16 / bf16 operands are
// widened into f32 scratch buffers first and the product rounded back into
// y (as linear does). Otherwise our kernels: matmul_rows for a few rows per
// batch, matmul_tiled for the rest.
// RMA_OPENCL_MATMUL=own|clblast forces one path.
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if defined(RMA_HAVE_CLBLAST)
#include <clblast.h>
#endif

#include "common/tier2.h"
#include "ops/matmul/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "matmul";
constexpr const char* kSource = "matmul/matmul";

// The product as batches of [M, K] x [K, N]: plan walks the batch dims
// (operand 0 a, 1 b) with offsets relative to the tensors' own.
struct Problem {
  int64_t m = 1, n = 1, k = 1, batches = 1;
  NdPlan plan;
};

// The batch dims y gets (all but the matrix dims each 2-D operand gives)
// and the strides of one operand's batch dims against them, as the
// reference: a 1-D a is a row [1, K], a 1-D b a column [K, 1].
void batch_strides(const rma_tensor& t, int y_batch, int64_t matrix_elems, int64_t* out) {
  for (int d = 0; d < y_batch; ++d) out[d] = 0;
  const int t_batch = t.ndim > 2 ? t.ndim - 2 : 0;
  int64_t stride = matrix_elems;
  for (int i = t_batch - 1; i >= 0; --i) {
    if (t.shape[i] != 1) out[y_batch - t_batch + i] = stride;
    stride *= t.shape[i];
  }
}

Problem problem_of(const rma_tensor& a, const rma_tensor& b, const rma_tensor& y) {
  Problem p;
  p.m = a.ndim >= 2 ? a.shape[a.ndim - 2] : 1;
  p.k = a.shape[a.ndim - 1];
  p.n = b.ndim >= 2 ? b.shape[b.ndim - 1] : 1;
  const int y_batch = y.ndim - (a.ndim >= 2) - (b.ndim >= 2);
  NdPlan plan;
  plan.ndim = y_batch;
  for (int d = 0; d < y_batch; ++d) {
    plan.shape[d] = y.shape[d];
    p.batches *= y.shape[d];
  }
  batch_strides(a, y_batch, p.m * p.k, plan.stride[0]);
  batch_strides(b, y_batch, p.k * p.n, plan.stride[1]);
  p.plan = collapse(plan, 2);
  return p;
}

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs != 2 || call.num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs (a, b) and one output", kOp);
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  if (b.dtype != a.dtype || y.dtype != a.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: a, b, y must share one dtype (%s, %s, %s)",
                kOp, dtype_label(a.dtype), dtype_label(b.dtype), dtype_label(y.dtype));
  if (rma_status st = require_float(kOp, "a", a, err)) return st;
  if (a.ndim < 1 || b.ndim < 1 || a.ndim > RMA_MAX_DIMS || b.ndim > RMA_MAX_DIMS)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: a and b need at least one dim", kOp);
  const int64_t k = a.shape[a.ndim - 1];
  if (b.shape[b.ndim == 1 ? 0 : b.ndim - 2] != k)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: K of a is %lld but b's is %lld", kOp,
                static_cast<long long>(k),
                static_cast<long long>(b.shape[b.ndim == 1 ? 0 : b.ndim - 2]));
  // y: the broadcast batch dims, then M (2-D a) and N (2-D b).
  const int na = a.ndim > 2 ? a.ndim - 2 : 0, nb = b.ndim > 2 ? b.ndim - 2 : 0;
  const int batch = na > nb ? na : nb;
  bool ok = y.ndim == batch + (a.ndim >= 2) + (b.ndim >= 2);
  for (int i = 1; ok && i <= batch; ++i) {
    const int64_t da = i <= na ? a.shape[na - i] : 1, db = i <= nb ? b.shape[nb - i] : 1;
    ok = (da == db || da == 1 || db == 1) && y.shape[batch - i] == (da == 1 ? db : da);
  }
  if (ok && a.ndim >= 2) ok = y.shape[batch] == a.shape[a.ndim - 2];
  if (ok && b.ndim >= 2) ok = y.shape[y.ndim - 1] == b.shape[b.ndim - 1];
  if (!ok)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: y must be the broadcast batch dims + [M] + [N] of a and b", kOp);
  if (!is_dense(a) || !is_dense(b) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// b shared by every batch, a dense over them: one GEMM of batches * M rows.
bool shared_b(const Problem& p) {
  return p.batches == 1 ||
         (p.plan.ndim == 1 && p.plan.stride[1][0] == 0 && p.plan.stride[0][0] == p.m * p.k);
}

// Offsets (in elements) of operand `k` for every batch, in order.
std::vector<size_t> batch_offsets(const NdPlan& plan, int k, int64_t batches, size_t base) {
  std::vector<size_t> out(static_cast<size_t>(batches));
  for (int64_t i = 0; i < batches; ++i) {
    int64_t rem = i, off = 0;
    for (int d = plan.ndim - 1; d >= 0; --d) {
      off += rem % plan.shape[d] * plan.stride[k][d];
      rem /= plan.shape[d];
    }
    out[size_t(i)] = base + size_t(off);
  }
  return out;
}

rma_status run_own(const Context& ctx, const rma_tensor& a, const rma_tensor& b,
                   const rma_tensor& y, const Problem& p, rma_error* err) {
  using namespace matmul_config;
  const std::vector<size_t> a_offs = batch_offsets(p.plan, 0, p.batches, elem_offset(a)),
                            b_offs = batch_offsets(p.plan, 1, p.batches, elem_offset(b));
  std::vector<cl_long> offsets(size_t(2 * p.batches));
  for (size_t i = 0; i < a_offs.size(); ++i) {
    offsets[2 * i] = cl_long(a_offs[i]);
    offsets[2 * i + 1] = cl_long(b_offs[i]);
  }
  cl_int cst = CL_SUCCESS;
  cl_mem batch_off = clCreateBuffer(ctx.dev.context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                    offsets.size() * sizeof(cl_long), offsets.data(), &cst);
  if (cst != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): %s: batch offsets: %s",
                ctx.dev.name.c_str(), kOp, cl_error_name(cst));
  const bool rows = p.m <= kRows;
  const std::string options =
      rows ? "-DROWS=" + std::to_string(kRows) + dtype_option("DTYPE", a.dtype)
           : "-DWG=" + std::to_string(kWg) + " -DTM=" + std::to_string(kTm) +
                 " -DTN=" + std::to_string(kTn) + " -DTK=" + std::to_string(kTk) +
                 dtype_option("DTYPE", a.dtype);
  cl_kernel kern = nullptr;
  if (rma_status st = get_kernel(ctx.dev, kSource, rows ? "matmul_rows" : "matmul_tiled", options,
                                 &kern, err)) {
    clReleaseMemObject(batch_off);
    return st;
  }
  ArgSetter set(kern);
  set(mem_of(a))(mem_of(b))(mem_of(y))(elem_offset(y))(batch_off)(cl_long(p.m))(cl_long(p.n))(
      cl_long(p.k));
  rma_status st;
  if (rows) {
    set(cl_long(p.batches));
    const size_t global[2] = {size_t(p.n), size_t(p.batches)};
    st = launch(ctx, kern, kOp, set.status(), 2, global, nullptr, err);
  } else {
    const size_t gx = (size_t(p.n) + kWg * kTn - 1) / (kWg * kTn);
    const size_t gy = (size_t(p.m) + kWg * kTm - 1) / (kWg * kTm);
    const size_t global[3] = {gx * kWg, gy * kWg, size_t(p.batches)};
    const size_t local[3] = {kWg, kWg, 1};
    st = launch(ctx, kern, kOp, set.status(), 3, global, local, err);
  }
  clReleaseMemObject(batch_off);
  return st;
}

#if defined(RMA_HAVE_CLBLAST)
// RMA_OPENCL_MATMUL: "own" or "clblast" forces that path; unset or anything
// else follows config.h's policy.
enum class Path { kPolicy, kOwn, kClblast };
Path forced_path() {
  const char* v = std::getenv("RMA_OPENCL_MATMUL");
  if (v && std::strcmp(v, "own") == 0) return Path::kOwn;
  if (v && std::strcmp(v, "clblast") == 0) return Path::kClblast;
  return Path::kPolicy;
}

// Runs `kernel` ("matmul_widen" / "matmul_narrow") of the DTYPE program over
// n elements with the arguments `set_args` gives.
template <class SetArgs>
rma_status convert(const Context& ctx, int32_t dtype, const char* kernel, cl_long n,
                   SetArgs set_args, rma_error* err) {
  cl_kernel k = nullptr;
  if (rma_status st = get_kernel(ctx.dev, kSource, kernel, dtype_option("DTYPE", dtype), &k, err))
    return st;
  ArgSetter set(k);
  set_args(set);
  set(n);
  const size_t global = size_t(n);
  return launch(ctx, k, kOp, set.status(), 1, &global, nullptr, err);
}

rma_status run_clblast(const Context& ctx, const rma_tensor& a, const rma_tensor& b,
                       const rma_tensor& y, const Problem& p, rma_error* err) {
  const bool f32 = a.dtype == RMA_DTYPE_F32;
  cl_mem as = mem_of(a), bs = mem_of(b), ys = mem_of(y);
  size_t a_off = size_t(elem_offset(a)), b_off = size_t(elem_offset(b)),
         y_off = size_t(elem_offset(y));
  std::vector<cl_mem> scratches;
  auto release = [&] {
    for (cl_mem m : scratches) clReleaseMemObject(m);
  };
  if (!f32) {
    for (cl_long floats : {numel(a), numel(b), numel(y)}) {
      cl_int st = CL_SUCCESS;
      cl_mem m = clCreateBuffer(ctx.dev.context, CL_MEM_READ_WRITE,
                                size_t(floats > 0 ? floats : 1) * sizeof(float), nullptr, &st);
      if (st != CL_SUCCESS) {
        release();
        return fail(err, RMA_STATUS_OUT_OF_MEMORY,
                    "opencl (%s): %s: f32 scratch of %lld floats: %s", ctx.dev.name.c_str(), kOp,
                    static_cast<long long>(floats), cl_error_name(st));
      }
      scratches.push_back(m);
    }
    as = scratches[0];
    bs = scratches[1];
    ys = scratches[2];
    a_off = b_off = y_off = 0;
    rma_status st = convert(
        ctx, a.dtype, "matmul_widen", numel(a),
        [&](ArgSetter& s) { s(mem_of(a))(elem_offset(a))(as); }, err);
    if (st == RMA_STATUS_OK)
      st = convert(
          ctx, b.dtype, "matmul_widen", numel(b),
          [&](ArgSetter& s) { s(mem_of(b))(elem_offset(b))(bs); }, err);
    if (st != RMA_STATUS_OK) {
      release();
      return st;
    }
  }
  using clblast::Layout;
  using clblast::Transpose;
  cl_command_queue queue = ctx.queue;
  const size_t m = size_t(p.m), n = size_t(p.n), k = size_t(p.k), batches = size_t(p.batches);
  clblast::StatusCode code;
  if (shared_b(p)) {
    code = clblast::Gemm<float>(Layout::kRowMajor, Transpose::kNo, Transpose::kNo, batches * m, n,
                                k, 1.f, as, a_off, k, bs, b_off, n, 0.f, ys, y_off, n, &queue);
  } else if (p.plan.ndim == 1 && p.plan.stride[0][0] != 0 && p.plan.stride[1][0] != 0) {
    code = clblast::GemmStridedBatched<float>(Layout::kRowMajor, Transpose::kNo, Transpose::kNo, m,
                                              n, k, 1.f, as, a_off, k, size_t(p.plan.stride[0][0]),
                                              bs, b_off, n, size_t(p.plan.stride[1][0]), 0.f, ys,
                                              y_off, n, m * n, batches, &queue);
  } else {
    const std::vector<size_t> a_offs = batch_offsets(p.plan, 0, p.batches, a_off),
                              b_offs = batch_offsets(p.plan, 1, p.batches, b_off);
    std::vector<size_t> y_offs(batches);
    for (size_t i = 0; i < batches; ++i) y_offs[i] = y_off + i * m * n;
    const std::vector<float> alphas(batches, 1.f), betas(batches, 0.f);
    code = clblast::GemmBatched<float>(Layout::kRowMajor, Transpose::kNo, Transpose::kNo, m, n, k,
                                       alphas.data(), as, a_offs.data(), k, bs, b_offs.data(), n,
                                       betas.data(), ys, y_offs.data(), n, batches, &queue);
  }
  if (code != clblast::StatusCode::kSuccess) {
    release();
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl: %s: CLBlast GEMM failed with status %d", kOp,
                static_cast<int>(code));
  }
  rma_status st = RMA_STATUS_OK;
  if (!f32)
    st = convert(
        ctx, y.dtype, "matmul_narrow", numel(y),
        [&](ArgSetter& s) { s(ys)(mem_of(y))(elem_offset(y)); }, err);
  release();
  return st;
}
#endif

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  if (numel(y) == 0) return RMA_STATUS_OK;
  const Problem p = problem_of(a, b, y);
  if (p.k == 0) {  // empty sums: zeros
    const cl_uchar zero = 0;
    const cl_int st =
        clEnqueueFillBuffer(ctx.queue, mem_of(y), &zero, 1, y.offset,
                            size_t(numel(y)) * element_bytes(y.dtype), 0, nullptr, nullptr);
    if (st != CL_SUCCESS)
      return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): %s: zero fill: %s",
                  ctx.dev.name.c_str(), kOp, cl_error_name(st));
    return RMA_STATUS_OK;
  }
#if defined(RMA_HAVE_CLBLAST)
  const Path path = forced_path();
  const int64_t rows_per_gemm = shared_b(p) ? p.batches * p.m : p.m;
  if (path == Path::kClblast ||
      (path == Path::kPolicy && matmul_config::use_clblast(rows_per_gemm)))
    return run_clblast(ctx, a, b, y, p, err);
#endif
  return run_own(ctx, a, b, y, p, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_MATMUL, supported, run);

}  // namespace rma::opencl
