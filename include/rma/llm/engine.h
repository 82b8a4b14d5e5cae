// rma/llm/engine.h — Llama-family text generation on any device.
//
// The engine builds Llama 2/3, SmolLM/SmolLM2, Qwen2/2.5 and Mistral from a
// ModelFile on the op interface alone (rma/ops.h): the same code runs on
// every device whose plugin has the ops. Weights are uploaded once (on a
// host-memory device they are wrapped, not copied: the mmap is the weight);
// the KV cache is paged (fixed-size blocks handed to sequences on demand).
//
// Two levels:
// - sequences + forward(): the model as a function over several sequences at
//   once (prefill and decode rows in one pass), for tests and servers;
// - generate(): prompts in, sampled tokens out, with stop conditions.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rma/device.h"
#include "rma/dtype.h"
#include "rma/llm/model_file.h"
#include "rma/llm/tokenizer.h"
#include "rma/ops.h"
#include "rma/tensor.h"

namespace rma::llm {

struct EngineOptions {
  std::string device = "auto";   // "auto", "cpu", "opencl:0", ...
  int max_batch = 8;             // sequences alive at once
  int max_context = 0;           // tokens per sequence; 0: min(model's, 4096)
  int kv_block_size = 16;        // tokens per KV cache block
  DType kv_dtype = DType::kF32;  // f32 or f16 (where the device has it)
  // quant_linear's arithmetic (rma/ops.h): accurate (as f32 from the
  // dequantized weights) or fast (activations may be rounded to 8 bits).
  Precision precision = Precision::kAccurate;
  // Decode-only steps replayed from a capture of the step (one per batch
  // size bucket) on devices that can capture (CPU, CUDA): one launch instead
  // of hundreds of op calls. Results are the same either way.
  bool decode_graphs = true;
  // Called while weights upload: (bytes done, bytes total).
  std::function<void(uint64_t, uint64_t)> on_load_progress;
};

struct SamplingParams {
  float temperature = 0.f;  // <= 0: greedy
  int top_k = 0;
  float top_p = 1.f;
  float min_p = 0.f;
  float repetition_penalty = 1.f;
  int repetition_window = 64;  // last N tokens the penalty sees
  uint64_t seed = 0;
};

struct GenerationRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int max_tokens = 256;
  std::vector<std::string> stop;  // stop strings (not included in the output)
  bool ignore_eos = false;
  // A prompt longer than the context is an error unless this is set, in
  // which case its oldest tokens are dropped.
  bool truncate_prompt = false;
};

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated tokens (not the prompt)
  std::string text;             // their text, stop string removed
  // "eos", "stop" (a stop string), "length" (max_tokens or max_context),
  // "cancelled" (the token callback returned false)
  std::string finish_reason;
};

struct GenerationStats {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
  // Tokens sampled by decode-only steps (the first token of each request
  // comes with its prefill): decode tok/s = decode_tokens / decode_seconds.
  int64_t decode_tokens = 0;
  uint64_t peak_device_bytes = 0;  // the device pool's peak
  // Decode steps replayed from a capture, and the ops one such step holds
  // (each a kernel launch when run eagerly; 0 when no step was replayed).
  int64_t graph_decode_steps = 0;
  uint64_t ops_per_decode_step = 0;
};

// Called for each generated token of request `index` with its text piece
// (whole UTF-8); return false to stop that request.
using TokenCallback = std::function<bool(size_t index, int32_t token, std::string_view piece)>;

class Engine {
 public:
  // `model`: a .gguf file, a Hugging Face folder, or a known name
  // (see resolve_model).
  static std::unique_ptr<Engine> load(const std::string& model, const EngineOptions& options = {});
  // An engine over a model already read (e.g. ModelFile::from_memory). A
  // model without a tokenizer runs forward(); tokenizer() and generate()
  // are then an rma::Error.
  static std::unique_ptr<Engine> create(std::shared_ptr<ModelFile> file,
                                        const EngineOptions& options = {});
  ~Engine();

  const ModelConfig& config() const;
  const Tokenizer& tokenizer() const;
  const Device& device() const;
  const ModelFile& model_file() const;
  int max_context() const;

  // ---- sequences and the paged KV cache
  int32_t new_sequence();                      // throws when max_batch are alive
  void free_sequence(int32_t seq);             // returns its blocks
  int32_t sequence_length(int32_t seq) const;  // tokens in its cache

  // Appends tokens[i] to sequence seqs[i] (all in one pass) and returns
  // logits f32 on the engine's device: [seqs.size(), vocab] for each
  // sequence's last token, or with `all_logits` [sum of tokens, vocab] in
  // the order given. Throws rma::Error when a sequence would pass
  // max_context or the cache has no free block.
  Tensor forward(const std::vector<int32_t>& seqs, const std::vector<std::vector<int32_t>>& tokens,
                 bool all_logits = false);

  // ---- generation: all requests run together (continuous batching up to
  // max_batch; more are queued). Results in request order.
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& requests,
                                         const TokenCallback& on_token = {},
                                         GenerationStats* stats = nullptr);

 private:
  Engine();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Known model names ("smollm2-135m") map to files in the model cache
// ($RM_CACHE_DIR/models); other strings are paths. A known model that is not
// there yet is an rma::Error naming the setup command that fetches it.
std::string resolve_model(const std::string& name_or_path);

struct KnownModel {
  std::string name;    // "smollm2-135m"
  std::string file;    // file name in the model cache
  std::string sha256;  // of that file
  std::string source;  // where scripts/fetch_model.sh gets it
};
const std::vector<KnownModel>& known_models();

}  // namespace rma::llm
