// opencl mul: numpy-broadcast elementwise product of a and b, f32, f16
// or bf16.
#include "common/binary.h"
#include "common/tier2.h"
#include "ops/mul/config.h"

namespace rma::opencl {
namespace {

rma_status supported(const ClDevice& dev, const rma_op_call& call, rma_error* err) {
  return binary_supported(dev, call, err, "mul");
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  return launch_binary(ctx, call.inputs[0], call.inputs[1], call.outputs[0], RMA_BINARY_MUL, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_MUL, supported, run);

}  // namespace rma::opencl
