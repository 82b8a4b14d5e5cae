// What every CPU op module sees: the execution context, the registry its
// launcher adds itself to, and small helpers over ABI tensors.
// An op module is backends/cpu/ops/<op>/ with launcher.cpp (registers the
// op: a `supported` check and a `run` function), config.h (tuning knobs) and
// kernels/ (its SIMD kernels). Modules depend on the core headers and on
// this folder only.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "common/thread_pool.h"
#include "rma/dtype.h"
#include "rma/plugin.h"
#include "rma/plugin_util.h"

namespace rma::cpu {

// fail, present, numel, last_dim, leading_rows, is_dense, same_shape,
// is_float_dtype: rma/plugin_util.h.
using namespace rma::abi;

struct Context {
  ThreadPool& pool;
};

using SupportedFn = rma_status (*)(const rma_op_call& call, rma_error* err);
using RunFn = rma_status (*)(const Context& ctx, const rma_op_call& call, rma_error* err);

// Called from a launcher's static initialiser (see RMA_CPU_REGISTER_OP).
bool register_op(rma_op op, SupportedFn supported, RunFn run);
SupportedFn find_supported(rma_op op);
RunFn find_run(rma_op op);

#define RMA_CPU_REGISTER_OP(op, supported, run) \
  static const bool rma_cpu_registered_op_ = ::rma::cpu::register_op(op, supported, run)

// Prepared ops (rma/prepared.h, the ABI's op_prepare): a module that gains
// from knowing its constant inputs ahead (linear pre-packs its weight)
// registers these. `prepared` is the module's own object. The plugin checks
// calls with the module's `supported` before any of them.
struct PreparedFns {
  // *out = nullptr (and OK) when there is nothing to gain for this call.
  rma_status (*prepare)(const Context& ctx, const rma_op_call& call, uint64_t const_inputs,
                        void** out, rma_error* err);
  rma_status (*run)(const Context& ctx, const void* prepared, const rma_op_call& call,
                    rma_error* err);
  // Appends the serialized form (its own magic and version) to `out`.
  rma_status (*serialize)(const void* prepared, std::vector<uint8_t>* out, rma_error* err);
  // UNSUPPORTED (err: why) for bytes made for another call or machine,
  // INVALID_ARGUMENT for corrupt ones.
  rma_status (*deserialize)(const rma_op_call& call, const uint8_t* data, uint64_t size, void** out,
                            rma_error* err);
  void (*destroy)(void* prepared);
};
bool register_prepared(rma_op op, const PreparedFns& fns);

#define RMA_CPU_REGISTER_PREPARED(op, fns) \
  static const bool rma_cpu_registered_prepared_ = ::rma::cpu::register_prepared(op, fns)

// ---- tensor helpers (tensors are dense row-major, data is a host pointer)
inline DType dtype_of(const rma_tensor& t) { return static_cast<DType>(t.dtype); }
inline int64_t rows(const rma_tensor& t) {
  const int64_t l = last_dim(t);
  return l == 0 ? 0 : numel(t) / l;
}
template <class T = void>
inline T* data(const rma_tensor& t) {
  return reinterpret_cast<T*>(static_cast<uint8_t*>(t.data) + t.offset);
}
inline const char* dtype_name(int32_t dt) {
  return is_valid(dt) ? kDTypeInfo[dt].name.data() : "invalid";
}

// Index tensors hold i32 or i64.
inline int64_t load_index(const rma_tensor& t, int64_t i) {
  return t.dtype == RMA_DTYPE_I64 ? data<const int64_t>(t)[i] : data<const int32_t>(t)[i];
}

}  // namespace rma::cpu
