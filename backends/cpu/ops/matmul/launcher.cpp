// cpu matmul: numpy matmul a[..., M, K] . b[..., K, N] with batch
// broadcasting (docs/ops.md "matmul"), f32/f16/bf16 accumulated in f32.
// Each batch is one call of the shared GEMM (common/gemm): a as [M, K]
// k-contiguous, b as stored [K, N] (or k-contiguous when N = 1). Small
// batches run one per thread; large ones one at a time, each parallel.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "common/cpu_op.h"
#include "common/gemm/gemm.h"
#include "common/nd_loop.h"
#include "ops/matmul/config.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "matmul";

// The call seen as a batch of GEMMs.
struct Batched {
  int64_t m, n, k;
  int nb = 0;                                    // batch dims (y's leading dims)
  std::array<int64_t, RMA_MAX_DIMS> a_stride{};  // per batch dim, in elements (0: broadcast)
  std::array<int64_t, RMA_MAX_DIMS> b_stride{};
  int64_t batches = 1;
};

// A 1-D a is a row [1, K]; a 1-D b a column [K, 1].
bool describe(const rma_op_call& call, Batched& g) {
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  if (a.ndim < 1 || b.ndim < 1) return false;
  g.m = a.ndim == 1 ? 1 : a.shape[a.ndim - 2];
  g.k = a.shape[a.ndim - 1];
  g.n = b.ndim == 1 ? 1 : b.shape[b.ndim - 1];
  if ((b.ndim == 1 ? b.shape[0] : b.shape[b.ndim - 2]) != g.k) return false;
  g.nb = y.ndim - (a.ndim >= 2) - (b.ndim >= 2);
  if (g.nb < std::max(a.ndim, b.ndim) - 2) return false;
  if (a.ndim >= 2 && y.shape[g.nb] != g.m) return false;
  if (b.ndim >= 2 && y.shape[y.ndim - 1] != g.n) return false;
  // Batch strides: each operand's batch dims broadcast against y's.
  for (int pass = 0; pass < 2; ++pass) {
    const rma_tensor& t = pass ? b : a;
    const int t_nb = std::max(0, t.ndim - 2);
    int64_t stride = pass ? g.k * g.n : g.m * g.k;
    auto& s = pass ? g.b_stride : g.a_stride;
    for (int i = t_nb - 1, o = g.nb - 1; i >= 0; --i, --o) {
      if (t.shape[i] != 1 && t.shape[i] != y.shape[o]) return false;
      s[o] = t.shape[i] == 1 ? 0 : stride;
      stride *= t.shape[i];
    }
  }
  for (int d = 0; d < g.nb; ++d) g.batches *= y.shape[d];
  return true;
}

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 2 || call.num_outputs < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: expected inputs a, b and output y", kOp);
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  if (!is_float_dtype(a.dtype) || b.dtype != a.dtype || y.dtype != a.dtype)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: a, b, y must share one float dtype", kOp);
  Batched g;
  if (!describe(call, g))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: shapes of a (%d-D), b (%d-D) and y (%d-D) do not match numpy matmul", kOp,
                a.ndim, b.ndim, y.ndim);
  if (!is_dense(a) || !is_dense(b) || !is_dense(y))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: the cpu runs dense tensors only", kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  Batched g;
  describe(call, g);
  const int64_t es = bytes_for(dtype_of(y), 1);
  if (numel(y) == 0) return RMA_STATUS_OK;
  if (g.k == 0) {  // empty sums
    std::memset(data<void>(y), 0, static_cast<size_t>(numel(y) * es));
    return RMA_STATUS_OK;
  }
  // Batch bi: its operands' offsets from its index, then one GEMM (gemv
  // takes few rows and hands the rest to the blocked gemm).
  auto run_batch = [&](ThreadPool& pool, int64_t bi) {
    int64_t off_a = 0, off_b = 0, rest = bi;
    for (int d = g.nb - 1; d >= 0; --d) {
      const int64_t idx = rest % y.shape[d];
      rest /= y.shape[d];
      off_a += idx * g.a_stride[d];
      off_b += idx * g.b_stride[d];
    }
    GemmArgs args;
    args.m = g.m;
    args.n = g.n;
    args.k = g.k;
    args.a = {data<const uint8_t>(a) + off_a * es, a.dtype, g.k, true};
    // b is stored [K, N]; a single column is also k-contiguous, the GEMV's
    // faster layout.
    args.b = {data<const uint8_t>(b) + off_b * es, b.dtype, g.n == 1 ? g.k : g.n, g.n == 1};
    args.y = data<uint8_t>(y) + bi * g.m * g.n * es;
    args.y_dtype = y.dtype;
    args.ldy = g.n;
    return gemv(pool, args);
  };
  bool ok = true;
  if (g.batches > 1 && g.batches >= ctx.pool.size() &&
      g.m * g.n * g.k <= matmul_config::kPerThreadBatchMaxMacs) {
    std::atomic<bool> all{true};
    ctx.pool.parallel_for(g.batches, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t bi = b0; bi < b1; ++bi)
        if (!run_batch(ctx.pool, bi)) all = false;  // nested: each GEMM runs serially
    });
    ok = all;
  } else {
    for (int64_t bi = 0; bi < g.batches && ok; ++bi) ok = run_batch(ctx.pool, bi);
  }
  if (!ok)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY,
                "%s: no memory for the GEMM scratch (M = %lld, N = %lld, K = %lld)", kOp,
                static_cast<long long>(g.m), static_cast<long long>(g.n),
                static_cast<long long>(g.k));
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_MATMUL, supported, run);

}  // namespace rma::cpu
