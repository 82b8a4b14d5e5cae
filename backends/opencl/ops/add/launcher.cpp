// opencl add: numpy-broadcast elementwise sum of a and b, f32, f16
// or bf16.
#include "common/binary.h"
#include "ops/add/config.h"

namespace rma::opencl {
namespace {

rma_status supported(const ClDevice& dev, const rma_op_call& call, rma_error* err) {
  return binary_supported(dev, call, err, "add");
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  return binary_run(ctx, call, err, "add", "add/add", "add");
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_ADD, supported, run);

}  // namespace rma::opencl
