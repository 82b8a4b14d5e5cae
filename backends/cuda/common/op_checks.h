// Argument checks the op modules of this backend share (host side).
#pragma once

#include <initializer_list>

#include "common/cuda_op.h"

namespace rma::cuda {

// A float dtype this device computes with: f32, f16, or bf16 on sm_80+
// (older parts are declined, so the op falls back to another device).
inline rma_status require_float_on(const CudaDevice& dev, const char* op, const char* what,
                                   const rma_tensor& t, rma_error* err) {
  if (!is_float_dtype(t.dtype))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: %s must be f32, f16 or bf16 (got %s)", op, what,
                dtype_label(t.dtype));
  if (t.dtype == RMA_DTYPE_BF16 && compute_capability(dev) < 80)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: bf16 needs sm_80 or newer; %s is sm_%d", op,
                device_name(dev), compute_capability(dev));
  return RMA_STATUS_OK;
}

inline rma_status require_dense(const char* op, std::initializer_list<const rma_tensor*> tensors,
                                rma_error* err) {
  for (const rma_tensor* t : tensors)
    if (t && present(*t) && !is_dense(*t))
      return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the cuda backend runs dense tensors only", op);
  return RMA_STATUS_OK;
}

inline bool all_dtype(int32_t dtype, std::initializer_list<const rma_tensor*> tensors) {
  for (const rma_tensor* t : tensors)
    if (t && present(*t) && t->dtype != dtype) return false;
  return true;
}

// The attribute struct of the call when it is at least `min_size` bytes
// (structs that gained fields are read only up to what the caller sent).
template <class A>
const A* attrs_of(const rma_op_call& call, size_t min_size = sizeof(A)) {
  const auto* a = static_cast<const A*>(call.attrs);
  return a && a->struct_size >= min_size ? a : nullptr;
}

}  // namespace rma::cuda
