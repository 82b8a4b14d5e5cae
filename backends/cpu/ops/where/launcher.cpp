// cpu where: y = cond ? a : b with numpy broadcasting (docs/ops.md
// "where"), any non-quantized dtype (elements moved as 1, 2, 4 or 8-byte
// words). The output is walked as rows (common/nd_loop.h) in which cond, a
// and b are each a row or a broadcast scalar.
#include <cstdint>

#include "common/cpu_op.h"
#include "common/nd_loop.h"
#include "ops/where/config.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "where";

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 3 || call.num_outputs < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs cond, a, b and output y",
                kOp);
  const rma_tensor &cond = call.inputs[0], &a = call.inputs[1], &b = call.inputs[2];
  const rma_tensor& y = call.outputs[0];
  if (cond.dtype != RMA_DTYPE_BOOL || !is_valid(a.dtype) || is_quantized(dtype_of(a)) ||
      b.dtype != a.dtype || y.dtype != a.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected bool cond and a, b, y of one plain dtype", kOp);
  if (!broadcasts_to(cond, y) || !broadcasts_to(a, y) || !broadcasts_to(b, y))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: cond, a, b must broadcast to y's shape",
                kOp);
  if (!is_dense(cond) || !is_dense(a) || !is_dense(b) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the cpu runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

// y[i] = c[i * cs] ? a[i * as] : b[i * bs]; steps are 0 or 1.
template <class U>
void select_row(const uint8_t* c, int64_t cs, const U* a, int64_t as, const U* b, int64_t bs, U* y,
                int64_t n) {
  if (cs && as && bs) {  // the common same-shape case: one branch-free loop
    for (int64_t i = 0; i < n; ++i) y[i] = c[i] ? a[i] : b[i];
    return;
  }
  for (int64_t i = 0; i < n; ++i) y[i] = c[i * cs] ? a[i * as] : b[i * bs];
}

template <class U>
void run_typed(const Context& ctx, const rma_op_call& call) {
  const rma_tensor &cond = call.inputs[0], &a = call.inputs[1], &b = call.inputs[2];
  const rma_tensor& y = call.outputs[0];
  const auto sy = dense_strides(y.ndim, y.shape);
  const auto sc = broadcast_strides(cond, y.ndim), sa = broadcast_strides(a, y.ndim),
             sb = broadcast_strides(b, y.ndim);
  const NdLoop<4> l = make_loop<4>(y.ndim, y.shape, {sy.data(), sc.data(), sa.data(), sb.data()});
  const int64_t cs = l.inner_stride(1), as = l.inner_stride(2), bs = l.inner_stride(3);
  parallel_rows(ctx.pool, l, where_config::kChunkElems,
                [&](const std::array<int64_t, 4>& off, int64_t c0, int64_t c1) {
                  select_row(data<const uint8_t>(cond) + off[1] + c0 * cs, cs,
                             data<const U>(a) + off[2] + c0 * as, as,
                             data<const U>(b) + off[3] + c0 * bs, bs, data<U>(y) + off[0] + c0,
                             c1 - c0);
                });
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error*) {
  const rma_tensor& y = call.outputs[0];
  if (numel(y) == 0) return RMA_STATUS_OK;
  switch (bytes_for(dtype_of(y), 1)) {
    case 1:
      run_typed<uint8_t>(ctx, call);
      break;
    case 2:
      run_typed<uint16_t>(ctx, call);
      break;
    case 4:
      run_typed<uint32_t>(ctx, call);
      break;
    default:
      run_typed<uint64_t>(ctx, call);
      break;
  }
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_WHERE, supported, run);

}  // namespace rma::cpu
