// generate(): continuous batching over Engine::forward, sampling on the
// device, stop conditions and streaming. How it works: docs/llm.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "engine_internal.h"
#include "rma/error.h"

namespace rma::llm {
namespace {

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

[[noreturn]] void invalid_request(size_t index, const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, "request " + std::to_string(index) + ": " + message);
}

void check_request(size_t index, const GenerationRequest& r, int64_t vocab) {
  if (r.prompt.empty()) invalid_request(index, "empty prompt (it needs at least one token)");
  for (size_t j = 0; j < r.prompt.size(); ++j)
    if (r.prompt[j] < 0 || r.prompt[j] >= vocab)
      invalid_request(index, "prompt token " + std::to_string(r.prompt[j]) + " at position " +
                                 std::to_string(j) + " is outside the vocabulary [0, " +
                                 std::to_string(vocab) + ")");
  if (r.max_tokens < 0)
    invalid_request(index, "max_tokens: expected >= 0, got " + std::to_string(r.max_tokens));
  const SamplingParams& s = r.sampling;
  if (std::isnan(s.temperature))
    invalid_request(index, "temperature: expected a number (<= 0: greedy), got nan");
  if (s.top_k < 0)
    invalid_request(index, "top_k: expected >= 0 (0: off), got " + std::to_string(s.top_k));
  if (!(s.top_p > 0.f && s.top_p <= 1.f))
    invalid_request(index, "top_p: expected a value in (0, 1], got " + std::to_string(s.top_p));
  if (!(s.min_p >= 0.f && s.min_p <= 1.f))
    invalid_request(index, "min_p: expected a value in [0, 1], got " + std::to_string(s.min_p));
  if (!(s.repetition_penalty > 0.f) || !std::isfinite(s.repetition_penalty))
    invalid_request(index, "repetition_penalty: expected a finite value > 0 (1: off), got " +
                               std::to_string(s.repetition_penalty));
  if (s.repetition_window < 0)
    invalid_request(index,
                    "repetition_window: expected >= 0, got " + std::to_string(s.repetition_window));
}

// A prompt that fits, or the error naming both lengths. Truncation keeps the
// newest tokens (and a leading bos), leaving room for up to max_tokens but
// never dropping more than half the context for it.
std::vector<int32_t> fit_prompt(size_t index, const GenerationRequest& r, int max_context,
                                int32_t bos) {
  const int64_t len = static_cast<int64_t>(r.prompt.size());
  if (len <= max_context) return r.prompt;
  if (!r.truncate_prompt)
    invalid_request(index, "prompt of " + std::to_string(len) +
                               " tokens is longer than max_context " + std::to_string(max_context) +
                               " (set truncate_prompt to keep the newest tokens)");
  const int64_t room = std::min<int64_t>(std::max(r.max_tokens, 1), max_context / 2);
  const int64_t keep = std::max<int64_t>(1, max_context - room);
  std::vector<int32_t> out;
  const bool keep_bos = bos >= 0 && r.prompt.front() == bos && keep > 1;
  if (keep_bos) out.push_back(bos);
  out.insert(out.end(), r.prompt.end() - (keep - (keep_bos ? 1 : 0)), r.prompt.end());
  return out;
}

// Length of the longest suffix of `text` that is a proper prefix of a stop
// string: text that may yet become a stop string is held back.
size_t held_back(const std::string& text, size_t from, const std::vector<std::string>& stops) {
  size_t held = 0;
  for (const std::string& s : stops) {
    const size_t max_len = std::min(s.size() - 1, text.size() - from);
    for (size_t len = max_len; len > held; --len)
      if (text.compare(text.size() - len, len, s, 0, len) == 0) {
        held = len;
        break;
      }
  }
  return held;
}

// One request being generated.
struct Live {
  size_t index;
  int32_t seq;
  const GenerationRequest* request;
  std::vector<int32_t> next;     // tokens to feed in the next step
  std::vector<int32_t> context;  // prompt + generated (for the repetition penalty)
  StreamDecoder decoder;
  std::string text;     // decoded so far (cut at a stop string)
  size_t released = 0;  // bytes of `text` handed to the callback
  std::vector<std::string> stops;
  GenerationResult result;

  explicit Live(const Tokenizer& tok) : decoder(tok) {}
};

}  // namespace

uint64_t step_seed(uint64_t request_seed, int64_t generated) {
  return mix64(request_seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(generated + 1));
}

std::vector<GenerationResult> Engine::Impl::generate(const std::vector<GenerationRequest>& requests,
                                                     const TokenCallback& on_token,
                                                     GenerationStats* stats) {
  using Clock = std::chrono::steady_clock;
  std::vector<GenerationResult> results(requests.size());
  std::vector<std::vector<int32_t>> prompts(requests.size());
  GenerationStats st;
  for (size_t i = 0; i < requests.size(); ++i) {
    check_request(i, requests[i], vocab);
    prompts[i] = fit_prompt(i, requests[i], max_context, tokenizer->bos_id());
  }
  if (!requests.empty() && free_sequence_slots() == 0)
    throw Error(ErrorCode::kOutOfMemory,
                "generate: all max_batch = " + std::to_string(seqs.size()) +
                    " sequences are alive (made with new_sequence); free some first");

  std::vector<std::unique_ptr<Live>> live;
  size_t next_request = 0;
  // Reused every step.
  std::vector<int32_t> step_seqs;
  std::vector<std::vector<int32_t>> step_tokens;
  std::vector<int32_t> prev_host, sampled;

  const auto finish = [&](Live& r) {
    results[r.index] = std::move(r.result);
    free_sequence(r.seq);
  };

  try {
    while (next_request < requests.size() || !live.empty()) {
      // Admit queued requests into free slots; their prompts prefill in the
      // same pass as the running sequences' decode rows.
      while (next_request < requests.size() && free_sequence_slots() > 0) {
        const size_t i = next_request++;
        const GenerationRequest& r = requests[i];
        if (r.max_tokens == 0) {  // nothing to run
          results[i].finish_reason = "length";
          continue;
        }
        st.prompt_tokens += static_cast<int64_t>(prompts[i].size());
        auto l = std::make_unique<Live>(*tokenizer);
        l->index = i;
        l->request = &r;
        l->seq = new_sequence();
        l->next = prompts[i];
        l->context = prompts[i];
        for (const std::string& s : r.stop)
          if (!s.empty()) l->stops.push_back(s);
        live.push_back(std::move(l));
      }
      if (live.empty()) break;

      step_seqs.clear();
      step_tokens.resize(live.size());
      for (size_t b = 0; b < live.size(); ++b) {
        step_seqs.push_back(live[b]->seq);
        step_tokens[b].swap(live[b]->next);
        live[b]->next.clear();
      }
      const auto t0 = Clock::now();
      const Tensor logits = forward(step_seqs, step_tokens, false, /*stable_logits=*/false);
      const bool had_prefill = last_forward_had_prefill;
      if (last_forward_used_graph) {
        ++st.graph_decode_steps;
        st.ops_per_decode_step = decode_graphs.at(step_rows(step_seqs.size())).capture->num_ops();
      }

      // ---- sample: greedy rows with one penalty setting share a call; a
      // sampling row gets its own call so that its random draw depends only
      // on its seed and step (uniform(seed, b) also depends on the row b).
      const int64_t B = static_cast<int64_t>(live.size());
      const Tensor ids = Tensor::empty({B}, DType::kI32, device);
      // Penalty windows of all rows, sent in one copy.
      prev_host.clear();
      std::vector<int64_t>& prev_offset = penalty_offset;
      prev_offset.assign(static_cast<size_t>(B), -1);
      for (int64_t b = 0; b < B; ++b) {
        const SamplingParams& sp = live[b]->request->sampling;
        if (sp.repetition_penalty == 1.f || sp.repetition_window == 0) continue;
        prev_offset[b] = static_cast<int64_t>(prev_host.size());
        const std::vector<int32_t>& ctx = live[b]->context;
        const size_t w = static_cast<size_t>(sp.repetition_window);
        const size_t take = std::min(w, ctx.size());
        prev_host.insert(prev_host.end(), ctx.end() - take, ctx.end());
        prev_host.insert(prev_host.end(), w - take, -1);
      }
      const Tensor prev_all =
          prev_host.empty()
              ? Tensor{}
              : Tensor::from_host(prev_host.data(), {static_cast<int64_t>(prev_host.size())},
                                  DType::kI32, device);
      for (int64_t b = 0; b < B;) {
        const SamplingParams& sp = live[b]->request->sampling;
        int64_t e = b + 1;
        const bool greedy = sp.temperature <= 0.f;
        const bool penalised = prev_offset[b] >= 0;
        // Greedy rows with the same penalty settings run as one call.
        while (greedy && e < B) {
          const SamplingParams& o = live[e]->request->sampling;
          if (o.temperature > 0.f || (prev_offset[e] >= 0) != penalised) break;
          if (penalised && (o.repetition_penalty != sp.repetition_penalty ||
                            o.repetition_window != sp.repetition_window))
            break;
          ++e;
        }
        const rma_sample_attrs attrs =
            sample_attrs(sp.temperature, sp.top_k, sp.top_p, sp.min_p, sp.repetition_penalty,
                         step_seed(sp.seed, static_cast<int64_t>(live[b]->result.tokens.size())));
        Tensor prev;
        if (penalised) {
          const int64_t w = sp.repetition_window;
          prev =
              prev_all.slice(0, prev_offset[b], prev_offset[b] + (e - b) * w).reshape({e - b, w});
        }
        ops::run(RMA_OP_SAMPLE, {logits.slice(0, b, e), prev}, &attrs, {ids.slice(0, b, e)});
        b = e;
      }
      sampled = ids.to_vector<int32_t>();  // the step's one device-to-host read
      const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      if (had_prefill) {
        st.prefill_seconds += seconds;
      } else {
        st.decode_seconds += seconds;
        st.decode_tokens += B;
      }

      // ---- stop conditions and streaming
      for (int64_t b = 0; b < B; ++b) {
        Live& r = *live[b];
        const GenerationRequest& req = *r.request;
        const int32_t token = sampled[b];
        r.result.tokens.push_back(token);
        r.context.push_back(token);
        ++st.generated_tokens;
        std::string finish_reason;
        const bool eog = !req.ignore_eos && tokenizer->is_eog(token);
        std::string piece = eog ? std::string() : r.decoder.push(token);
        if (eog) {
          finish_reason = "eos";
        } else if (static_cast<int>(r.result.tokens.size()) >= req.max_tokens ||
                   seqs[r.seq].history.size() + 1 > static_cast<size_t>(max_context)) {
          finish_reason = "length";  // max_tokens, or no room to feed this token
        }
        if (!finish_reason.empty()) piece += r.decoder.flush();
        const size_t search_from = r.released;
        r.text += piece;
        size_t cut = std::string::npos;
        for (const std::string& s : r.stops) cut = std::min(cut, r.text.find(s, search_from));
        if (cut != std::string::npos) {
          r.text.resize(cut);
          finish_reason = "stop";
        }
        const size_t release_end = finish_reason.empty()
                                       ? r.text.size() - held_back(r.text, r.released, r.stops)
                                       : r.text.size();
        const std::string_view released(r.text.data() + r.released, release_end - r.released);
        r.released = release_end;
        if (on_token && !on_token(r.index, token, released) && finish_reason.empty())
          finish_reason = "cancelled";
        if (!finish_reason.empty()) {
          r.result.text = std::move(r.text);
          r.result.finish_reason = finish_reason;
        } else {
          r.next.assign(1, token);
        }
      }
      // Finished requests leave; their slots take queued ones next step.
      size_t kept = 0;
      for (size_t b = 0; b < live.size(); ++b) {
        if (!live[b]->result.finish_reason.empty()) {
          finish(*live[b]);
        } else {
          live[kept++] = std::move(live[b]);
        }
      }
      live.resize(kept);
    }
  } catch (...) {
    for (auto& l : live)
      if (seqs[l->seq].alive) free_sequence(l->seq);
    throw;
  }
  st.peak_device_bytes = device.memory_stats().peak_bytes_in_use;
  if (stats) *stats = st;
  return results;
}

}  // namespace rma::llm
