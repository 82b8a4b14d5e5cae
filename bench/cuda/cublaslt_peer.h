// The peer for `linear`: cuBLASLt called directly, with the layouts and
// arithmetic the CUDA backend's linear uses (backends/cuda/common/gemm.cu):
// y[T, N] = x[T, K] . w[N, K]^T with x, w and y of one dtype (f32, f16 or
// bf16), products summed in f32 (CUBLAS_COMPUTE_32F, so f32 is plain f32,
// not TF32), the same workspace size (32 MiB on Hopper, 4 MiB before), the
// operands' real alignments given to the heuristic. Column-major, that is
// D (N x T) = op_T(w as K x N) . x (K x T).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "rma/dtype.h"

namespace rma::bench::cuda {

class CublasLtPeer {
 public:
  // Workspace for a device of compute capability `cc_major`.x.
  CublasLtPeer(cudaStream_t stream, int cc_major);
  ~CublasLtPeer();
  CublasLtPeer(const CublasLtPeer&) = delete;
  CublasLtPeer& operator=(const CublasLtPeer&) = delete;

  // One problem's descriptors and the heuristic's algorithms, best first.
  class Problem {
   public:
    Problem(const CublasLtPeer& peer, DType dtype, int64_t t, int64_t n, int64_t k, const void* w,
            const void* x, const void* y, int max_algorithms);
    ~Problem();
    Problem(const Problem&) = delete;
    Problem& operator=(const Problem&) = delete;

    int algorithms() const { return static_cast<int>(algos_.size()); }
    // Enqueues y = x . w^T with the heuristic's algorithm `index` (0: the
    // one cuBLAS would pick) on the peer's stream.
    void run(int index, const void* w, const void* x, void* y) const;

   private:
    const CublasLtPeer& peer_;
    cublasLtMatmulDesc_t op_ = nullptr;
    cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, d_ = nullptr;
    std::vector<cublasLtMatmulAlgo_t> algos_;
  };

 private:
  cudaStream_t stream_;
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  uint64_t workspace_bytes_ = 0;
};

}  // namespace rma::bench::cuda
