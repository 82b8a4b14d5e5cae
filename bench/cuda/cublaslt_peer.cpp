#include "bench/cuda/cublaslt_peer.h"

#include <string>

#include "bench/cuda/gpu_timing.h"
#include "rma/error.h"

namespace rma::bench::cuda {
namespace {

void check_lt(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw Error(ErrorCode::kDevice,
                std::string("cuBLASLt peer: ") + what + ": " + cublasLtGetStatusString(s));
}

cudaDataType_t cuda_type(DType dt) {
  switch (dt) {
    case DType::kF16:
      return CUDA_R_16F;
    case DType::kBF16:
      return CUDA_R_16BF;
    case DType::kF32:
      return CUDA_R_32F;
    default:
      throw Error(ErrorCode::kInvalidArgument,
                  "cuBLASLt peer: dtype " + std::string(name(dt)) + " is not f32, f16 or bf16");
  }
}

// The largest power of two up to 256 dividing the address.
uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t al = 256;
  while (al > 1 && a % al != 0) al >>= 1;
  return al;
}

}  // namespace

CublasLtPeer::CublasLtPeer(cudaStream_t stream, int cc_major) : stream_(stream) {
  check_lt(cublasLtCreate(&handle_), "cublasLtCreate");
  workspace_bytes_ = cc_major >= 9 ? (32ull << 20) : (4ull << 20);
  check_cuda(cudaMalloc(&workspace_, workspace_bytes_), "cudaMalloc (cuBLASLt workspace)");
}

CublasLtPeer::~CublasLtPeer() {
  cudaFree(workspace_);
  cublasLtDestroy(handle_);
}

CublasLtPeer::Problem::Problem(const CublasLtPeer& peer, DType dtype, int64_t t, int64_t n,
                               int64_t k, const void* w, const void* x, const void* y,
                               int max_algorithms)
    : peer_(peer) {
  const cudaDataType_t type = cuda_type(dtype);
  check_lt(cublasLtMatmulDescCreate(&op_, CUBLAS_COMPUTE_32F, CUDA_R_32F),
           "cublasLtMatmulDescCreate");
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  check_lt(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)),
           "TRANSA");
  check_lt(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)),
           "TRANSB");
  check_lt(cublasLtMatrixLayoutCreate(&a_, type, uint64_t(k), uint64_t(n), k), "layout of w");
  check_lt(cublasLtMatrixLayoutCreate(&b_, type, uint64_t(k), uint64_t(t), k), "layout of x");
  check_lt(cublasLtMatrixLayoutCreate(&d_, type, uint64_t(n), uint64_t(t), n), "layout of y");

  cublasLtMatmulPreference_t pref = nullptr;
  check_lt(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  const uint32_t al_a = alignment_of(w), al_b = alignment_of(x), al_d = alignment_of(y);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                       &peer.workspace_bytes_, sizeof(peer.workspace_bytes_));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a,
                                       sizeof(al_a));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b,
                                       sizeof(al_b));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_d,
                                       sizeof(al_d));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_d,
                                       sizeof(al_d));
  std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<size_t>(max_algorithms));
  int found = 0;
  const cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(peer.handle_, op_, a_, b_, d_, d_, pref,
                                                          max_algorithms, results.data(), &found);
  cublasLtMatmulPreferenceDestroy(pref);
  check_lt(s, "cublasLtMatmulAlgoGetHeuristic");
  for (int i = 0; i < found; ++i)
    if (results[size_t(i)].state == CUBLAS_STATUS_SUCCESS)
      algos_.push_back(results[size_t(i)].algo);
  if (algos_.empty())
    throw Error(ErrorCode::kUnsupported,
                "cuBLASLt peer: the heuristic has no algorithm for T=" + std::to_string(t) + " N=" +
                    std::to_string(n) + " K=" + std::to_string(k) + " " + std::string(name(dtype)));
}

CublasLtPeer::Problem::~Problem() {
  if (d_) cublasLtMatrixLayoutDestroy(d_);
  if (b_) cublasLtMatrixLayoutDestroy(b_);
  if (a_) cublasLtMatrixLayoutDestroy(a_);
  if (op_) cublasLtMatmulDescDestroy(op_);
}

void CublasLtPeer::Problem::run(int index, const void* w, const void* x, void* y) const {
  const float alpha = 1.f, beta = 0.f;
  check_lt(cublasLtMatmul(peer_.handle_, op_, &alpha, w, a_, x, b_, &beta, y, d_, y, d_,
                          &algos_.at(size_t(index)), peer_.workspace_, peer_.workspace_bytes_,
                          peer_.stream_),
           "cublasLtMatmul");
}

}  // namespace rma::bench::cuda
