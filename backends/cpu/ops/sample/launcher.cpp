// cpu sample: repetition penalty, then greedy argmax or temperature / top-k /
// softmax / top-p / min-p and the counter-based draw of docs/ops.md, in that
// order and with the same arithmetic (f32 logits, double exp and sums in
// candidate order), so the token picked is the reference's exactly. Rows run
// in parallel.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common/float_rows.h"
#include "ops/sample/config.h"
#include "ops/sample/kernels/sample_kernel.h"

namespace rma::cpu {
namespace {

constexpr const char* kOp = "sample";

// uniform(seed, b) in [0, 1): splitmix64's mixer over seed + golden * (b + 1),
// top 24 bits.
double uniform(uint64_t seed, int64_t b) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 40) * 0x1p-24;
}

struct RowScratch {
  std::vector<float> x, l, prob;
  std::vector<double> e;
  std::vector<uint64_t> keys, tmp;
  std::vector<int64_t> seen;
};

// Steps 3-7 of docs/ops.md on the penalised logits l (temperature > 0).
int64_t sample_tempered(RowScratch& s, int64_t vocab, const rma_sample_attrs& a, int64_t b) {
  float* l = s.l.data();
  sample_divide_row(l, vocab, a.temperature);

  // Candidates by logit descending, ties to the lower id; with top_k only the
  // first top_k are ordered.
  s.keys.resize(vocab);
  for (int64_t i = 0; i < vocab; ++i) s.keys[i] = sample_key(l[i], i);
  int64_t n = vocab;
  if (a.top_k > 0 && a.top_k < vocab) {
    n = a.top_k;
    std::nth_element(s.keys.begin(), s.keys.begin() + (n - 1), s.keys.end());
    s.keys.resize(n);
    std::sort(s.keys.begin(), s.keys.end());
  } else {
    sample_sort_keys(s.keys, s.tmp);
  }

  // Softmax over the candidates in their order; equal logits give exactly 1
  // (also when infinite).
  const float top = l[sample_key_id(s.keys[0])];
  s.e.resize(n);
  s.prob.resize(n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = l[sample_key_id(s.keys[i])];
    sum += s.e[i] = v == top ? 1.0 : std::exp(double(v - top));
  }
  for (int64_t i = 0; i < n; ++i) s.prob[i] = static_cast<float>(s.e[i] / sum);

  int64_t kept = n;
  if (a.top_p < 1.f) {
    double cum = 0;
    for (int64_t i = 0; i < n; ++i) {
      cum += s.prob[i];
      if (cum >= a.top_p) {
        kept = i + 1;
        break;
      }
    }
  }
  // min_p drops candidates below min_p * prob[0]; the first always stays.
  const float floor_p = a.min_p * s.prob[0];
  auto keep = [&](int64_t i) { return i == 0 || !(a.min_p > 0.f && s.prob[i] < floor_p); };
  double kept_sum = 0;
  for (int64_t i = 0; i < kept; ++i)
    if (keep(i)) kept_sum += s.prob[i];
  const double target = uniform(a.seed, b) * kept_sum;
  double cum = 0;
  int64_t last = 0;
  for (int64_t i = 0; i < kept; ++i) {
    if (!keep(i)) continue;
    cum += s.prob[i];
    if (cum > target) return sample_key_id(s.keys[i]);
    last = i;
  }
  return sample_key_id(s.keys[last]);
}

rma_status supported(const rma_op_call& call, rma_error* err) {
  if (rma_status st = check_arity(call, err, kOp, 1, 1, true)) return st;
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const rma_tensor* prev = optional_input(call, 1);
  if (!is_float_dtype(x.dtype) || y.dtype != RMA_DTYPE_I32 ||
      (prev && prev->dtype != RMA_DTYPE_I32 && prev->dtype != RMA_DTYPE_I64))
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: cpu runs float logits, i32/i64 prev_tokens, i32 ids", kOp);
  if (x.ndim != 2 || y.ndim != 1 || y.shape[0] != x.shape[0] ||
      (prev && (prev->ndim != 2 || prev->shape[0] != x.shape[0])))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected logits[B,V], prev_tokens?[B,L], ids[B]", kOp);
  if (x.shape[0] > 0 && x.shape[1] == 0)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: logits have an empty vocabulary (V = 0)",
                kOp);
  if (x.shape[1] > (int64_t{1} << 31))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: vocabulary of %lld exceeds 2^31", kOp,
                static_cast<long long>(x.shape[1]));
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const rma_tensor* prev = optional_input(call, 1);
  const auto& a = *static_cast<const rma_sample_attrs*>(call.attrs);
  const int64_t batch = x.shape[0], vocab = x.shape[1];
  const int64_t prev_len = prev ? prev->shape[1] : 0;
  const bool penalise = a.repetition_penalty != 1.f && prev_len > 0;
  if (batch == 0) return RMA_STATUS_OK;

  if (penalise) {
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t j = 0; j < prev_len; ++j) {
        const int64_t t = load_index(*prev, b * prev_len + j);
        if (t >= vocab)
          return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                      "%s: prev_tokens[%lld, %lld] = %lld is outside the vocabulary [0, %lld)", kOp,
                      static_cast<long long>(b), static_cast<long long>(j),
                      static_cast<long long>(t), static_cast<long long>(vocab));
      }
  }

  int32_t* ids = data<int32_t>(y);
  ctx.pool.parallel_for(batch, 1, [&](int64_t b0, int64_t b1) {
    // Kept per thread across calls: a sampling step runs every token and
    // fresh vocabulary-sized buffers would page-fault each time.
    thread_local RowScratch s;
    s.l.resize(vocab);
    if (x.dtype != RMA_DTYPE_F32) s.x.resize(vocab);
    for (int64_t b = b0; b < b1; ++b) {
      sample_clean_row(read_f32(x, b * vocab, vocab, s.x.data()), s.l.data(), vocab);
      if (penalise) {
        // Each distinct token once.
        s.seen.clear();
        for (int64_t j = 0; j < prev_len; ++j) {
          const int64_t t = load_index(*prev, b * prev_len + j);
          if (t >= 0) s.seen.push_back(t);
        }
        std::sort(s.seen.begin(), s.seen.end());
        s.seen.erase(std::unique(s.seen.begin(), s.seen.end()), s.seen.end());
        const float p = a.repetition_penalty;
        for (int64_t t : s.seen) s.l[t] = s.l[t] > 0.f ? s.l[t] / p : s.l[t] * p;
      }
      ids[b] = static_cast<int32_t>(a.temperature <= 0.f ? sample_argmax(s.l.data(), vocab)
                                                         : sample_tempered(s, vocab, a, b));
    }
  });
  return RMA_STATUS_OK;
}

}  // namespace

RMA_CPU_REGISTER_OP(RMA_OP_SAMPLE, supported, run);

}  // namespace rma::cpu
