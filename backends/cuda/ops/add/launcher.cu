// cuda add: numpy-broadcast elementwise sum of a and b, f32, f16 or bf16.
#include "common/binary.cuh"
#include "ops/add/config.h"
#include "ops/add/kernels/add.cuh"

namespace rma::cuda {
namespace {

rma_status supported(const CudaDevice& dev, const rma_op_call& call, rma_error* err) {
  return binary_supported(dev, call, err, "add");
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  return binary_run<AddOp>(ctx, call, err, "add");
}

}  // namespace

RMA_CUDA_REGISTER_OP(RMA_OP_ADD, supported, run);

}  // namespace rma::cuda
