// cuBLASLt is opened with dlopen on first use, not linked (see
// cublaslt_loader.cpp): a process that loads the plugin without using a GPU
// does not map it.
#pragma once

namespace rma::cuda {

// Null once cuBLASLt is open and usable; otherwise why not (dlerror text).
// The first call opens the library; thread-safe.
const char* cublaslt_load_error();

}  // namespace rma::cuda
