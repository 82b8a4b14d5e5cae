// cuBLASLt, opened on first use instead of linked.
//
// Why: linking libcublasLt (and libcublas, which it pulls in) makes every
// process that loads the plugin map and relocate ~200 MiB, GPU or not — a
// CPU-only run paid that in RSS. The plugin defines the few cuBLASLt entry
// points it calls, with the header's own signatures (so the compiler checks
// them), each forwarding to the symbol dlsym() finds in the real library.
// They are hidden: nothing outside the plugin sees them.
//
// The library is looked up by soname (the plugin's RUNPATH names the
// toolkit's library folder, and dlopen honours the caller's RUNPATH), then
// by the full path of the toolkit the plugin was built against.
#include <dlfcn.h>

#include <cublasLt.h>

#include <mutex>
#include <string>

#include "common/cublaslt_loader.h"

#ifndef RMA_CUBLASLT_SONAME
#define RMA_CUBLASLT_SONAME "libcublasLt.so"
#endif
#ifndef RMA_CUBLASLT_FALLBACK_PATH
#define RMA_CUBLASLT_FALLBACK_PATH ""
#endif

namespace rma::cuda {
namespace {

struct Library {
  void* handle = nullptr;
  std::string error;  // why it could not be opened
};

const Library& library() {
  static Library lib;
  static std::once_flag once;
  std::call_once(once, [] {
    lib.handle = dlopen(RMA_CUBLASLT_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib.handle) return;
    std::string why = dlerror();
    if (*RMA_CUBLASLT_FALLBACK_PATH) {
      lib.handle = dlopen(RMA_CUBLASLT_FALLBACK_PATH, RTLD_NOW | RTLD_LOCAL);
      if (lib.handle) return;
      why += "; ";
      why += dlerror();
    }
    lib.error = "cannot open cuBLASLt (" + why + ")";
  });
  return lib;
}

// The library's symbol `name`, typed as our declaration of it; null when
// the library or the symbol is missing.
template <typename Fn>
Fn resolve(const char* name) {
  const Library& lib = library();
  return lib.handle ? reinterpret_cast<Fn>(dlsym(lib.handle, name)) : nullptr;
}

}  // namespace

const char* cublaslt_load_error() {
  const Library& lib = library();
  if (!lib.handle) return lib.error.c_str();
  if (!resolve<void*>("cublasLtMatmul")) return "cuBLASLt opened but has no cublasLtMatmul";
  return nullptr;
}

}  // namespace rma::cuda

// One forwarding definition per entry point the plugin uses. A missing
// library or symbol reads as CUBLAS_STATUS_NOT_INITIALIZED; callers check
// cublaslt_load_error() first to report why.
#define RMA_LT_FORWARD(ret, name, params, args, missing)                            \
  extern "C" __attribute__((visibility("hidden"))) ret CUBLASWINAPI name params {   \
    static const auto fn = rma::cuda::resolve<decltype(&name)>(#name);             \
    return fn ? fn args : missing;                                                 \
  }

RMA_LT_FORWARD(cublasStatus_t, cublasLtCreate, (cublasLtHandle_t * h), (h),
               CUBLAS_STATUS_NOT_INITIALIZED)
RMA_LT_FORWARD(cublasStatus_t, cublasLtDestroy, (cublasLtHandle_t h), (h),
               CUBLAS_STATUS_NOT_INITIALIZED)
RMA_LT_FORWARD(const char*, cublasLtGetStatusString, (cublasStatus_t s), (s),
               "cuBLASLt not loaded")
RMA_LT_FORWARD(cublasStatus_t, cublasLtMatmul,
               (cublasLtHandle_t h, cublasLtMatmulDesc_t desc, const void* alpha, const void* A,
                cublasLtMatrixLayout_t Adesc, const void* B, cublasLtMatrixLayout_t Bdesc,
                const void* beta, const void* C, cublasLtMatrixLayout_t Cdesc, void* D,
                cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t* algo, void* workspace,
                size_t workspace_bytes, cudaStream_t stream),
               (h, desc, alpha, A, Adesc, B, Bdesc, beta, C, Cdesc, D, Ddesc, algo, workspace,
                workspace_bytes, stream),
               CUBLAS_STATUS_NOT_INITIALIZED)
RMA_LT_FORWARD(cublasStatus_t, cublasLtMatmulAlgoGetHeuristic,
               (cublasLtHandle_t h, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t Adesc,
                cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc,
                cublasLtMatrixLayout_t Ddesc, cublasLtMatmulPreference_t pref, int requested,
                cublasLtMatmulHeuristicResult_t results[], int* returned),
               (h, desc, Adesc, Bdesc, Cdesc, Ddesc, pref, requested, results, returned),
               CUBLAS_STATUS_NOT_INITIALIZED)
RMA_LT_FORWARD(cublasStatus_t, cublasLtMatmulDescCreate,
               (cublasLtMatmulDesc_t * desc, cublasComputeType_t compute, cudaDataType_t scale),
               (desc, compute, scale), CUBLAS_STATUS_NOT_INITIALIZED)
RMA_LT_FORWARD(cublasStatus_t, cublasLtMatmulDescDestroy, (cublasLtMatmulDesc_t desc), (desc),
               CUBLAS_STATUS_NOT_INITIALIZED)
RMA_LT_FORWARD(cublasStatus_t, cublasLtMatmulDescSetAttribute,
               (cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr, const void* buf,
                size_t bytes),
               (desc, attr, buf, bytes), CUBLAS_STATUS_NOT_INITIALIZED)
RMA_LT_FORWARD(cublasStatus_t, cublasLtMatmulPreferenceCreate, (cublasLtMatmulPreference_t * p),
               (p), CUBLAS_STATUS_NOT_INITIALIZED)
RMA_LT_FORWARD(cublasStatus_t, cublasLtMatmulPreferenceDestroy, (cublasLtMatmulPreference_t p),
               (p), CUBLAS_STATUS_NOT_INITIALIZED)
RMA_LT_FORWARD(cublasStatus_t, cublasLtMatmulPreferenceSetAttribute,
               (cublasLtMatmulPreference_t p, cublasLtMatmulPreferenceAttributes_t attr,
                const void* buf, size_t bytes),
               (p, attr, buf, bytes), CUBLAS_STATUS_NOT_INITIALIZED)
RMA_LT_FORWARD(cublasStatus_t, cublasLtMatrixLayoutCreate,
               (cublasLtMatrixLayout_t * layout, cudaDataType type, uint64_t rows, uint64_t cols,
                int64_t ld),
               (layout, type, rows, cols, ld), CUBLAS_STATUS_NOT_INITIALIZED)
RMA_LT_FORWARD(cublasStatus_t, cublasLtMatrixLayoutDestroy, (cublasLtMatrixLayout_t layout),
               (layout), CUBLAS_STATUS_NOT_INITIALIZED)
