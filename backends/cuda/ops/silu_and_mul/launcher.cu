// cuda silu_and_mul: x[..., 2I] -> y = silu(x[..., :I]) * x[..., I:];
// f32, f16 or bf16 (computed in f32, rounded once).
#include "common/act_and_mul.cuh"
#include "ops/silu_and_mul/config.h"
#include "ops/silu_and_mul/kernels/silu_and_mul.cuh"

namespace rma::cuda {
namespace {

constexpr const char* kOp = "silu_and_mul";

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  return act_and_mul_supported(dev, call, err, kOp);
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  return act_and_mul_run(ctx, call, err, kOp, SiluGate{});
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_SILU_AND_MUL, supported, run);

}  // namespace rma::cuda
