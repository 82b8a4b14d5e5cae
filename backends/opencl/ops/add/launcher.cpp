// opencl add: numpy-broadcast elementwise sum of a and b, f32, f16
// or bf16.
#include "common/binary.h"
#include "common/tier2.h"
#include "ops/add/config.h"

namespace rma::opencl {
namespace {

rma_status supported(const ClDevice& dev, const rma_op_call& call, rma_error* err) {
  return binary_supported(dev, call, err, "add");
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  return launch_binary(ctx, call.inputs[0], call.inputs[1], call.outputs[0], RMA_BINARY_ADD, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_ADD, supported, run);

}  // namespace rma::opencl
