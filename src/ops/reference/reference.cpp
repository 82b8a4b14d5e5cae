#include "ops/reference/reference.h"

#include <cmath>
#include <cstring>

#include "rma/half.h"
#include "rma/ops.h"
#include "rma/quant.h"

namespace rma::reference {

int64_t numel(const rma_tensor& t) {
  int64_t n = 1;
  for (int i = 0; i < t.ndim; ++i) n *= t.shape[i];
  return n;
}

std::vector<float> read_floats(const rma_tensor& t) {
  const int64_t n = numel(t);
  std::vector<float> out(n);
  const uint8_t* p = bytes(t);
  switch (dtype_of(t)) {
    case DType::kF32:
      if (n > 0) std::memcpy(out.data(), p, n * 4);
      break;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(reinterpret_cast<const uint16_t*>(p)[i]);
      break;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(reinterpret_cast<const uint16_t*>(p)[i]);
      break;
    default:
      if (is_quantized(dtype_of(t))) {
        if (n > 0) dequantize_row(dtype_of(t), p, out.data(), n);
      } else {
        const std::vector<int64_t> ints = read_ints(t);
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(ints[i]);
      }
  }
  return out;
}

std::vector<int64_t> read_ints(const rma_tensor& t) {
  const int64_t n = numel(t);
  std::vector<int64_t> out(n);
  const uint8_t* p = bytes(t);
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype_of(t)) {
      case DType::kI8:
        out[i] = reinterpret_cast<const int8_t*>(p)[i];
        break;
      case DType::kBool:
        out[i] = p[i] != 0;
        break;
      case DType::kI32:
        out[i] = reinterpret_cast<const int32_t*>(p)[i];
        break;
      case DType::kI64:
        out[i] = reinterpret_cast<const int64_t*>(p)[i];
        break;
      default:
        throw Error(ErrorCode::kInternal, "read_ints on a non-integer tensor");
    }
  }
  return out;
}

void write_floats(const rma_tensor& t, const std::vector<float>& v) {
  uint8_t* p = bytes(t);
  const int64_t n = numel(t);
  switch (dtype_of(t)) {
    case DType::kF32:
      if (n > 0) std::memcpy(p, v.data(), n * 4);
      break;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(p)[i] = f32_to_f16(v[i]);
      break;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(p)[i] = f32_to_bf16(v[i]);
      break;
    default: {
      std::vector<int64_t> ints(n);
      for (int64_t i = 0; i < n; ++i) ints[i] = static_cast<int64_t>(std::llround(v[i]));
      write_ints(t, ints);
    }
  }
}

void write_ints(const rma_tensor& t, const std::vector<int64_t>& v) {
  uint8_t* p = bytes(t);
  const int64_t n = numel(t);
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype_of(t)) {
      case DType::kI8:
        reinterpret_cast<int8_t*>(p)[i] = static_cast<int8_t>(v[i]);
        break;
      case DType::kBool:
        p[i] = v[i] != 0;
        break;
      case DType::kI32:
        reinterpret_cast<int32_t*>(p)[i] = static_cast<int32_t>(v[i]);
        break;
      case DType::kI64:
        reinterpret_cast<int64_t*>(p)[i] = v[i];
        break;
      case DType::kF32:
        reinterpret_cast<float*>(p)[i] = static_cast<float>(v[i]);
        break;
      default:
        throw Error(ErrorCode::kInternal, "write_ints on an unsupported dtype");
    }
  }
}

std::vector<int64_t> dense_strides(const rma_tensor& t) {
  std::vector<int64_t> s(static_cast<size_t>(t.ndim), 1);
  for (int d = t.ndim - 2; d >= 0; --d) s[d] = s[d + 1] * t.shape[d + 1];
  return s;
}

std::vector<int64_t> broadcast_index(const rma_tensor& in, const rma_tensor& out) {
  // in's strides seen from out's dims: aligned at the back, 0 where in is
  // broadcast (size 1 or missing).
  std::vector<int64_t> stride(static_cast<size_t>(out.ndim), 0);
  const std::vector<int64_t> in_strides = dense_strides(in);
  for (int i = 0; i < in.ndim; ++i)
    if (in.shape[i] != 1) stride[out.ndim - in.ndim + i] = in_strides[i];
  std::vector<int64_t> index;
  index.reserve(static_cast<size_t>(numel(out)));
  for_each_index(out, [&](const std::vector<int64_t>& idx) {
    int64_t flat = 0;
    for (int d = 0; d < out.ndim; ++d) flat += idx[d] * stride[d];
    index.push_back(flat);
  });
  return index;
}

void copy_element(const rma_tensor& src, int64_t from, const rma_tensor& dst, int64_t to) {
  const int64_t es = elem_bytes(src);
  std::memcpy(bytes(dst) + to * es, bytes(src) + from * es, static_cast<size_t>(es));
}

void run(const rma_op_call& call) {
  using Fn = void (*)(const rma_op_call&);
  static constexpr Fn kFns[RMA_OP_COUNT] = {
      linear,
      quant_linear,
      rms_norm,
      add_rms_norm,
      layer_norm,
      rope,
      fill_kv_cache,
      prefill_attention,
      paged_decode_attention,
      silu_and_mul,
      gelu_and_mul,
      embedding,
      moe_gating_topk_softmax,
      sample,
      softmax,
      add,
      mul,
      unary,
      binary,
      matmul,
      reduce,
      cast,
      where,
      gather,
      concat,
      slice,
      transpose,
      expand,
      conv2d,
      pool2d,
  };
  if (call.op < 0 || call.op >= RMA_OP_COUNT)
    throw Error(ErrorCode::kInvalidArgument, "unknown op id " + std::to_string(call.op));
  kFns[call.op](call);
}

}  // namespace rma::reference
