// cpu add: numpy-broadcast elementwise a + b in f32/f16/bf16.
#include "common/binary_elementwise.h"
#include "ops/add/config.h"
#include "ops/add/kernels/add_kernel.h"

namespace rma::cpu {
namespace {

rma_status supported(const rma_op_call& call, rma_error* err) {
  return binary_supported(call, err, "add");
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  return binary_run(ctx, call, add_row);
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_ADD, supported, run);

}  // namespace rma::cpu
