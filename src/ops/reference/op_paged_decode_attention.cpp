// paged_decode_attention: one query per sequence against a paged KV cache,
// docs/ops.md "paged_decode_attention".
#include <algorithm>
#include <cmath>

#include "ops/reference/reference.h"

namespace rma::reference {

void paged_decode_attention(const rma_op_call& call) {
  constexpr const char* kOp = "paged_decode_attention";
  const rma_tensor& q = call.inputs[0];
  const rma_tensor& k_cache = call.inputs[1];
  const rma_tensor& v_cache = call.inputs[2];
  const rma_tensor& block_table = call.inputs[3];
  const bool has_alibi = call.num_inputs > 5 && present(call.inputs[5]);
  const auto& attrs = *static_cast<const rma_attention_attrs*>(call.attrs);
  const int64_t batch = q.shape[0], hq = q.shape[1], d = q.shape[2];
  const int64_t num_blocks = k_cache.shape[0], block_size = k_cache.shape[1];
  const int64_t hkv = k_cache.shape[2], dv = v_cache.shape[3];
  const int64_t max_blocks = block_table.shape[1];
  const int64_t group = hkv > 0 ? hq / hkv : 1;  // query heads per kv head

  const std::vector<int64_t> table = read_ints(block_table);
  const std::vector<int64_t> lens = read_ints(call.inputs[4]);
  const std::vector<float> qv = read_floats(q);
  const std::vector<float> kv = read_floats(k_cache);
  const std::vector<float> vv = read_floats(v_cache);
  const std::vector<float> slopes = has_alibi ? read_floats(call.inputs[5]) : std::vector<float>{};
  std::vector<float> out(static_cast<size_t>(batch * hq * dv), 0.f);

  std::vector<int64_t> rows;  // cache row (block * block_size + offset) of each attended key
  std::vector<double> scores, acc(static_cast<size_t>(dv));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = lens[b];
    if (len < 0 || len > max_blocks * block_size)
      throw Error(ErrorCode::kInvalidArgument,
                  "context_lens[" + std::to_string(b) + "] = " + std::to_string(len) +
                      " is outside [0, " + std::to_string(max_blocks * block_size) +
                      "] (max_blocks * block_size)",
                  kOp);
    // Keys attended by the query at position len - 1; only their blocks are
    // looked up (a sliding window may leave earlier table entries unused).
    std::vector<int64_t> keys;
    rows.clear();
    for (int64_t j = 0; j < len; ++j) {
      if (attrs.sliding_window > 0 && len - 1 - j >= attrs.sliding_window) continue;
      const int64_t entry = b * max_blocks + j / block_size;
      const int64_t block = table[entry];
      if (block < 0 || block >= num_blocks)
        throw Error(ErrorCode::kInvalidArgument,
                    "block_table[" + std::to_string(b) + ", " + std::to_string(j / block_size) +
                        "] = " + std::to_string(block) + " is outside [0, " +
                        std::to_string(num_blocks) + ")",
                    kOp);
      keys.push_back(j);
      rows.push_back(block * block_size + j % block_size);
    }
    if (keys.empty()) continue;  // nothing attended: zeros

    for (int64_t h = 0; h < hq; ++h) {
      const int64_t g = h / group;
      const float* qrow = qv.data() + (b * hq + h) * d;
      scores.resize(keys.size());
      double max_score = -INFINITY;
      for (size_t n = 0; n < keys.size(); ++n) {
        const float* krow = kv.data() + (rows[n] * hkv + g) * d;
        double dot = 0;
        for (int64_t e = 0; e < d; ++e) dot += double(qrow[e]) * krow[e];
        double s = double(attrs.scale) * dot;
        if (has_alibi) s += double(slopes[h]) * double(keys[n] - (len - 1));
        scores[n] = s;
        max_score = std::max(max_score, s);
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      double denom = 0;
      for (size_t n = 0; n < keys.size(); ++n) {
        const double p = std::exp(scores[n] - max_score);
        denom += p;
        const float* vrow = vv.data() + (rows[n] * hkv + g) * dv;
        for (int64_t e = 0; e < dv; ++e) acc[e] += p * vrow[e];
      }
      float* orow = out.data() + (b * hq + h) * dv;
      for (int64_t e = 0; e < dv; ++e) orow[e] = static_cast<float>(acc[e] / denom);
    }
  }
  write_floats(call.outputs[0], out);
}

}  // namespace rma::reference
