// sample: repetition penalty, greedy or temperature / top-k / top-p / min-p
// sampling with the counter-based RNG of docs/ops.md "sample". Every backend
// must pick the same tokens, so the steps run exactly in the documented order.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "ops/reference/reference.h"

namespace rma::reference {
namespace {

constexpr const char* kOp = "sample";

// uniform(seed, b) in [0, 1): splitmix64's mixer over seed + golden * (b + 1),
// keeping the top 24 bits so the value is exact in f32 too.
double uniform(uint64_t seed, int64_t b) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 40) * 0x1p-24;
}

int64_t sample_row(std::vector<float>& l, const rma_sample_attrs& attrs, int64_t b) {
  const int64_t vocab = static_cast<int64_t>(l.size());
  if (attrs.temperature <= 0.f) {  // greedy: first maximum
    int64_t best = 0;
    for (int64_t i = 1; i < vocab; ++i)
      if (l[i] > l[best]) best = i;
    return best;
  }
  for (float& v : l) v /= attrs.temperature;

  // Candidates by logit, descending; the stable sort of ascending ids keeps
  // the lower id first on ties.
  std::vector<int64_t> cand(static_cast<size_t>(vocab));
  std::iota(cand.begin(), cand.end(), int64_t{0});
  std::stable_sort(cand.begin(), cand.end(), [&](int64_t a, int64_t c) { return l[a] > l[c]; });
  if (attrs.top_k > 0 && attrs.top_k < vocab) cand.resize(static_cast<size_t>(attrs.top_k));

  // Softmax over the candidates, max (the first) subtracted. Equal logits
  // give 1 even when infinite, so a row of -inf stays uniform, not NaN.
  const float top = l[cand[0]];
  std::vector<double> e(cand.size());
  double sum = 0;
  for (size_t n = 0; n < cand.size(); ++n) {
    const float v = l[cand[n]];
    sum += e[n] = v == top ? 1.0 : std::exp(double(v - top));
  }
  std::vector<float> prob(cand.size());
  for (size_t n = 0; n < cand.size(); ++n) prob[n] = static_cast<float>(e[n] / sum);

  size_t kept = prob.size();
  if (attrs.top_p < 1.f) {  // shortest prefix reaching top_p, at least one
    double cum = 0;
    for (size_t n = 0; n < prob.size(); ++n) {
      cum += prob[n];
      if (cum >= attrs.top_p) {
        kept = n + 1;
        break;
      }
    }
  }
  // The first candidate always stays (it survives min_p <= 1 anyway).
  std::vector<size_t> keep = {0};  // indices into cand
  for (size_t n = 1; n < kept; ++n)
    if (!(attrs.min_p > 0.f && prob[n] < attrs.min_p * prob[0])) keep.push_back(n);

  double kept_sum = 0;
  for (size_t n : keep) kept_sum += prob[n];
  const double target = uniform(attrs.seed, b) * kept_sum;
  double cum = 0;
  for (size_t n : keep) {
    cum += prob[n];
    if (cum > target) return cand[n];
  }
  return cand[keep.back()];
}

}  // namespace

void sample(const rma_op_call& call) {
  const rma_tensor& logits = call.inputs[0];
  const bool has_prev = call.num_inputs > 1 && present(call.inputs[1]);
  const auto& attrs = *static_cast<const rma_sample_attrs*>(call.attrs);
  const int64_t batch = logits.shape[0], vocab = logits.shape[1];
  if (batch > 0 && vocab == 0)
    throw Error(ErrorCode::kInvalidArgument, "logits have an empty vocabulary (V = 0)", kOp);

  const std::vector<float> lv = read_floats(logits);
  const std::vector<int64_t> prev = has_prev ? read_ints(call.inputs[1]) : std::vector<int64_t>{};
  const int64_t prev_len = has_prev ? call.inputs[1].shape[1] : 0;

  std::vector<int64_t> ids(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<float> l(lv.begin() + b * vocab, lv.begin() + (b + 1) * vocab);
    // NaN would make the ordering meaningless; it ranks below every logit.
    for (float& v : l)
      if (std::isnan(v)) v = -INFINITY;

    if (attrs.repetition_penalty != 1.f) {
      std::set<int64_t> seen;  // each distinct token is penalised once
      for (int64_t j = 0; j < prev_len; ++j) {
        const int64_t t = prev[b * prev_len + j];
        if (t < 0) continue;  // padding
        if (t >= vocab)
          throw Error(ErrorCode::kInvalidArgument,
                      "prev_tokens[" + std::to_string(b) + ", " + std::to_string(j) +
                          "] = " + std::to_string(t) + " is outside the vocabulary [0, " +
                          std::to_string(vocab) + ")",
                      kOp);
        seen.insert(t);
      }
      const float p = attrs.repetition_penalty;
      for (int64_t t : seen) l[t] = l[t] > 0.f ? l[t] / p : l[t] * p;
    }
    ids[b] = sample_row(l, attrs, b);
  }
  write_ints(call.outputs[0], ids);
}

}  // namespace rma::reference
