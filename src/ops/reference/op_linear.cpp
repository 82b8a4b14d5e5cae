// linear: y = act(alpha * opA(x) . opB(w) + bias), docs/ops.md "linear".
#include <cmath>
#include <numbers>

#include "ops/reference/reference.h"

namespace rma::reference {
namespace {

double activate(int32_t act, double v, double param) {
  switch (act) {
    case RMA_ACT_NONE: return v;
    case RMA_ACT_RELU: return v > 0 ? v : 0.0;
    case RMA_ACT_LEAKY_RELU: return v > 0 ? v : param * v;
    case RMA_ACT_GELU: return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    case RMA_ACT_GELU_TANH: {
      const double c = std::sqrt(2.0 / std::numbers::pi);
      return 0.5 * v * (1.0 + std::tanh(c * (v + 0.044715 * v * v * v)));
    }
    case RMA_ACT_SILU: return v / (1.0 + std::exp(-v));
    case RMA_ACT_SIGMOID: return 1.0 / (1.0 + std::exp(-v));
    case RMA_ACT_TANH: return std::tanh(v);
    default:
      throw Error(ErrorCode::kInvalidArgument, "unknown activation " + std::to_string(act),
                  "linear");
  }
}

}  // namespace

// Also serves quant_linear: read_floats dequantizes a block-quantized w
// exactly as dequantize_row does, and quant_linear's schema pins
// trans_a = 0, trans_b = 1.
void linear(const rma_op_call& call) {
  const rma_tensor& x = call.inputs[0];
  const rma_tensor& w = call.inputs[1];
  const bool has_bias = call.num_inputs > 2 && present(call.inputs[2]);
  const rma_tensor& y = call.outputs[0];
  const auto& attrs = *static_cast<const rma_linear_attrs*>(call.attrs);

  // w is [N,K] with trans_b, else [K,N].
  const int64_t n_out = attrs.trans_b ? w.shape[0] : w.shape[1];
  const int64_t k_in = attrs.trans_b ? w.shape[1] : w.shape[0];
  // Rows of y: x is [K,T] with trans_a, else [..., K] flattened.
  const int64_t rows = n_out > 0 ? numel(y) / n_out : 0;

  const std::vector<float> xv = read_floats(x);
  const std::vector<float> wv = read_floats(w);
  const std::vector<float> bv = has_bias ? read_floats(call.inputs[2]) : std::vector<float>{};

  std::vector<float> out(static_cast<size_t>(rows * n_out));
  for (int64_t t = 0; t < rows; ++t) {
    for (int64_t n = 0; n < n_out; ++n) {
      double acc = 0;
      for (int64_t k = 0; k < k_in; ++k) {
        const double a = attrs.trans_a ? xv[k * rows + t] : xv[t * k_in + k];
        const double b = attrs.trans_b ? wv[n * k_in + k] : wv[k * n_out + n];
        acc += a * b;
      }
      double v = double(attrs.alpha) * acc + (has_bias ? double(bv[n]) : 0.0);
      out[t * n_out + n] =
          static_cast<float>(activate(attrs.activation, v, attrs.activation_param));
    }
  }
  write_floats(y, out);
}

}  // namespace rma::reference
