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

#include "rma/dtype.h"
#include "rma/plugin.h"
#include "rma/plugin_util.h"

namespace rma::opencl {

// fail, present, numel, last_dim, leading_rows, is_dense, same_shape,
// is_float_dtype: rma/plugin_util.h.
using namespace rma::abi;

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

// Prepared ops (rma/prepared.h, the ABI's op_prepare): a module that gains
// from knowing a call ahead (linear times its paths and keeps a widened
// weight) registers these. `prepared` is the module's own object; the plugin
// checks calls with the module's `supported` first. `ctx.queue` is a queue
// of the plugin's own for prepare/deserialize (finished before they return).
struct PreparedFns {
  // *out = nullptr (and OK) when there is nothing to gain for this call.
  rma_status (*prepare)(const Context& ctx, const rma_op_call& call, uint64_t const_inputs,
                        void** out, rma_error* err);
  rma_status (*run)(const Context& ctx, const void* prepared, const rma_op_call& call,
                    rma_error* err);
  rma_status (*serialize)(const void* prepared, std::vector<uint8_t>* out, rma_error* err);
  // UNSUPPORTED (err: why) for bytes made for another call or device,
  // INVALID_ARGUMENT for corrupt ones.
  rma_status (*deserialize)(const Context& ctx, const rma_op_call& call, const uint8_t* data,
                            uint64_t size, void** out, rma_error* err);
  void (*destroy)(void* prepared);
};
bool register_prepared(rma_op op, const PreparedFns& fns);
#define RMA_OPENCL_REGISTER_PREPARED(op, fns) \
  static const bool rma_opencl_registered_prepared_ = ::rma::opencl::register_prepared(op, fns)

// Kernel sources embedded at build time (see CMakeLists.txt): `name` is
// "<op>/<file stem>", e.g. "add/add".
bool register_source(const char* name, const char* source);
const char* find_source(const std::string& name);

// A kernel `kernel` from the embedded program `source_name`, built for the
// device with `options` (through the on-disk binary cache). The caller
// releases it with clReleaseKernel.
rma_status get_kernel(ClDevice& dev, const std::string& source_name, const char* kernel,
                      const std::string& options, cl_kernel* out, rma_error* err);

const char* cl_error_name(cl_int code);

inline cl_mem mem_of(const rma_tensor& t) { return static_cast<cl_mem>(t.data); }
// Bytes of one element of a plain dtype (f32, f16, bf16, integers).
inline cl_ulong element_bytes(int32_t dt) {
  switch (dt) {
    case RMA_DTYPE_F16:
    case RMA_DTYPE_BF16:
      return 2;
    case RMA_DTYPE_I8:
    case RMA_DTYPE_BOOL:
      return 1;
    case RMA_DTYPE_I64:
      return 8;
    default:
      return 4;
  }
}
// Kernels index elements of the tensor's dtype from an element offset; the
// core's pool hands out 64-byte aligned blocks, so offsets divide evenly.
inline cl_ulong elem_offset(const rma_tensor& t) { return t.offset / element_bytes(t.dtype); }
const char* dtype_label(int32_t dt);

// Elements and bytes of one block of a float or block-quantized dtype, as
// rma/dtype.h gives them ({1, element size} for floats); {0, 0} otherwise.
struct Block {
  int64_t elems, bytes;
};
inline Block block_of(int32_t dt) {
  if (!is_valid(dt)) return {0, 0};
  const DType t = static_cast<DType>(dt);
  if (!is_float(t) && !is_quantized(t)) return {0, 0};
  return {block_elems(t), block_bytes(t)};
}

// Float tensors are stored as f32, f16 or bf16 and computed in f32 on every
// device: common/kernels/dtype.cl loads and stores them with core built-ins
inline rma_status require_float(const char* op, const char* what, const rma_tensor& t,
                                rma_error* err) {
  if (is_float_dtype(t.dtype)) return RMA_STATUS_OK;
  return fail(err, RMA_STATUS_UNSUPPORTED, "%s: %s must be f32, f16 or bf16 (got %s)", op, what,
              dtype_label(t.dtype));
}
// The build option naming a float dtype for dtype.cl, e.g. " -DDTYPE=f16"
// for (macro "DTYPE", RMA_DTYPE_F16); each dtype builds its own program.
inline std::string dtype_option(const char* macro, int32_t dt) {
  const char* token = dt == RMA_DTYPE_F16 ? "f16" : dt == RMA_DTYPE_BF16 ? "bf16" : "f32";
  return std::string(" -D") + macro + "=" + token;
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
