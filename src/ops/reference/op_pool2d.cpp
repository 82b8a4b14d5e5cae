// pool2d: max or average over each window of each (n, c) plane,
// docs/ops.md "pool2d". Padding never wins a max; an average divides by the
// taps inside x, or with count_include_pad by the taps inside the padded
// plane (a ceil_mode window may reach past it).
#include <algorithm>
#include <limits>

#include "ops/reference/reference.h"

namespace rma::reference {

void pool2d(const rma_op_call& call) {
  const auto& a = *static_cast<const rma_pool2d_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const std::vector<float> xv = read_floats(x);
  const int64_t planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t oh = y.shape[2], ow = y.shape[3];
  const bool max = a.kind == RMA_POOL_MAX;

  std::vector<float> out(static_cast<size_t>(numel(y)));
  size_t o = 0;
  for (int64_t plane = 0; plane < planes; ++plane) {
    const float* xp = xv.data() + plane * h * w;
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        double best = -std::numeric_limits<double>::infinity(), sum = 0;
        int64_t inside = 0, inside_padded = 0;
        for (int64_t p = 0; p < a.kernel[0]; ++p) {
          const int64_t hi = i * a.stride[0] - a.pad[0] + p * a.dilation[0];
          for (int64_t q = 0; q < a.kernel[1]; ++q) {
            const int64_t wi = j * a.stride[1] - a.pad[1] + q * a.dilation[1];
            if (hi < h + a.pad[2] && wi < w + a.pad[3]) ++inside_padded;
            if (hi < 0 || hi >= h || wi < 0 || wi >= w) continue;
            const double v = xp[hi * w + wi];
            best = std::max(best, v);
            sum += v;
            ++inside;
          }
        }
        const int64_t count = a.count_include_pad ? inside_padded : inside;
        out[o++] = static_cast<float>(max ? best : count > 0 ? sum / double(count) : 0.0);
      }
  }
  write_floats(y, out);
}

}  // namespace rma::reference
