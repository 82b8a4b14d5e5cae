// moe_gating_topk_softmax: per row, softmax over experts then the k largest
// probabilities (ties: lower expert id first), docs/ops.md.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "ops/reference/reference.h"

namespace rma::reference {

void moe_gating_topk_softmax(const rma_op_call& call) {
  const rma_tensor& logits = call.inputs[0];
  const auto& attrs = *static_cast<const rma_moe_gating_attrs*>(call.attrs);
  const int64_t tokens = logits.shape[0], experts = logits.shape[1];
  const int64_t k = std::min<int64_t>(attrs.k, experts);
  const std::vector<float> lv = read_floats(logits);

  std::vector<float> weights(static_cast<size_t>(tokens * attrs.k), 0.f);
  std::vector<int64_t> ids(static_cast<size_t>(tokens * attrs.k), 0);
  std::vector<double> p(static_cast<size_t>(experts));
  std::vector<int64_t> order(static_cast<size_t>(experts));
  for (int64_t t = 0; t < tokens && experts > 0; ++t) {
    const float* row = lv.data() + t * experts;
    const double max_v = *std::max_element(row, row + experts);
    double sum = 0;
    for (int64_t e = 0; e < experts; ++e) sum += p[e] = std::exp(double(row[e]) - max_v);
    for (int64_t e = 0; e < experts; ++e) p[e] /= sum;

    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[a] > p[b]; });
    double kept = 0;
    for (int64_t j = 0; j < k; ++j) kept += p[order[j]];
    for (int64_t j = 0; j < k; ++j) {
      const double w = p[order[j]];
      weights[t * attrs.k + j] = static_cast<float>(attrs.renormalize ? w / kept : w);
      ids[t * attrs.k + j] = order[j];
    }
  }
  write_floats(call.outputs[0], weights);
  write_ints(call.outputs[1], ids);
}

}  // namespace rma::reference
