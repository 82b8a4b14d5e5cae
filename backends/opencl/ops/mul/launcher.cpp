// opencl mul: numpy-broadcast elementwise product of a and b, f32, f16
// or bf16.
#include "common/binary.h"
#include "ops/mul/config.h"

namespace rma::opencl {
namespace {

rma_status supported(const ClDevice& dev, const rma_op_call& call, rma_error* err) {
  return binary_supported(dev, call, err, "mul");
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  return binary_run(ctx, call, err, "mul", "mul/mul", "mul");
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_MUL, supported, run);

}  // namespace rma::opencl
