// cpu mul: numpy-broadcast elementwise a * b in f32/f16/bf16.
#include "common/binary_elementwise.h"
#include "ops/mul/config.h"
#include "ops/mul/kernels/mul_kernel.h"

namespace rma::cpu {
namespace {

rma_status supported(const rma_op_call& call, rma_error* err) {
  return binary_supported(call, err, "mul");
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  return binary_run(ctx, call, mul_row);
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_MUL, supported, run);

}  // namespace rma::cpu
