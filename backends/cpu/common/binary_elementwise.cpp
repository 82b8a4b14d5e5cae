#include "common/binary_elementwise.h"

namespace rma::cpu {
namespace {

// Broadcast strides (in elements) of `t` against an output of `ndim` dims.
std::vector<int64_t> broadcast_strides(const rma_tensor& t, const rma_tensor& y) {
  std::vector<int64_t> s(y.ndim, 0);
  int64_t stride = 1;
  for (int i = t.ndim - 1, o = y.ndim - 1; i >= 0; --i, --o) {
    s[o] = t.shape[i] == 1 ? 0 : stride;
    stride *= t.shape[i];
  }
  return s;
}

constexpr int64_t kChunk = 1024;  // elements converted per step for f16/bf16

}  // namespace

rma_status binary_supported(const rma_op_call& call, rma_error* err, const char* name) {
  if (call.num_inputs < 2 || call.num_outputs < 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: needs inputs a, b and output y", name);
  const auto& a = call.inputs[0];
  const auto& b = call.inputs[1];
  const auto& y = call.outputs[0];
  if (!is_float_dtype(a.dtype) || a.dtype != b.dtype || a.dtype != y.dtype)
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: cpu runs f32/f16/bf16 with one dtype", name);
  return RMA_STATUS_OK;
}

rma_status binary_run(const Context& ctx, const rma_op_call& call, BinaryRowKernel kernel) {
  const rma_tensor& a = call.inputs[0];
  const rma_tensor& b = call.inputs[1];
  const rma_tensor& y = call.outputs[0];
  const int64_t n = numel(y);
  if (n == 0) return RMA_STATUS_OK;
  const int nd = y.ndim;
  const int64_t inner = nd ? y.shape[nd - 1] : 1;
  const int64_t nrows = n / inner;
  const auto sa = broadcast_strides(a, y);
  const auto sb = broadcast_strides(b, y);
  const int a_step = nd ? static_cast<int>(sa[nd - 1] != 0) : 0;
  const int b_step = nd ? static_cast<int>(sb[nd - 1] != 0) : 0;
  const int32_t dt = y.dtype;
  const int64_t esize = dt == RMA_DTYPE_F32 ? 4 : 2;

  ctx.pool.parallel_for(nrows, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)),
                        [&](int64_t r0, int64_t r1) {
    std::vector<float> fa, fb, fy;
    if (dt != RMA_DTYPE_F32) {
      fa.resize(kChunk);
      fb.resize(kChunk);
      fy.resize(kChunk);
    }
    for (int64_t r = r0; r < r1; ++r) {
      // Offsets of this row's first element in a and b.
      int64_t rem = r, oa = 0, ob = 0;
      for (int d = nd - 2; d >= 0; --d) {
        const int64_t idx = rem % y.shape[d];
        rem /= y.shape[d];
        oa += idx * sa[d];
        ob += idx * sb[d];
      }
      const uint8_t* pa = data<const uint8_t>(a) + oa * esize;
      const uint8_t* pb = data<const uint8_t>(b) + ob * esize;
      uint8_t* py = data<uint8_t>(y) + r * inner * esize;
      if (dt == RMA_DTYPE_F32) {
        kernel(reinterpret_cast<const float*>(pa), a_step, reinterpret_cast<const float*>(pb),
               b_step, reinterpret_cast<float*>(py), inner);
        continue;
      }
      for (int64_t c = 0; c < inner; c += kChunk) {
        const int64_t m = std::min(kChunk, inner - c);
        load_f32(dt, pa + c * a_step * esize, fa.data(), a_step ? m : 1);
        load_f32(dt, pb + c * b_step * esize, fb.data(), b_step ? m : 1);
        kernel(fa.data(), a_step, fb.data(), b_step, fy.data(), m);
        store_f32(dt, fy.data(), py + c * esize, m);
      }
    }
  });
  return RMA_STATUS_OK;
}

}  // namespace rma::cpu
