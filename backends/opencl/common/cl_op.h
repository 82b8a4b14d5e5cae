// What every OpenCL op module sees: the device and queue to launch on, the
// op registry its launcher adds itself to, the embedded kernel sources and
// small helpers over ABI tensors. An op module is backends/opencl/ops/<op>/
// with launcher.cpp (registers `supported` and `run`), config.h (tuning
// knobs) and kernels/*.cl (embedded into the plugin at build time).
#pragma once

// CL_TARGET_OPENCL_VERSION=120 comes from CMakeLists.txt: OpenCL 1.2 is what
// every ICD (PoCL, Mesa, vendors) implements.
#include <CL/cl.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "rma/plugin.h"

namespace rma::opencl {

struct ClDevice;  // plugin.cpp

struct Context {
  ClDevice& dev;
  cl_command_queue queue;
};

using SupportedFn = rma_status (*)(const ClDevice& dev, const rma_op_call& call, rma_error* err);
using RunFn = rma_status (*)(const Context& ctx, const rma_op_call& call, rma_error* err);

bool register_op(rma_op op, SupportedFn supported, RunFn run);
#define RMA_OPENCL_REGISTER_OP(op, supported, run) \
  static const bool rma_opencl_registered_op_ = ::rma::opencl::register_op(op, supported, run)

// Kernel sources embedded at build time (see CMakeLists.txt): `name` is
// "<op>/<file stem>", e.g. "add/add".
bool register_source(const char* name, const char* source);
const char* find_source(const std::string& name);

// A kernel `kernel` from the embedded program `source_name`, built for the
// device with `options` (through the on-disk binary cache). The caller
// releases it with clReleaseKernel.
rma_status get_kernel(ClDevice& dev, const std::string& source_name, const char* kernel,
                      const std::string& options, cl_kernel* out, rma_error* err);

bool device_has_fp16(const ClDevice& dev);
const char* cl_error_name(cl_int code);

inline rma_status fail(rma_error* err, rma_status status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
inline rma_status fail(rma_error* err, rma_status status, const char* fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
  }
  return status;
}

// ---- tensors: data is a cl_mem, offset a byte offset into it
inline bool present(const rma_tensor& t) { return t.ndim >= 0; }
inline int64_t numel(const rma_tensor& t) {
  int64_t n = 1;
  for (int i = 0; i < t.ndim; ++i) n *= t.shape[i];
  return n;
}
inline int64_t last_dim(const rma_tensor& t) { return t.ndim > 0 ? t.shape[t.ndim - 1] : 1; }
inline int64_t leading_rows(const rma_tensor& t) {
  int64_t r = 1;
  for (int i = 0; i + 1 < t.ndim; ++i) r *= t.shape[i];
  return r;
}
inline bool is_dense(const rma_tensor& t) {
  int64_t stride = 1;
  for (int i = t.ndim - 1; i >= 0; --i) {
    if (t.shape[i] != 1 && t.strides[i] != stride) return false;
    stride *= t.shape[i];
  }
  return true;
}
inline bool same_shape(const rma_tensor& a, const rma_tensor& b) {
  if (a.ndim != b.ndim) return false;
  for (int i = 0; i < a.ndim; ++i)
    if (a.shape[i] != b.shape[i]) return false;
  return true;
}
inline cl_mem mem_of(const rma_tensor& t) { return static_cast<cl_mem>(t.data); }
// Kernels index f32 elements from an element offset; the core's pool hands
// out 64-byte aligned blocks, so offsets of f32 tensors divide evenly.
inline cl_ulong elem_offset(const rma_tensor& t) { return t.offset / sizeof(float); }
const char* dtype_label(int32_t dt);

// Every op of this increment runs f32 only: f16 would need cl_khr_fp16 and
// its kernels come later; bf16 has no OpenCL type.
inline rma_status require_f32(const ClDevice& dev, const char* op, const rma_tensor& t,
                              rma_error* err) {
  if (t.dtype == RMA_DTYPE_F32) return RMA_STATUS_OK;
  if (t.dtype == RMA_DTYPE_F16 && !device_has_fp16(dev))
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: f16 needs cl_khr_fp16, which this OpenCL device lacks", op);
  return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the opencl backend runs f32 only so far (got %s)",
              op, dtype_label(t.dtype));
}

// Sets kernel arguments in order; returns the first error.
class ArgSetter {
 public:
  explicit ArgSetter(cl_kernel k) : k_(k) {}
  template <class T>
  ArgSetter& operator()(const T& v) {
    if (status_ == CL_SUCCESS) status_ = clSetKernelArg(k_, index_, sizeof(T), &v);
    ++index_;
    return *this;
  }
  cl_int status() const { return status_; }

 private:
  cl_kernel k_;
  cl_uint index_ = 0;
  cl_int status_ = CL_SUCCESS;
};

// Sets args with `set`, enqueues `kernel` over `global` (rounded up to
// `local` when given) and releases it; errors name the op.
rma_status launch(const Context& ctx, cl_kernel kernel, const char* op, cl_int arg_status,
                  cl_uint dims, const size_t* global, const size_t* local, rma_error* err);

}  // namespace rma::opencl
