// Matrix products for linear and quant_linear: see common/gemm.h.
//
// cuBLAS is column-major; a row-major y [T, N] is the column-major N x T
// matrix y^T = opB^T . opA^T. So cuBLAS's "A" is w (stored [N, K] row-major =
// column-major K x N, transposed when trans_b) and its "B" is x (stored
// [T, K] = column-major K x T, or [K, T] = T x K transposed when trans_a);
// the bias runs along D's rows (N), which is cuBLASLt's bias vector.
#include <cublasLt.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <mutex>

#include "common/cuda_device.h"
#include "common/gemm.h"
#include "common/kernel_utils.cuh"

namespace rma::cuda {
namespace {

// cuBLASLt's GELU epilogue is the tanh form (what PyTorch maps its
// approximate="tanh" to); the erf form, leaky relu, silu, sigmoid and tanh
// go through our epilogue kernel.
bool fusable(int32_t act) {
  return act == RMA_ACT_NONE || act == RMA_ACT_RELU || act == RMA_ACT_GELU_TANH;
}

cublasLtEpilogue_t epilogue_of(int32_t act, bool bias) {
  switch (act) {
    case RMA_ACT_RELU:
      return bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
    case RMA_ACT_GELU_TANH:
      return bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
    default:
      return bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
  }
}

cudaDataType_t cuda_type(int32_t dt) {
  switch (dt) {
    case RMA_DTYPE_F16:
      return CUDA_R_16F;
    case RMA_DTYPE_BF16:
      return CUDA_R_16BF;
    default:
      return CUDA_R_32F;
  }
}

// The largest power of two (up to 256) dividing the address.
uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t al = 256;
  while (al > 1 && a % al != 0) al >>= 1;
  return al;
}

// ------------------------------------------------------------------ kernels

// y[r, c] = act(acc[r, c] + bias[c]) rounded to out_dtype; acc may be y
// itself (f32, in place).
__global__ void epilogue_kernel(const float* acc, int64_t ld_acc, const void* bias, void* y,
                                int64_t ldy, int32_t out_dtype, int64_t rows, int64_t cols,
                                int32_t act, float param) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y)
    for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < cols;
         c += int64_t(gridDim.x) * blockDim.x) {
      float v = acc[r * ld_acc + c];
      if (bias) v += load_as_f32(bias, c, out_dtype);
      store_from_f32(y, r * ldy + c, out_dtype, activate(act, v, param));
    }
}

__global__ void convert_kernel(const void* src, int32_t src_dtype, void* dst, int32_t dst_dtype,
                               int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    store_from_f32(dst, i, dst_dtype, load_as_f32(src, i, src_dtype));
}

struct KernelArgs {
  int64_t t, n, k;
  bool trans_a, trans_b;
  const void* bias;
  void* y;
  int64_t ldy;
  int32_t out_dtype;
  float alpha;
  int32_t act;
  float param;
};

__device__ __forceinline__ void finish(const KernelArgs& a, int64_t t, int64_t n, float acc) {
  float v = a.alpha * acc;
  if (a.bias) v += load_as_f32(a.bias, n, a.out_dtype);
  store_from_f32(a.y, t * a.ldy + n, a.out_dtype, activate(a.act, v, a.param));
}

// The fallback GEMM: 64 x 64 tiles of y per block of 256 threads, 4 x 4
// outputs per thread, K in steps of 16 through shared memory (f32).
constexpr int kTile = 64, kTileK = 16, kTileThreads = 256;

template <class T>
__global__ void __launch_bounds__(kTileThreads)
    gemm_tiled_kernel(const T* __restrict__ x, const T* __restrict__ w, KernelArgs a) {
  __shared__ float as[kTileK][kTile + 4];  // [k][t]
  __shared__ float bs[kTileK][kTile + 4];  // [k][n]
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t t0 = int64_t(blockIdx.y) * kTile, n0 = int64_t(blockIdx.x) * kTile;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < a.k; k0 += kTileK) {
    for (int i = tid; i < kTile * kTileK; i += kTileThreads) {
      // Consecutive threads walk the operand's contiguous dimension.
      const int tt = a.trans_a ? i % kTile : i / kTileK, ka = a.trans_a ? i / kTile : i % kTileK;
      const int64_t gt = t0 + tt, gka = k0 + ka;
      float v = 0.f;
      if (gt < a.t && gka < a.k) v = to_f32(a.trans_a ? x[gka * a.t + gt] : x[gt * a.k + gka]);
      as[ka][tt] = v;
      const int nn = a.trans_b ? i / kTileK : i % kTile, kb = a.trans_b ? i % kTileK : i / kTile;
      const int64_t gn = n0 + nn, gkb = k0 + kb;
      float u = 0.f;
      if (gn < a.n && gkb < a.k) u = to_f32(a.trans_b ? w[gn * a.k + gkb] : w[gkb * a.n + gn]);
      bs[kb][nn] = u;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      float av[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        av[i] = as[kk][ty * 4 + i];
        bv[i] = bs[kk][tx * 4 + i];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t gt = t0 + ty * 4 + i, gn = n0 + tx * 4 + j;
      if (gt < a.t && gn < a.n) finish(a, gt, gn, acc[i][j]);
    }
}

// N floats from 16-byte aligned p, in 16-byte loads.
template <class T, int N>
__device__ __forceinline__ void load_aligned(const T* p, float* out) {
  constexpr int kPer = 16 / int(sizeof(T));
  static_assert(N % kPer == 0, "whole 16-byte loads");
#pragma unroll
  for (int j = 0; j < N / kPer; ++j) {
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(p) + j);
    const T* v = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int e = 0; e < kPer; ++e) out[j * kPer + e] = to_f32(v[e]);
  }
}

// One warp per output column n (a row of w), all t at once.
constexpr int kGemvThreads = 256;

template <class TW, class TX>
__global__ void __launch_bounds__(kGemvThreads)
    gemv_kernel(const TW* __restrict__ w, const TX* __restrict__ x, KernelArgs a, bool vectorized) {
  const int lane = threadIdx.x % 32;
  const int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (row >= a.n) return;
  float acc[kGemvMaxRows];
#pragma unroll
  for (int t = 0; t < kGemvMaxRows; ++t) acc[t] = 0.f;
  const TW* wr = w + row * a.k;
  if (vectorized) {
    constexpr int kE = 16 / int(sizeof(TW));
    for (int64_t i = int64_t(lane) * kE; i < a.k; i += 32 * kE) {
      float wv[kE];
      load_aligned<TW, kE>(wr + i, wv);
#pragma unroll
      for (int t = 0; t < kGemvMaxRows; ++t) {
        if (t >= a.t) break;
        float xv[kE];
        load_aligned<TX, kE>(x + t * a.k + i, xv);
#pragma unroll
        for (int e = 0; e < kE; ++e) acc[t] += wv[e] * xv[e];
      }
    }
  } else {
    for (int64_t i = lane; i < a.k; i += 32) {
      const float wv = to_f32(wr[i]);
#pragma unroll
      for (int t = 0; t < kGemvMaxRows; ++t) {
        if (t >= a.t) break;
        acc[t] += wv * to_f32(x[t * a.k + i]);
      }
    }
  }
#pragma unroll
  for (int t = 0; t < kGemvMaxRows; ++t) {
    if (t >= a.t) break;
    const float s = warp_sum(acc[t]);
    if (lane == 0) finish(a, t, row, s);
  }
}

KernelArgs kernel_args(const GemmArgs& g) {
  return KernelArgs{g.t, g.n,   g.k,         g.trans_a, g.trans_b,    g.bias,
                    g.y, g.ldy, g.out_dtype, g.alpha,   g.activation, g.activation_param};
}

rma_status launch_epilogue(const Context& ctx, const float* acc, int64_t ld_acc, const GemmArgs& g,
                           const void* bias, int32_t act, const char* op, const rma_op_call& call,
                           rma_error* err) {
  const int threads = 256;
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>((g.n + threads - 1) / threads, 4096)),
                  static_cast<unsigned>(std::min<int64_t>(g.t, kMaxGridY)));
  epilogue_kernel<<<grid, threads, 0, ctx.stream>>>(acc, ld_acc, bias, g.y, g.ldy, g.out_dtype, g.t,
                                                    g.n, act, g.activation_param);
  return check_launch(op, call, err);
}

rma_status launch_tiled(const Context& ctx, const GemmArgs& g, const char* op,
                        const rma_op_call& call, rma_error* err) {
  const int64_t tiles_t = (g.t + kTile - 1) / kTile;
  if (tiles_t > kMaxGridY)
    return fail(err, RMA_STATUS_UNSUPPORTED, "cuda: %s: %lld rows exceed the tiled kernel's grid",
                op, static_cast<long long>(g.t));
  const dim3 grid(static_cast<unsigned>((g.n + kTile - 1) / kTile), static_cast<unsigned>(tiles_t));
  const KernelArgs a = kernel_args(g);
  return with_float_type(g.in_dtype, [&]<class T>() {
    gemm_tiled_kernel<T><<<grid, kTileThreads, 0, ctx.stream>>>(static_cast<const T*>(g.x),
                                                                static_cast<const T*>(g.w), a);
    return check_launch(op, call, err);
  });
}

// ----------------------------------------------------------------- cuBLASLt

struct LtObjects {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  ~LtObjects() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (d) cublasLtMatrixLayoutDestroy(d);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

// Heuristic answers by problem, so each shape asks cuBLASLt once.
using PlanKey = std::array<int64_t, 18>;
struct Plan {
  bool found = false;
  cublasLtMatmulAlgo_t algo{};
};
std::mutex g_plan_mu;
std::map<PlanKey, Plan>& plans() {
  static auto* m = new std::map<PlanKey, Plan>();
  return *m;
}

// Runs the product into d (ldd, d_dtype) with the given epilogue; *declined
// when cuBLASLt has no algorithm for it (the caller falls back).
rma_status lt_matmul(const Context& ctx, const GemmArgs& g, void* d, int64_t ldd, int32_t d_dtype,
                     cublasLtEpilogue_t epilogue, const void* bias, bool* declined, const char* op,
                     rma_error* err) {
  *declined = false;
  cublasLtHandle_t lt = nullptr;
  void* workspace = nullptr;
  uint64_t workspace_bytes = 0;
  if (rma_status st = cublaslt_of(ctx, &lt, &workspace, &workspace_bytes, err)) return st;

  auto bad = [&](const char* what, cublasStatus_t s) {
    return fail(err, RMA_STATUS_DEVICE_ERROR, "cuda: %s: %s: %s", op, what,
                cublasLtGetStatusString(s));
  };
  LtObjects o;
  cublasStatus_t s = cublasLtMatmulDescCreate(&o.op, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  if (s != CUBLAS_STATUS_SUCCESS) return bad("cublasLtMatmulDescCreate", s);
  const cublasOperation_t ta = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t tb = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasLtMatmulDescSetAttribute(o.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta));
  cublasLtMatmulDescSetAttribute(o.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb));
  s = cublasLtMatmulDescSetAttribute(o.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                                     sizeof(epilogue));
  if (s != CUBLAS_STATUS_SUCCESS) return bad("setting the epilogue", s);
  if (bias) {
    s = cublasLtMatmulDescSetAttribute(o.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                       sizeof(bias));
    if (s != CUBLAS_STATUS_SUCCESS) return bad("setting the bias", s);
  }
  const uint64_t a_rows = g.trans_b ? g.k : g.n, a_cols = g.trans_b ? g.n : g.k;
  const uint64_t b_rows = g.trans_a ? g.t : g.k, b_cols = g.trans_a ? g.k : g.t;
  s = cublasLtMatrixLayoutCreate(&o.a, cuda_type(g.in_dtype), a_rows, a_cols, int64_t(a_rows));
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatrixLayoutCreate(&o.b, cuda_type(g.in_dtype), b_rows, b_cols, int64_t(b_rows));
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatrixLayoutCreate(&o.d, cuda_type(d_dtype), uint64_t(g.n), uint64_t(g.t), ldd);
  if (s != CUBLAS_STATUS_SUCCESS) return bad("cublasLtMatrixLayoutCreate", s);

  const uint32_t al_a = alignment_of(g.w), al_b = alignment_of(g.x), al_d = alignment_of(d);
  const PlanKey key = {int64_t(ctx.dev.ordinal),
                       g.in_dtype,
                       d_dtype,
                       g.t,
                       g.n,
                       g.k,
                       ldd,
                       g.trans_a,
                       g.trans_b,
                       int64_t(epilogue),
                       bias ? int64_t(alignment_of(bias)) : -1,
                       al_a,
                       al_b,
                       al_d,
                       int64_t(workspace_bytes),
                       0,
                       0,
                       0};
  Plan plan;
  bool cached = false;
  {
    std::lock_guard<std::mutex> lock(g_plan_mu);
    auto it = plans().find(key);
    if (it != plans().end()) {
      plan = it->second;
      cached = true;
    }
  }
  if (!cached) {
    s = cublasLtMatmulPreferenceCreate(&o.pref);
    if (s != CUBLAS_STATUS_SUCCESS) return bad("cublasLtMatmulPreferenceCreate", s);
    cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                         &workspace_bytes, sizeof(workspace_bytes));
    // Tensor views may start anywhere: tell the heuristic what we have.
    cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a,
                                         sizeof(al_a));
    cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b,
                                         sizeof(al_b));
    cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_d,
                                         sizeof(al_d));
    cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_d,
                                         sizeof(al_d));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    s = cublasLtMatmulAlgoGetHeuristic(lt, o.op, o.a, o.b, o.d, o.d, o.pref, 1, &result, &found);
    plan.found = s == CUBLAS_STATUS_SUCCESS && found > 0 && result.state == CUBLAS_STATUS_SUCCESS;
    if (plan.found) plan.algo = result.algo;
    std::lock_guard<std::mutex> lock(g_plan_mu);
    plans()[key] = plan;
  }
  if (!plan.found) {
    *declined = true;
    return RMA_STATUS_OK;
  }
  const float alpha = g.alpha, beta = 0.f;
  s = cublasLtMatmul(lt, o.op, &alpha, g.w, o.a, g.x, o.b, &beta, d, o.d, d, o.d, &plan.algo,
                     workspace, workspace_bytes, ctx.stream);
  if (s == CUBLAS_STATUS_NOT_SUPPORTED) {
    *declined = true;
    return RMA_STATUS_OK;
  }
  if (s != CUBLAS_STATUS_SUCCESS) return bad("cublasLtMatmul", s);
  return RMA_STATUS_OK;
}

}  // namespace

rma_status gemm(const Context& ctx, const GemmArgs& g, const char* op, const rma_op_call& call,
                rma_error* err) {
  if (g.t == 0 || g.n == 0) return RMA_STATUS_OK;
  if (g.k > 0) {
    // Cheapest first; a form cuBLASLt has no algorithm for falls through to
    // the next, the tiled kernel last.
    bool declined = true;
    const bool same_type = g.out_dtype == g.in_dtype;
    if (same_type && fusable(g.activation)) {
      // Everything in cuBLASLt's epilogue, straight into y.
      if (rma_status st =
              lt_matmul(ctx, g, g.y, g.ldy, g.out_dtype,
                        epilogue_of(g.activation, g.bias != nullptr), g.bias, &declined, op, err))
        return st;
      if (!declined) return check_launch(op, call, err);
    }
    if (same_type && g.out_dtype == RMA_DTYPE_F32) {
      // f32: bias in cuBLASLt, the activation in place (one rounding either way).
      if (rma_status st =
              lt_matmul(ctx, g, g.y, g.ldy, g.out_dtype,
                        epilogue_of(RMA_ACT_NONE, g.bias != nullptr), g.bias, &declined, op, err))
        return st;
      if (!declined)
        return g.activation == RMA_ACT_NONE
                   ? check_launch(op, call, err)
                   : launch_epilogue(ctx, static_cast<const float*>(g.y), g.ldy, g, nullptr,
                                     g.activation, op, call, err);
    }
    // The product in f32 scratch, then bias, activation and one rounding.
    void* acc = nullptr;
    if (rma_status st = ctx.scratch(ctx, size_t(g.t * g.n) * sizeof(float), &acc, err)) return st;
    if (rma_status st = lt_matmul(ctx, g, acc, g.n, RMA_DTYPE_F32, CUBLASLT_EPILOGUE_DEFAULT,
                                  nullptr, &declined, op, err))
      return st;
    if (!declined)
      return launch_epilogue(ctx, static_cast<const float*>(acc), g.n, g, g.bias, g.activation, op,
                             call, err);
  }
  return launch_tiled(ctx, g, op, call, err);
}

rma_status gemv(const Context& ctx, const GemmArgs& g, int32_t w_dtype, int32_t x_dtype,
                const char* op, const rma_op_call& call, rma_error* err) {
  if (g.t == 0 || g.n == 0) return RMA_STATUS_OK;
  if (g.t > kGemvMaxRows || g.trans_a || !g.trans_b)
    return fail(err, RMA_STATUS_INTERNAL,
                "cuda: %s: gemv called for %lld rows (trans_a %d, "
                "trans_b %d)",
                op, static_cast<long long>(g.t), int(g.trans_a), int(g.trans_b));
  const int64_t elems16 = 16 / plain_dtype_bytes(w_dtype);  // w elements per 16-byte load
  const bool vectorized = g.k % elems16 == 0 && alignment_of(g.w) >= 16 && alignment_of(g.x) >= 16;
  const KernelArgs a = kernel_args(g);
  const int rows_per_block = kGemvThreads / 32;
  const auto blocks = static_cast<unsigned>((g.n + rows_per_block - 1) / rows_per_block);
  return with_float_type(w_dtype, [&]<class TW>() {
    if (x_dtype == RMA_DTYPE_F32) {
      gemv_kernel<TW, float><<<blocks, kGemvThreads, 0, ctx.stream>>>(
          static_cast<const TW*>(g.w), static_cast<const float*>(g.x), a, vectorized);
    } else {
      gemv_kernel<TW, TW><<<blocks, kGemvThreads, 0, ctx.stream>>>(
          static_cast<const TW*>(g.w), static_cast<const TW*>(g.x), a, vectorized);
    }
    return check_launch(op, call, err);
  });
}

rma_status convert_floats(const Context& ctx, const void* src, int32_t src_dtype, void* dst,
                          int32_t dst_dtype, int64_t count, const char* op, const rma_op_call& call,
                          rma_error* err) {
  if (count == 0) return RMA_STATUS_OK;
  const int threads = 256;
  convert_kernel<<<grid_for(count, threads), threads, 0, ctx.stream>>>(src, src_dtype, dst,
                                                                       dst_dtype, count);
  return check_launch(op, call, err);
}

}  // namespace rma::cuda
