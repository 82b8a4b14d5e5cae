// Engine internals shared by engine.cpp (load, sequences, forward),
// engine_weights.cpp (placing weights on the device) and
// engine_generate.cpp (sampling, stop conditions, continuous batching).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kv_cache.h"
#include "rma/llm/engine.h"
#include "rma/ops.h"

namespace rma::llm {

// One weight matrix [N, K] and how it runs: `linear` for f32 weights,
// `quant_linear` for quantized (and f16/bf16) weights the device takes.
struct Matrix {
  std::string name;
  Tensor w;
  Tensor bias;  // f32 [N], or undefined
  rma_op op = RMA_OP_LINEAR;
};

struct LayerWeights {
  Tensor attn_norm, ffn_norm;  // f32 [H]
  Matrix q, k, v, o, gate, up, down;
};

struct Weights {
  Tensor token_embd;  // [V, H], a dtype the device's embedding turns into f32 rows
  Tensor output_norm;
  Matrix head;  // output.weight, or token_embd when the embeddings are tied
  std::vector<LayerWeights> layers;
  uint64_t wrapped_bytes = 0;    // host-memory device: the mapping itself
  uint64_t uploaded_bytes = 0;   // copied to the device as they are
  uint64_t converted_bytes = 0;  // converted to f32 (the device declined the dtype)
};

// Places every tensor the engine needs on `device` (see docs/llm.md):
// wrapped on a host-memory device, uploaded otherwise, converted to f32 once
// where the device declines a dtype (one warning per tensor). Checks every
// shape against the config; a mismatch is an rma::Error naming the tensor.
Weights load_weights(const std::shared_ptr<ModelFile>& file, const ModelConfig& config,
                     const Device& device, const std::function<void(uint64_t, uint64_t)>& progress);

// Whether `device` runs `op` on tensors of these shapes and dtypes (the
// schema's check, then the plugin's); if not, why, in `reason`.
struct TensorSpec {
  Shape shape;
  DType dtype;
};
bool device_runs(const Device& device, rma_op op, const std::vector<TensorSpec>& inputs,
                 const void* attrs, const std::vector<TensorSpec>& outputs = {},
                 std::string* reason = nullptr);

struct SequenceState {
  bool alive = false;
  std::vector<int32_t> history;  // every token appended to it, in order
  size_t cached = 0;             // tokens of `history` whose K/V are in the cache
  std::vector<int32_t> blocks;   // its cache blocks, in token order
};

// How one sequence's new tokens run in a step (Engine::Impl::forward).
struct RowPlan {
  bool decode = false;  // one row over its cached blocks; else a (re-)prefill
  int64_t row0 = 0;     // first row of its segment
  int64_t length = 0;   // rows in its segment
  size_t prefix = 0;    // history tokens re-run before the new ones
};

// Device tensors of one step: views of one index tensor.
struct StepInputs {
  int64_t rows = 0;                  // T
  int64_t prefill_rows = 0;          // rows [0, prefill_rows) are prefill segments
  int64_t n_decode = 0;              // the rows after them decode, one per sequence
  Tensor ids, positions, slots;      // [T]
  Tensor cu_seqlens;                 // [prefills + 1] when prefill_rows > 0
  Tensor context_lens, block_table;  // [n_decode], [n_decode, width]
  // The rows whose logits come out: [first_out_row, + out_rows), or the
  // rows listed in `gather` when defined.
  int64_t first_out_row = 0, out_rows = 0;
  Tensor gather;
};

// Rows of the decode graph that serves a batch of n: n rounded up to a
// power of two.
inline int64_t step_rows(size_t n) {
  int64_t rows = 1;
  while (rows < static_cast<int64_t>(n)) rows *= 2;
  return rows;
}

// A captured decode step for `rows` sequences (a power of two: the batch is
// padded up to it), valid while the KV cache's tensors stay where they were.
struct DecodeGraph {
  int kv_generation = -1;
  Tensor idx;     // inputs written before each launch: ids|pos|slots|ctx|table
  Tensor logits;  // [rows, vocab], written by each launch
  std::shared_ptr<Capture> capture;
};

struct Engine::Impl {
  std::shared_ptr<ModelFile> file;
  ModelConfig config;
  std::unique_ptr<Tokenizer> tokenizer;
  Device device;
  EngineOptions options;
  int max_context = 0;
  int64_t vocab = 0;  // rows of the head: the logits' width
  Weights weights;
  PagedKvCache kv;
  std::vector<SequenceState> seqs;  // index = sequence id
  rma_rope_attrs rope{};
  rma_attention_attrs attention{};

  // Host buffers reused by every forward (no per-step heap churn).
  std::vector<int32_t> staging;
  std::vector<int32_t> want_rows;
  std::vector<RowPlan> plan;
  std::vector<char> seen;
  std::vector<int64_t> penalty_offset;

  // What the last forward did, for generate()'s timing.
  bool last_forward_had_prefill = false;
  bool last_forward_used_graph = false;

  // Decode graphs (EngineOptions::decode_graphs), by padded batch size.
  bool use_decode_graphs = false;
  int32_t pad_block = -1;  // the KV block padding rows write to
  std::map<int64_t, DecodeGraph> decode_graphs;
  std::vector<int32_t> graph_staging;

  Tensor matmul(const Tensor& x, const Matrix& m, Activation act = Activation::kNone) const;
  // `stable_logits`: the result must outlive the next forward (else it may
  // be a view the next graph launch overwrites).
  Tensor forward(const std::vector<int32_t>& seq_ids,
                 const std::vector<std::vector<int32_t>>& tokens, bool all_logits,
                 bool stable_logits = true);
  Tensor run_layers(const StepInputs& in);
  // Undefined when graphs are off (or were just turned off by a failure).
  Tensor decode_with_graph(const std::vector<int32_t>& seq_ids,
                           const std::vector<std::vector<int32_t>>& tokens, bool stable_logits);
  bool capture_decode(DecodeGraph& g, int64_t rows);
  void check_sequence(int32_t seq, const char* what) const;
  int free_sequence_slots() const;
  int32_t new_sequence();
  void free_sequence(int32_t seq);

  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& requests,
                                         const TokenCallback& on_token, GenerationStats* stats);
};

// The per-step sampling seed: tokens sampled for a request depend only on
// its seed and how many tokens it has generated (docs/llm.md).
uint64_t step_seed(uint64_t request_seed, int64_t generated);

}  // namespace rma::llm
