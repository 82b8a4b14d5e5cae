// conv2d: y = act(cross-correlation(x, w) + bias), docs/ops.md "conv2d".
// Direct loops over every output and every window tap, summed in double.
#include <cmath>
#include <numbers>

#include "ops/reference/reference.h"

namespace rma::reference {
namespace {

// The rma_activation epilogue, as linear's reference applies it.
double activate(int32_t act, double v, double param) {
  switch (act) {
    case RMA_ACT_NONE:
      return v;
    case RMA_ACT_RELU:
      return v > 0 ? v : 0.0;
    case RMA_ACT_LEAKY_RELU:
      return v > 0 ? v : param * v;
    case RMA_ACT_GELU:
      return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    case RMA_ACT_GELU_TANH: {
      const double c = std::sqrt(2.0 / std::numbers::pi);
      return 0.5 * v * (1.0 + std::tanh(c * (v + 0.044715 * v * v * v)));
    }
    case RMA_ACT_SILU:
      return v / (1.0 + std::exp(-v));
    case RMA_ACT_SIGMOID:
      return 1.0 / (1.0 + std::exp(-v));
    case RMA_ACT_TANH:
      return std::tanh(v);
    default:
      throw Error(ErrorCode::kInvalidArgument, "unknown activation " + std::to_string(act),
                  "conv2d");
  }
}

}  // namespace

void conv2d(const rma_op_call& call) {
  const auto& a = *static_cast<const rma_conv2d_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &w = call.inputs[1], &y = call.outputs[0];
  const bool has_bias = call.num_inputs > 2 && present(call.inputs[2]);
  const std::vector<float> xv = read_floats(x), wv = read_floats(w);
  const std::vector<float> bv = has_bias ? read_floats(call.inputs[2]) : std::vector<float>{};

  const int64_t batch = x.shape[0], channels = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const int64_t filters = w.shape[0], group_channels = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  const int64_t oh = y.shape[2], ow = y.shape[3];
  const int64_t group_filters = filters / a.group;

  std::vector<float> out(static_cast<size_t>(numel(y)));
  size_t o = 0;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t m = 0; m < filters; ++m) {
      const int64_t c0 = (m / group_filters) * group_channels;  // this group's first channel
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = 0;
          for (int64_t c = 0; c < group_channels; ++c)
            for (int64_t p = 0; p < kh; ++p) {
              const int64_t hi = i * a.stride[0] - a.pad[0] + p * a.dilation[0];
              if (hi < 0 || hi >= h) continue;
              for (int64_t q = 0; q < kw; ++q) {
                const int64_t wi = j * a.stride[1] - a.pad[1] + q * a.dilation[1];
                if (wi < 0 || wi >= wd) continue;
                acc += double(xv[((n * channels + c0 + c) * h + hi) * wd + wi]) *
                       double(wv[((m * group_channels + c) * kh + p) * kw + q]);
              }
            }
          if (has_bias) acc += bv[m];
          out[o++] = static_cast<float>(activate(a.activation, acc, a.activation_param));
        }
    }
  write_floats(y, out);
}

}  // namespace rma::reference
