// opencl binary: y = a <kind> b with numpy broadcasting for every
// rma_binary_kind (docs/ops.md "binary"): arithmetic on f32/f16/bf16
// (computed in f32, rounded once) and i32/i64 (int64, wrapping),
// comparisons to bool, logic on bool. Integer division and modulo by zero
// are errors naming the element of b, as in the reference: b is read back
// and checked before the launch.
#include <string>
#include <vector>

#include "common/tier2.h"
#include "ops/binary/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "binary";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_binary_call(kOp, call, err)) return st;
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  if (!is_dense(a) || !is_dense(b) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  return launch_binary(ctx, call.inputs[0], call.inputs[1], call.outputs[0],
                       static_cast<const rma_binary_attrs*>(call.attrs)->kind, err);
}

}  // namespace

rma_status launch_binary(const Context& ctx, const rma_tensor& a, const rma_tensor& b,
                         const rma_tensor& y, int32_t k, rma_error* err) {
  if (numel(y) == 0) return RMA_STATUS_OK;
  // Every element of b is used (y is not empty), so any zero is an error.
  if (is_int_dtype(b.dtype) && (k == RMA_BINARY_DIV || k == RMA_BINARY_MOD)) {
    std::vector<int64_t> divisors;
    if (rma_status st = read_ints(ctx, b, kOp, "b", &divisors, err)) return st;
    for (size_t i = 0; i < divisors.size(); ++i)
      if (divisors[i] == 0)
        return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                    "%s: integer %s by zero: element %zu of b is 0", kOp,
                    k == RMA_BINARY_DIV ? "division" : "modulo", i);
  }
  NdPlan plan;
  plan.ndim = y.ndim;
  for (int d = 0; d < y.ndim; ++d) plan.shape[d] = y.shape[d];
  broadcast_strides(a, y.ndim, plan.stride[0]);
  broadcast_strides(b, y.ndim, plan.stride[1]);
  plan.base[0] = int64_t(elem_offset(a));
  plan.base[1] = int64_t(elem_offset(b));
  plan = collapse(plan, 2);
  cl_mem table = nullptr;
  if (rma_status st = plan_table(ctx, plan, kOp, &table, err)) return st;
  cl_kernel kern = nullptr;
  if (rma_status st = get_kernel(ctx.dev, "binary/binary", plan_kernel("binary", plan).c_str(),
                                 "-DKIND=" + std::to_string(k) + numeric_option("DTYPE", a.dtype) +
                                     numeric_option("OUT", y.dtype),
                                 &kern, err)) {
    if (table) clReleaseMemObject(table);
    return st;
  }
  ArgSetter set(kern);
  set(mem_of(a));
  set_plan_operand(set, plan, 0);
  set(mem_of(b));
  set_plan_operand(set, plan, 1);
  set(mem_of(y))(elem_offset(y));
  return launch_plan(ctx, kern, set, kOp, plan, table, err);
}

RMA_OPENCL_REGISTER_OP(RMA_OP_BINARY, supported, run);

}  // namespace rma::opencl
