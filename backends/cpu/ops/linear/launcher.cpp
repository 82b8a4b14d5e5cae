// cpu linear: y = act(alpha * opA(x) . opB(w) + bias) in f32/f16/bf16,
// accumulated in f32 (docs/ops.md "linear").
// Paths (config.h): T <= kGemvMaxRows streams w once (GEMV); up to
// kSmallMaxRows with w [N, K] a small-M kernel that also streams w once;
// otherwise the blocked GEMM. f32 shape classes where OpenBLAS's sgemm
// measurably wins may be dispatched to it (none at present; see config.h).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/convert.h"
#include "common/cpu_op.h"
#include "common/gemm/config.h"
#include "common/gemm/gemm.h"
#include "ops/linear/config.h"

#if defined(RMA_HAVE_OPENBLAS)
#include <cblas.h>
#endif

namespace rma::cpu {
namespace {

namespace cfg = linear_config;

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_inputs > 3 || call.num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "linear: expected inputs (x, w, bias?) and one output, got %d inputs, %d outputs",
                call.num_inputs, call.num_outputs);
  const auto* attrs = static_cast<const rma_linear_attrs*>(call.attrs);
  // Callers built before `precision` was appended pass the shorter struct.
  if (!attrs || attrs->struct_size < offsetof(rma_linear_attrs, precision))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: rma_linear_attrs missing or too small");
  const rma_tensor& x = call.inputs[0];
  const rma_tensor& w = call.inputs[1];
  const rma_tensor* bias =
      call.num_inputs > 2 && present(call.inputs[2]) ? &call.inputs[2] : nullptr;
  const rma_tensor& y = call.outputs[0];
  if (!is_float_dtype(x.dtype))
    return fail(err, RMA_STATUS_UNSUPPORTED, "linear: x dtype %s; the cpu runs f32, f16, bf16",
                dtype_name(x.dtype));
  if (w.dtype != x.dtype || y.dtype != x.dtype || (bias && bias->dtype != x.dtype))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "linear: x, w, bias, y must share one dtype, got x %s, w %s, bias %s, y %s",
                dtype_name(x.dtype), dtype_name(w.dtype), bias ? dtype_name(bias->dtype) : "-",
                dtype_name(y.dtype));
  if (attrs->activation < RMA_ACT_NONE || attrs->activation > RMA_ACT_TANH)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: unknown activation %d",
                attrs->activation);
  if (w.ndim != 2 || (attrs->trans_a ? x.ndim != 2 : x.ndim < 1))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "linear: expected w 2-D and x %s, got w %d-D, x %d-D",
                attrs->trans_a ? "2-D [K, T] (trans_a)" : "[..., K]", w.ndim, x.ndim);
  const int64_t k = attrs->trans_a ? x.shape[0] : last_dim(x);
  const int64_t t = attrs->trans_a ? x.shape[1] : leading_rows(x);
  const int64_t wk = attrs->trans_b ? w.shape[1] : w.shape[0];
  const int64_t n = attrs->trans_b ? w.shape[0] : w.shape[1];
  if (wk != k)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: K of x is %lld but w (%s) has K = %lld",
                static_cast<long long>(k), attrs->trans_b ? "[N, K], trans_b" : "[K, N]",
                static_cast<long long>(wk));
  if (bias && (bias->ndim != 1 || bias->shape[0] != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: bias must be [N = %lld]",
                static_cast<long long>(n));
  if (numel(y) != t * n || (y.ndim > 0 && last_dim(y) != n))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "linear: y must hold [T = %lld, N = %lld] elements", static_cast<long long>(t),
                static_cast<long long>(n));
  if (!is_dense(x) || !is_dense(w) || !is_dense(y) || (bias && !is_dense(*bias)))
    return fail(err, RMA_STATUS_UNSUPPORTED, "linear: the cpu runs dense row-major tensors only");
  return RMA_STATUS_OK;
}

#if defined(RMA_HAVE_OPENBLAS)
// Whether this f32 GEMM goes to OpenBLAS: the policy in config.h, unless
// RMA_CPU_LINEAR_OPENBLAS says "0" (never: the bench times our own kernel
// this way) or "1" (always).
bool use_openblas(const GemmArgs& g) {
  if (g.m > INT32_MAX || g.n > INT32_MAX || g.k > INT32_MAX || g.a.ld > INT32_MAX ||
      g.b.ld > INT32_MAX)
    return false;
  const char* env = std::getenv("RMA_CPU_LINEAR_OPENBLAS");
  if (env && env[0] == '0') return false;
  if (env && env[0] == '1') return true;
  return cfg::openblas_wins(g.m, g.n, g.k);
}

void run_openblas(const Context& ctx, const GemmArgs& g) {
  // OpenBLAS runs on as many threads as our pool (set once per size).
  static std::atomic<int> threads_set{0};
  if (threads_set.exchange(ctx.pool.size()) != ctx.pool.size())
    openblas_set_num_threads(ctx.pool.size());
  cblas_sgemm(CblasRowMajor, g.a.k_contig ? CblasNoTrans : CblasTrans,
              g.b.k_contig ? CblasTrans : CblasNoTrans, static_cast<int>(g.m),
              static_cast<int>(g.n), static_cast<int>(g.k), g.ep.alpha,
              static_cast<const float*>(g.a.data), static_cast<int>(g.a.ld),
              static_cast<const float*>(g.b.data), static_cast<int>(g.b.ld), 0.f,
              static_cast<float*>(g.y), static_cast<int>(g.ldy));
  Epilogue rest = g.ep;
  rest.alpha = 1.f;  // sgemm applied it
  apply_epilogue(ctx.pool, static_cast<float*>(g.y), g.m, g.n, g.ldy, rest);
}
#endif

// `packed_w`: w pre-packed by prepare() (the blocked GEMM reads it), or null.
rma_status run(const Context& ctx, const rma_op_call& call, const float* packed_w, rma_error* err) {
  const auto& attrs = *static_cast<const rma_linear_attrs*>(call.attrs);
  const rma_tensor& x = call.inputs[0];
  const rma_tensor& w = call.inputs[1];
  const rma_tensor* bias =
      call.num_inputs > 2 && present(call.inputs[2]) ? &call.inputs[2] : nullptr;
  const rma_tensor& y = call.outputs[0];

  GemmArgs g;
  g.k = attrs.trans_a ? x.shape[0] : last_dim(x);
  g.m = attrs.trans_a ? x.shape[1] : leading_rows(x);
  g.n = attrs.trans_b ? w.shape[0] : w.shape[1];
  g.a = {data<const void>(x), x.dtype, attrs.trans_a ? g.m : g.k, !attrs.trans_a};
  g.b = {data<const void>(w), w.dtype, attrs.trans_b ? g.k : g.n, attrs.trans_b != 0};
  g.y = data<void>(y);
  g.y_dtype = y.dtype;
  g.ldy = g.n;
  g.ep.alpha = attrs.alpha;
  g.ep.act = attrs.activation;
  g.ep.act_param = attrs.activation_param;
  thread_local std::vector<float> bias_f32;
  if (bias) {
    if (bias->dtype == RMA_DTYPE_F32) {
      g.ep.bias = data<const float>(*bias);
    } else {
      bias_f32.resize(static_cast<size_t>(g.n));
      load_f32(bias->dtype, data<const void>(*bias), bias_f32.data(), g.n);
      g.ep.bias = bias_f32.data();
    }
  }
  if (g.m == 0 || g.n == 0) return RMA_STATUS_OK;
  if (packed_w && g.k > 0) {
    g.packed_b = packed_w;
    if (!gemm(ctx.pool, g))
      return fail(err, RMA_STATUS_OUT_OF_MEMORY, "linear: no memory for the packing scratch");
    return RMA_STATUS_OK;
  }

#if defined(RMA_HAVE_OPENBLAS)
  if (x.dtype == RMA_DTYPE_F32 && g.m > gemm_config::kGemvMaxRows && g.k > 0 && use_openblas(g)) {
    run_openblas(ctx, g);
    return RMA_STATUS_OK;
  }
#endif
  // gemv() also takes small T with w [N, K] (kSmallMaxRows) and hands
  // anything else to gemm().
  const bool small_m =
      g.m <= gemm_config::kGemvMaxRows || (g.m <= gemm_config::kSmallMaxRows && attrs.trans_b);
  const bool ok = small_m && g.k > 0 ? gemv(ctx.pool, g) : gemm(ctx.pool, g);
  if (!ok)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY,
                "linear: no memory for the packing scratch (T = %lld, N = %lld, K = %lld)",
                static_cast<long long>(g.m), static_cast<long long>(g.n),
                static_cast<long long>(g.k));
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  return run(ctx, call, nullptr, err);
}

// ------------------------------------------------------------ prepared
// A prepared linear holds its constant weight packed into the blocked
// GEMM's panels (f32, the SIMD target's panel width), so a compiled plan
// neither packs nor converts w per call. Worth it where the call takes the
// blocked GEMM: T past the GEMV / small-M range.
struct PreparedLinear {
  int64_t n = 0, k = 0;
  int32_t w_dtype = RMA_DTYPE_F32;
  int32_t trans_b = 1;
  PackedBLayout layout;
  std::string target;
  float* packed = nullptr;  // layout.floats, 64-byte aligned
  ~PreparedLinear() { std::free(packed); }
};

constexpr char kPreparedMagic[8] = {'R', 'M', 'A', 'L', 'I', 'N', 'P', 'K'};
constexpr uint32_t kPreparedVersion = 1;

bool takes_blocked_gemm(const rma_linear_attrs& attrs, int64_t m) {
  return m > gemm_config::kSmallMaxRows || (m > gemm_config::kGemvMaxRows && !attrs.trans_b);
}

float* alloc_floats(uint64_t floats) {
  const size_t bytes = (std::max<uint64_t>(floats, 1) * sizeof(float) + 63) / 64 * 64;
  return static_cast<float*>(std::aligned_alloc(64, bytes));
}

rma_status prepare(const Context& ctx, const rma_op_call& call, uint64_t const_inputs, void** out,
                   rma_error* err) {
  const auto& attrs = *static_cast<const rma_linear_attrs*>(call.attrs);
  const rma_tensor& x = call.inputs[0];
  const rma_tensor& w = call.inputs[1];
  const int64_t m = attrs.trans_a ? x.shape[1] : leading_rows(x);
  const int64_t k = attrs.trans_a ? x.shape[0] : last_dim(x);
  if (!(const_inputs & 2u) || k <= 0 || !takes_blocked_gemm(attrs, m)) return RMA_STATUS_OK;
#if defined(RMA_HAVE_OPENBLAS)
  if (x.dtype == RMA_DTYPE_F32 && cfg::openblas_wins(m, attrs.trans_b ? w.shape[0] : w.shape[1], k))
    return RMA_STATUS_OK;
#endif
  auto p = std::make_unique<PreparedLinear>();
  p->n = attrs.trans_b ? w.shape[0] : w.shape[1];
  p->k = k;
  p->w_dtype = w.dtype;
  p->trans_b = attrs.trans_b != 0;
  p->layout = packed_b_layout(p->n, k, 1);
  p->target = gemm_info().target;
  p->packed = alloc_floats(p->layout.floats);
  if (!p->packed)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, "linear: no memory to pre-pack w (%llu floats)",
                static_cast<unsigned long long>(p->layout.floats));
  const GemmOperand b{data<const void>(w), w.dtype, attrs.trans_b ? k : p->n, attrs.trans_b != 0};
  pack_b(ctx.pool, b, p->n, k, p->packed);
  *out = p.release();
  return RMA_STATUS_OK;
}

rma_status run_prepared(const Context& ctx, const void* prepared, const rma_op_call& call,
                        rma_error* err) {
  const auto& p = *static_cast<const PreparedLinear*>(prepared);
  const auto& attrs = *static_cast<const rma_linear_attrs*>(call.attrs);
  const rma_tensor& w = call.inputs[1];
  const int64_t n = attrs.trans_b ? w.shape[0] : w.shape[1];
  const int64_t k = attrs.trans_b ? w.shape[1] : w.shape[0];
  if (n != p.n || k != p.k || w.dtype != p.w_dtype || (attrs.trans_b != 0) != (p.trans_b != 0))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "linear: prepared for w %lld x %lld (%s), called with %lld x %lld (%s)",
                static_cast<long long>(p.n), static_cast<long long>(p.k), dtype_name(p.w_dtype),
                static_cast<long long>(n), static_cast<long long>(k), dtype_name(w.dtype));
  // The node specialized for a T in the GEMV / small-M range: those paths
  // stream w as stored, faster than the blocked GEMM over packed panels.
  const int64_t m = attrs.trans_a ? call.inputs[0].shape[1] : leading_rows(call.inputs[0]);
  return run(ctx, call, takes_blocked_gemm(attrs, m) ? p.packed : nullptr, err);
}

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* b = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), b, b + sizeof(T));
}

// Layout: magic, version u32, target name (u32 length + bytes), nr u32,
// kc_max i64, panels i64, n i64, k i64, w dtype i32, trans_b i32,
// floats u64, then the packed floats.
rma_status serialize(const void* prepared, std::vector<uint8_t>* out, rma_error*) {
  const auto& p = *static_cast<const PreparedLinear*>(prepared);
  out->insert(out->end(), kPreparedMagic, kPreparedMagic + 8);
  put(*out, kPreparedVersion);
  put(*out, static_cast<uint32_t>(p.target.size()));
  out->insert(out->end(), p.target.begin(), p.target.end());
  put(*out, static_cast<uint32_t>(p.layout.nr));
  put(*out, p.layout.kc_max);
  put(*out, p.layout.panels);
  put(*out, p.n);
  put(*out, p.k);
  put(*out, p.w_dtype);
  put(*out, p.trans_b);
  put(*out, p.layout.floats);
  const auto* f = reinterpret_cast<const uint8_t*>(p.packed);
  out->insert(out->end(), f, f + p.layout.floats * sizeof(float));
  return RMA_STATUS_OK;
}

rma_status deserialize(const rma_op_call& call, const uint8_t* data, uint64_t size, void** out,
                       rma_error* err) {
  uint64_t at = 0;
  bool short_read = false;
  const auto take = [&](void* dst, uint64_t n) {
    if (short_read || size - at < n) {
      short_read = true;
      return;
    }
    std::memcpy(dst, data + at, n);
    at += n;
  };
  char magic[8];
  take(magic, 8);
  if (short_read || std::memcmp(magic, kPreparedMagic, 8) != 0)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: prepared bytes lack the magic");
  uint32_t version = 0, target_len = 0, nr = 0;
  take(&version, 4);
  if (!short_read && version != kPreparedVersion)
    return fail(err, RMA_STATUS_UNSUPPORTED, "linear: prepared format %u, this build reads %u",
                version, kPreparedVersion);
  take(&target_len, 4);
  if (short_read || target_len > 64)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: prepared bytes corrupt at byte %llu",
                static_cast<unsigned long long>(at));
  std::string target(target_len, '\0');
  take(target.data(), target_len);
  auto p = std::make_unique<PreparedLinear>();
  take(&nr, 4);
  take(&p->layout.kc_max, 8);
  take(&p->layout.panels, 8);
  take(&p->n, 8);
  take(&p->k, 8);
  take(&p->w_dtype, 4);
  take(&p->trans_b, 4);
  take(&p->layout.floats, 8);
  if (short_read)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "linear: prepared bytes end at byte %llu",
                static_cast<unsigned long long>(size));
  // Made for this machine's GEMM and this call?
  const auto& attrs = *static_cast<const rma_linear_attrs*>(call.attrs);
  const rma_tensor& w = call.inputs[1];
  const int64_t n = attrs.trans_b ? w.shape[0] : w.shape[1];
  const int64_t k = attrs.trans_b ? w.shape[1] : w.shape[0];
  const PackedBLayout here = packed_b_layout(n, k, 1);
  if (target != gemm_info().target || static_cast<int>(nr) != here.nr)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "linear: w was packed for SIMD target %s (panels of %u), this CPU runs %s (%d)",
                target.c_str(), nr, gemm_info().target, here.nr);
  if (p->n != n || p->k != k || p->w_dtype != w.dtype || (p->trans_b != 0) != (attrs.trans_b != 0))
    return fail(err, RMA_STATUS_UNSUPPORTED, "linear: prepared bytes are for another weight shape");
  if (p->layout.kc_max != here.kc_max || p->layout.panels != here.panels ||
      p->layout.floats != here.floats)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "linear: prepared with another blocking (kc %lld), this build blocks by %lld",
                static_cast<long long>(p->layout.kc_max), static_cast<long long>(here.kc_max));
  p->layout.nr = here.nr;
  if (size - at != p->layout.floats * sizeof(float))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "linear: prepared bytes hold %llu bytes of panels, expected %llu",
                static_cast<unsigned long long>(size - at),
                static_cast<unsigned long long>(p->layout.floats * sizeof(float)));
  p->target = target;
  p->packed = alloc_floats(p->layout.floats);
  if (!p->packed)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, "linear: no memory for the prepared w");
  std::memcpy(p->packed, data + at, p->layout.floats * sizeof(float));
  *out = p.release();
  return RMA_STATUS_OK;
}

void destroy(void* prepared) { delete static_cast<PreparedLinear*>(prepared); }

const PreparedFns kPrepared = {prepare, run_prepared, serialize, deserialize, destroy};

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_LINEAR, supported, run);
RMA_CPU_REGISTER_PREPARED(RMA_OP_LINEAR, kPrepared);

}  // namespace rma::cpu
