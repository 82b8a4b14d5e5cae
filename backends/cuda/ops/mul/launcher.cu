// cuda mul: numpy-broadcast elementwise product of a and b, f32, f16 or bf16.
#include "common/binary.cuh"
#include "ops/mul/config.h"
#include "ops/mul/kernels/mul.cuh"

namespace rma::cuda {
namespace {

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  return binary_supported(dev, call, err, "mul");
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  return binary_run<MulOp>(ctx, call, err, "mul");
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_MUL, supported, run);

}  // namespace rma::cuda
