// opencl gather: y = data[..., indices[...], ...] along an axis, for any
// non-quantized dtype with i32 or i64 indices (docs/ops.md "gather").
// Indices are read back and checked on the host first: one outside
// [-n, n) is an error naming it and its position, as in the reference.
#include <string>
#include <vector>

#include "common/tier2.h"
#include "ops/gather/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "gather";

rma_status supported(const ClDevice&, const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_gather_call(kOp, call, err)) return st;
  const rma_tensor &data = call.inputs[0], &idx = call.inputs[1], &y = call.outputs[0];
  if (!is_dense(data) || !is_dense(idx) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const int axis = static_cast<const rma_axis_attrs*>(call.attrs)->axis;
  const rma_tensor &data = call.inputs[0], &idx = call.inputs[1], &y = call.outputs[0];
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= data.shape[d];
  for (int d = axis + 1; d < data.ndim; ++d) inner *= data.shape[d];
  const int64_t n = data.shape[axis], count = numel(idx);
  std::vector<int64_t> indices;
  if (rma_status st = read_ints(ctx, idx, kOp, "indices", &indices, err)) return st;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t v = indices[size_t(i)];
    if (v < -n || v >= n)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                  "%s: index %lld at position %lld of indices is outside [-%lld, %lld) for axis "
                  "%d of data",
                  kOp, static_cast<long long>(v), static_cast<long long>(i),
                  static_cast<long long>(n), static_cast<long long>(n), axis);
  }
  if (numel(y) == 0) return RMA_STATUS_OK;
  cl_kernel k = nullptr;
  const std::string options =
      element_option(data.dtype) + (idx.dtype == RMA_DTYPE_I64 ? " -DIDX=long" : " -DIDX=int");
  if (rma_status st = get_kernel(ctx.dev, "gather/gather", "gather", options, &k, err)) return st;
  const cl_long pairs = outer * count;
  ArgSetter set(k);
  set(mem_of(data))(elem_offset(data))(mem_of(idx))(elem_offset(idx))(mem_of(y))(elem_offset(y))(
      cl_long(n))(cl_long(count))(cl_long(inner))(pairs);
  const size_t global[2] = {size_t(inner), size_t(pairs)};
  return launch(ctx, k, kOp, set.status(), 2, global, nullptr, err);
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_GATHER, supported, run);

}  // namespace rma::opencl
