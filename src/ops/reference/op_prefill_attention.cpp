// prefill_attention: causal / sliding-window attention over packed
// sequences with GQA and optional ALiBi, docs/ops.md "prefill_attention".
#include <algorithm>
#include <cmath>

#include "ops/reference/reference.h"

namespace rma::reference {

void prefill_attention(const rma_op_call& call) {
  const rma_tensor& q = call.inputs[0];
  const rma_tensor& k = call.inputs[1];
  const rma_tensor& v = call.inputs[2];
  const bool has_alibi = call.num_inputs > 4 && present(call.inputs[4]);
  const auto& attrs = *static_cast<const rma_attention_attrs*>(call.attrs);
  const int64_t tokens = q.shape[0], hq = q.shape[1], d = q.shape[2];
  const int64_t hkv = k.shape[1], dv = v.shape[2];
  const int64_t group = hkv > 0 ? hq / hkv : 1;  // query heads per kv head

  const std::vector<int64_t> cu = read_ints(call.inputs[3]);
  const int64_t batch = static_cast<int64_t>(cu.size()) - 1;
  bool valid = batch >= 0 && cu[0] == 0 && cu[batch] == tokens;
  for (int64_t b = 0; valid && b < batch; ++b) valid = cu[b] <= cu[b + 1];
  if (!valid) {
    std::string list;
    for (size_t i = 0; i < cu.size(); ++i) list += (i ? ", " : "") + std::to_string(cu[i]);
    throw Error(ErrorCode::kInvalidArgument,
                "cu_seqlens [" + list +
                    "] must start at 0, not decrease and end at T = " + std::to_string(tokens),
                "prefill_attention");
  }

  const std::vector<float> qv = read_floats(q);
  const std::vector<float> kv = read_floats(k);
  const std::vector<float> vv = read_floats(v);
  const std::vector<float> slopes = has_alibi ? read_floats(call.inputs[4]) : std::vector<float>{};
  std::vector<float> out(static_cast<size_t>(tokens * hq * dv), 0.f);

  std::vector<int64_t> keys;  // local positions of the keys one query attends
  std::vector<double> scores, acc(static_cast<size_t>(dv));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t start = cu[b], len = cu[b + 1] - cu[b];
    for (int64_t i = 0; i < len; ++i) {
      keys.clear();
      for (int64_t j = 0; j < len; ++j) {
        if (attrs.causal && j > i) continue;
        if (attrs.sliding_window > 0 && i - j >= attrs.sliding_window) continue;
        keys.push_back(j);
      }
      if (keys.empty()) continue;  // no key attended: zeros
      for (int64_t h = 0; h < hq; ++h) {
        const int64_t g = h / group;
        const float* qrow = qv.data() + ((start + i) * hq + h) * d;
        scores.resize(keys.size());
        double max_score = -INFINITY;
        for (size_t n = 0; n < keys.size(); ++n) {
          const float* krow = kv.data() + ((start + keys[n]) * hkv + g) * d;
          double dot = 0;
          for (int64_t e = 0; e < d; ++e) dot += double(qrow[e]) * krow[e];
          double s = double(attrs.scale) * dot;
          if (has_alibi) s += double(slopes[h]) * double(keys[n] - i);
          scores[n] = s;
          max_score = std::max(max_score, s);
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        double denom = 0;
        for (size_t n = 0; n < keys.size(); ++n) {
          const double p = std::exp(scores[n] - max_score);
          denom += p;
          const float* vrow = vv.data() + ((start + keys[n]) * hkv + g) * dv;
          for (int64_t e = 0; e < dv; ++e) acc[e] += p * vrow[e];
        }
        float* orow = out.data() + ((start + i) * hq + h) * dv;
        for (int64_t e = 0; e < dv; ++e) orow[e] = static_cast<float>(acc[e] / denom);
      }
    }
  }
  write_floats(call.outputs[0], out);
}

}  // namespace rma::reference
