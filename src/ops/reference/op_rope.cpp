// rope: rotary position embedding of q and k, docs/ops.md "rope".
#include <cmath>
#include <numbers>

#include "ops/reference/reference.h"

namespace rma::reference {
namespace {

// inv_freq[i] for i in [0, r/2), scaling applied, rounded to f32 as every
// backend holds it.
std::vector<float> inverse_frequencies(const rma_rope_attrs& a, int64_t r) {
  std::vector<float> inv(static_cast<size_t>(r / 2));
  for (int64_t i = 0; i < r / 2; ++i) {
    double f = std::pow(double(a.theta), -2.0 * double(i) / double(r));
    if (a.scaling == RMA_ROPE_SCALING_LINEAR) {
      f /= a.factor;
    } else if (a.scaling == RMA_ROPE_SCALING_LLAMA3) {
      // As Hugging Face's _compute_llama3_parameters: high frequencies kept,
      // low ones divided by factor, a smooth blend in between.
      const double wavelen = 2.0 * std::numbers::pi / f;
      const double lo = double(a.original_max_position) / a.low_freq_factor;
      const double hi = double(a.original_max_position) / a.high_freq_factor;
      if (wavelen < hi) {
        // keep
      } else if (wavelen > lo) {
        f /= a.factor;
      } else {
        const double s = (double(a.original_max_position) / wavelen - a.low_freq_factor) /
                         (double(a.high_freq_factor) - a.low_freq_factor);
        f = (1.0 - s) * f / a.factor + s * f;
      }
    } else if (a.scaling != RMA_ROPE_SCALING_NONE) {
      throw Error(ErrorCode::kInvalidArgument,
                  "rope scaling " + std::to_string(a.scaling) + " is not supported", "rope");
    }
    inv[i] = static_cast<float>(f);
  }
  return inv;
}

// Rotates every head of a [T, H, D] tensor in place.
void rotate(std::vector<float>& x, int64_t tokens, int64_t heads, int64_t d, int64_t r,
            int32_t style, const std::vector<int64_t>& positions, const std::vector<float>& inv) {
  const int64_t half = r / 2;
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const double a = double(positions[t]) * double(inv[i]);
      const double c = std::cos(a), s = std::sin(a);
      // neox pairs (i, i + r/2); gptj pairs (2i, 2i + 1).
      const int64_t i0 = style == RMA_ROPE_GPTJ ? 2 * i : i;
      const int64_t i1 = style == RMA_ROPE_GPTJ ? 2 * i + 1 : i + half;
      for (int64_t h = 0; h < heads; ++h) {
        float* v = x.data() + (t * heads + h) * d;
        const double x0 = v[i0], x1 = v[i1];
        v[i0] = static_cast<float>(x0 * c - x1 * s);
        v[i1] = static_cast<float>(x1 * c + x0 * s);
      }
    }
  }
}

}  // namespace

void rope(const rma_op_call& call) {
  const rma_tensor& q = call.inputs[0];
  const rma_tensor& k = call.inputs[1];
  const auto& attrs = *static_cast<const rma_rope_attrs*>(call.attrs);
  const int64_t tokens = q.shape[0];
  const int64_t d = q.shape[2];
  const int64_t r = attrs.rotary_dim == 0 ? d : attrs.rotary_dim;

  // Everything is read before anything is written: outputs may alias inputs.
  std::vector<float> qv = read_floats(q);
  std::vector<float> kv = read_floats(k);
  const std::vector<int64_t> positions = read_ints(call.inputs[2]);
  const std::vector<float> inv = inverse_frequencies(attrs, r);

  rotate(qv, tokens, q.shape[1], d, r, attrs.style, positions, inv);
  rotate(kv, tokens, k.shape[1], k.shape[2], r, attrs.style, positions, inv);
  write_floats(call.outputs[0], qv);
  write_floats(call.outputs[1], kv);
}

}  // namespace rma::reference
