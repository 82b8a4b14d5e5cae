// What every CUDA op module sees: the device and stream to launch on, the
// op registry its launcher adds itself to, scratch memory, and small helpers
// over ABI tensors. An op module is backends/cuda/ops/<op>/ with
// launcher.cu (registers `supported` and `run`), config.h (tuning knobs)
// and kernels/*.cu (or *.cuh included by the launcher); it is added to the
// plugin by one rma_cuda_op(<op>) line in backends/cuda/CMakeLists.txt.
//
// Contract of a launcher:
// - `supported` looks only at dtypes, shapes, attrs and the device's
//   compute capability (CudaDevice::cc_major/minor); it never touches data.
//   An unsupported dtype on an old architecture (e.g. bf16 before sm_80) is
//   RMA_STATUS_UNSUPPORTED, so the caller can fall back.
// - `run` enqueues work on ctx.stream only (asynchronous; no
//   cudaDeviceSynchronize), checks launches with check_launch(), and may
//   read small index tensors back to validate them (ctx.read_back) as the
//   other backends do.
#pragma once

#include <cuda_runtime.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>

#include "rma/plugin.h"
#include "rma/plugin_util.h"

namespace rma::cuda {

// fail, present, numel, last_dim, leading_rows, is_dense, same_shape,
// is_float_dtype: rma/plugin_util.h.
using namespace rma::abi;

struct CudaDevice;  // common/cuda_device.h
struct CallState;   // common/cuda_device.h

struct Context {
  CudaDevice& dev;
  cudaStream_t stream;
  // Scratch device memory for this call, valid until the stream passes the
  // point where `run` returns (stream-ordered; freed by the plugin).
  rma_status (*scratch)(const Context& ctx, size_t bytes, void** out, rma_error* err);
  // Copies `bytes` from device memory to host, ordered after the work already
  // on ctx.stream, and waits for them (small index tensors only).
  rma_status (*read_back)(const Context& ctx, const void* src, size_t bytes, void* dst,
                          rma_error* err);
  // The plugin's bookkeeping for this call (scratch blocks, the stream's
  // cuBLASLt handle); op modules pass the Context on and never touch it.
  CallState* state = nullptr;
};

using SupportedFn = rma_status (*)(const CudaDevice& dev, const rma_op_call& call, rma_error* err);
using RunFn = rma_status (*)(const Context& ctx, const rma_op_call& call, rma_error* err);

bool register_op(rma_op op, SupportedFn supported, RunFn run);
#define RMA_CUDA_REGISTER_OP(op, supported, run) \
  static const bool rma_cuda_registered_op_ = ::rma::cuda::register_op(op, supported, run)

// Compute capability of the device (major * 10 + minor, e.g. 90).
int compute_capability(const CudaDevice& dev);
const char* device_name(const CudaDevice& dev);
// Streaming multiprocessors, and the most shared memory one block may ask
// for (after cudaFuncSetAttribute(..., MaxDynamicSharedMemorySize, ...)).
int multiprocessor_count(const CudaDevice& dev);
size_t shared_memory_per_block_optin(const CudaDevice& dev);

// After a kernel launch: a launch error names the op and the shapes.
rma_status check_launch(const char* op, const rma_op_call& call, rma_error* err);
// "q f16[4, 9, 64], k f16[...]" for error messages.
std::string describe_call(const rma_op_call& call);

template <class T = void>
inline T* ptr(const rma_tensor& t) {
  return reinterpret_cast<T*>(static_cast<char*>(t.data) + t.offset);
}
const char* dtype_label(int32_t dt);

}  // namespace rma::cuda
