// cuda gelu_and_mul: x[..., 2I] -> y = gelu(x[..., :I]) * x[..., I:] (erf,
// or tanh when approximate); f32, f16 or bf16 (computed in f32, rounded once).
#include "common/act_and_mul.cuh"
#include "ops/gelu_and_mul/config.h"
#include "ops/gelu_and_mul/kernels/gelu_and_mul.cuh"

namespace rma::cuda {
namespace {

constexpr const char* kOp = "gelu_and_mul";

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  const auto* attrs = attrs_of<rma_gelu_attrs>(call);
  if (!attrs)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_gelu_attrs missing or too small", kOp);
  if (attrs->approximate != 0 && attrs->approximate != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: approximate must be 0 or 1 (got %d)", kOp,
                attrs->approximate);
  return act_and_mul_supported(dev, call, err, kOp);
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const bool approximate = attrs_of<rma_gelu_attrs>(call)->approximate != 0;
  return act_and_mul_run(ctx, call, err, kOp, GeluGate{approximate});
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_GELU_AND_MUL, supported, run);

}  // namespace rma::cuda
