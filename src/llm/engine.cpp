// The Llama-family engine: loading, sequences and the batched forward pass,
// on the op interface alone (rma/ops.h). How it works: docs/llm.md.
#include "rma/llm/engine.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine_internal.h"
#include "rma/error.h"
#include "rma/log.h"

namespace rma::llm {
namespace {

// Ops a device must run for `auto` to pick it.
const std::vector<rma_op> kEngineOps = {
    RMA_OP_EMBEDDING,
    RMA_OP_RMS_NORM,
    RMA_OP_ADD_RMS_NORM,
    RMA_OP_QUANT_LINEAR,
    RMA_OP_LINEAR,
    RMA_OP_ROPE,
    RMA_OP_FILL_KV_CACHE,
    RMA_OP_PREFILL_ATTENTION,
    RMA_OP_PAGED_DECODE_ATTENTION,
    RMA_OP_MUL,
    RMA_OP_SAMPLE,
};

constexpr int kDefaultMaxContext = 4096;
// Tokens the KV cache holds at first; it doubles on demand (kv_cache.h).
constexpr int kInitialCacheTokens = 256;

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, message);
}

// "auto" is the configured default device (RM_DEVICE) when one is set, else
// the first accelerator that runs the engine's ops, else the CPU.
Device pick_device(const std::string& spec) {
  Runtime& rt = Runtime::get();
  if (spec.empty() || spec == "auto") {
    const std::string& configured = rt.config().device;
    if (!configured.empty() && configured != "auto") return rt.device(configured);
    return rt.auto_device(kEngineOps);
  }
  return rt.device(spec);
}

void check_options(const EngineOptions& o) {
  if (o.max_batch < 1)
    invalid("EngineOptions.max_batch: expected >= 1, got " + std::to_string(o.max_batch));
  if (o.max_context < 0)
    invalid("EngineOptions.max_context: expected >= 0 (0: the model's, at most " +
            std::to_string(kDefaultMaxContext) + "), got " + std::to_string(o.max_context));
  if (o.kv_block_size < 1)
    invalid("EngineOptions.kv_block_size: expected >= 1, got " + std::to_string(o.kv_block_size));
  if (o.precision != Precision::kAccurate && o.precision != Precision::kFast)
    invalid("EngineOptions.precision: expected kAccurate or kFast, got " +
            std::to_string(static_cast<int32_t>(o.precision)));
  if (!is_valid(static_cast<int32_t>(o.kv_dtype)) || !is_float(o.kv_dtype))
    invalid("EngineOptions.kv_dtype: expected f32, f16 or bf16, got " +
            (is_valid(static_cast<int32_t>(o.kv_dtype)) ? std::string(name(o.kv_dtype))
                                                        : std::string("an invalid dtype")));
}

void check_config(const ModelConfig& c, const std::string& path) {
  const auto need = [&](bool ok, const std::string& what) {
    if (!ok) invalid(path + ": unusable hyper-parameters: " + what);
  };
  need(c.n_layer > 0, "n_layer = " + std::to_string(c.n_layer));
  need(c.hidden > 0, "hidden = " + std::to_string(c.hidden));
  need(c.n_head > 0 && c.n_kv_head > 0 && c.n_head % c.n_kv_head == 0,
       "n_head = " + std::to_string(c.n_head) +
           " must be a multiple of n_kv_head = " + std::to_string(c.n_kv_head));
  need(c.head_dim > 0 && c.head_dim % 2 == 0,
       "head_dim = " + std::to_string(c.head_dim) + " must be even (rope)");
  need(c.ffn > 0, "ffn = " + std::to_string(c.ffn));
}

rma_rope_attrs rope_from(const ModelConfig& c) {
  rma_rope_attrs a = rope_attrs(c.rope_theta, c.rope_style, 0);
  switch (c.rope_scaling) {
    case RopeScalingType::kNone:
      break;
    case RopeScalingType::kLinear:
      a.scaling = RMA_ROPE_SCALING_LINEAR;
      a.factor = c.rope_factor;
      break;
    case RopeScalingType::kLlama3:
      a.scaling = RMA_ROPE_SCALING_LLAMA3;
      a.factor = c.rope_factor;
      a.low_freq_factor = c.rope_low_freq_factor;
      a.high_freq_factor = c.rope_high_freq_factor;
      a.original_max_position = c.rope_original_max_position;
      break;
  }
  return a;
}

// The cache dtype asked for, or f32 (with a warning) when the device's
// fill_kv_cache or paged_decode_attention declines it.
DType pick_kv_dtype(const Device& d, const ModelConfig& c, DType want, int block_size,
                    const rma_attention_attrs& attn) {
  if (want == DType::kF32) return want;
  const int64_t hkv = c.n_kv_head, hq = c.n_head, dim = c.head_dim;
  const TensorSpec cache{{1, block_size, hkv, dim}, want};
  std::string reason;
  const bool ok =
      device_runs(d, RMA_OP_FILL_KV_CACHE,
                  {{{1, hkv, dim}, DType::kF32}, {{1, hkv, dim}, DType::kF32}, {{1}, DType::kI32}},
                  nullptr, {cache, cache}, &reason) &&
      device_runs(
          d, RMA_OP_PAGED_DECODE_ATTENTION,
          {{{1, hq, dim}, DType::kF32}, cache, cache, {{1, 1}, DType::kI32}, {{1}, DType::kI32}},
          &attn, {}, &reason);
  if (ok) return want;
  log::warn("KV cache dtype " + std::string(name(want)) + " is not run by " + d.name() + " (" +
            reason + "); using f32");
  return DType::kF32;
}

}  // namespace

// ------------------------------------------------------------------ loading

Engine::Engine() : impl_(std::make_unique<Impl>()) {}
Engine::~Engine() = default;

std::unique_ptr<Engine> Engine::load(const std::string& model, const EngineOptions& options) {
  check_options(options);
  std::shared_ptr<ModelFile> file = ModelFile::open(resolve_model(model));
  // A model file must bring its tokenizer: the reader's error names what is missing.
  if (!file->has_tokenizer()) file->tokenizer();
  return create(std::move(file), options);
}

std::unique_ptr<Engine> Engine::create(std::shared_ptr<ModelFile> file,
                                       const EngineOptions& options) {
  check_options(options);
  if (!file) invalid("Engine::create: no model file");
  std::unique_ptr<Engine> engine(new Engine());
  Impl& m = *engine->impl_;
  m.options = options;
  m.file = std::move(file);
  m.config = m.file->config();
  check_config(m.config, m.file->path());
  if (m.file->has_tokenizer()) m.tokenizer = std::make_unique<Tokenizer>(m.file->tokenizer());
  m.device = pick_device(options.device);

  const int trained = m.config.context_length > 0 ? m.config.context_length : kDefaultMaxContext;
  m.max_context =
      options.max_context > 0 ? options.max_context : std::min(trained, kDefaultMaxContext);
  m.rope = rope_from(m.config);
  m.attention = attention_attrs(1.f / std::sqrt(static_cast<float>(m.config.head_dim)), true,
                                m.config.sliding_window);

  m.weights = load_weights(m.file, m.config, m.device, options.on_load_progress);
  m.vocab = m.weights.head.w.dim(0);

  const int block = options.kv_block_size;
  const DType kv_dtype = pick_kv_dtype(m.device, m.config, options.kv_dtype, block, m.attention);
  const int blocks_per_seq = (m.max_context + block - 1) / block;
  m.use_decode_graphs = options.decode_graphs && m.device.supports_capture();
  // Graph decode steps pad their batch with rows writing to one spare block.
  const int64_t max_blocks =
      int64_t{blocks_per_seq} * options.max_batch + (m.use_decode_graphs ? 1 : 0);
  if (max_blocks > (int64_t{1} << 30) / block)
    invalid("max_batch " + std::to_string(options.max_batch) + " x max_context " +
            std::to_string(m.max_context) + " tokens is more than the KV cache can address");
  m.kv = PagedKvCache(m.device, m.config.n_layer, m.config.n_kv_head, m.config.head_dim, kv_dtype,
                      block, static_cast<int>(max_blocks),
                      (std::min(m.max_context, kInitialCacheTokens) + block - 1) / block);
  m.seqs.resize(options.max_batch);
  if (m.use_decode_graphs) {
    std::vector<int32_t> pad;
    m.kv.allocate(1, pad);
    m.pad_block = pad[0];
  }

  log::debug("loaded " + m.file->path() + " (" + m.config.architecture + ", " +
             std::to_string(m.config.n_layer) + " layers) on " + m.device.name() + ": " +
             std::to_string(m.weights.wrapped_bytes >> 20) + " MiB mapped, " +
             std::to_string(m.weights.uploaded_bytes >> 20) + " MiB uploaded, " +
             std::to_string(m.weights.converted_bytes >> 20) + " MiB converted to f32");
  return engine;
}

const ModelConfig& Engine::config() const { return impl_->config; }
const Tokenizer& Engine::tokenizer() const {
  if (!impl_->tokenizer)
    throw Error(ErrorCode::kInvalidArgument,
                impl_->file->path() + ": the model has no tokenizer (made without one)");
  return *impl_->tokenizer;
}
const Device& Engine::device() const { return impl_->device; }
const ModelFile& Engine::model_file() const { return *impl_->file; }
int Engine::max_context() const { return impl_->max_context; }

// ---------------------------------------------------------------- sequences

void Engine::Impl::check_sequence(int32_t seq, const char* what) const {
  if (seq < 0 || seq >= static_cast<int32_t>(seqs.size()) || !seqs[seq].alive)
    invalid(std::string(what) + ": sequence " + std::to_string(seq) +
            " is not alive (new_sequence() gives ids 0.." + std::to_string(seqs.size() - 1) + ")");
}

int Engine::Impl::free_sequence_slots() const {
  return static_cast<int>(
      std::count_if(seqs.begin(), seqs.end(), [](const SequenceState& s) { return !s.alive; }));
}

int32_t Engine::Impl::new_sequence() {
  for (size_t i = 0; i < seqs.size(); ++i)
    if (!seqs[i].alive) {
      seqs[i] = SequenceState{};
      seqs[i].alive = true;
      return static_cast<int32_t>(i);
    }
  throw Error(ErrorCode::kOutOfMemory,
              "new_sequence: all max_batch = " + std::to_string(seqs.size()) +
                  " sequences are alive; free one first");
}

void Engine::Impl::free_sequence(int32_t seq) {
  check_sequence(seq, "free_sequence");
  kv.release(seqs[seq].blocks);
  seqs[seq] = SequenceState{};
}

int32_t Engine::new_sequence() { return impl_->new_sequence(); }
void Engine::free_sequence(int32_t seq) { impl_->free_sequence(seq); }
int32_t Engine::sequence_length(int32_t seq) const {
  impl_->check_sequence(seq, "sequence_length");
  return static_cast<int32_t>(impl_->seqs[seq].history.size());
}

// ------------------------------------------------------------------ forward

Tensor Engine::Impl::matmul(const Tensor& x, const Matrix& m, Activation act) const {
  const rma_linear_attrs attrs = with_precision(linear_attrs(act), options.precision);
  return ops::run(m.op, {x, m.w, m.bias}, &attrs)[0];
}

Tensor Engine::forward(const std::vector<int32_t>& seqs,
                       const std::vector<std::vector<int32_t>>& tokens, bool all_logits) {
  return impl_->forward(seqs, tokens, all_logits);
}

Tensor Engine::Impl::forward(const std::vector<int32_t>& seq_ids,
                             const std::vector<std::vector<int32_t>>& tokens, bool all_logits,
                             bool stable_logits) {
  const size_t n = seq_ids.size();
  if (tokens.size() != n)
    invalid("forward: " + std::to_string(n) + " sequences but " + std::to_string(tokens.size()) +
            " token lists");
  if (n == 0) invalid("forward: no sequences given");

  // ---- check everything before touching any state
  seen.assign(seqs.size(), 0);
  int64_t blocks_needed = 0;
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = seq_ids[i];
    check_sequence(id, "forward");
    if (seen[id]++) invalid("forward: sequence " + std::to_string(id) + " is given twice");
    if (tokens[i].empty()) invalid("forward: no tokens for sequence " + std::to_string(id));
    for (size_t j = 0; j < tokens[i].size(); ++j)
      if (tokens[i][j] < 0 || tokens[i][j] >= vocab)
        invalid("forward: token " + std::to_string(tokens[i][j]) + " at position " +
                std::to_string(j) + " of sequence " + std::to_string(id) +
                " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    const SequenceState& s = seqs[id];
    const size_t len = s.history.size() + tokens[i].size();
    if (len > static_cast<size_t>(max_context))
      throw Error(ErrorCode::kInvalidArgument,
                  "sequence " + std::to_string(id) + " would hold " + std::to_string(len) +
                      " tokens (" + std::to_string(s.history.size()) + " cached + " +
                      std::to_string(tokens[i].size()) + " new), more than max_context " +
                      std::to_string(max_context));
    blocks_needed +=
        kv.blocks_for(static_cast<int64_t>(len)) - static_cast<int64_t>(s.blocks.size());
  }
  if (blocks_needed > kv.available())
    throw Error(ErrorCode::kOutOfMemory,
                "KV cache is out of blocks: this step needs " + std::to_string(blocks_needed) +
                    " more, " + std::to_string(kv.available()) + " are free (" +
                    std::to_string(kv.max_blocks()) + " blocks of " +
                    std::to_string(kv.block_size()) + " tokens in all)",
                "", device.name());

  // ---- plan: prefill segments first, then one row per decoding sequence.
  // A sequence decodes when its cache is complete and it gets one token; any
  // other case (new sequence, several new tokens, a cache lost to an error)
  // runs its whole history as a fresh prefill.
  plan.assign(n, RowPlan{});
  int64_t prefill_rows = 0, n_prefill = 0, n_decode = 0;
  for (size_t i = 0; i < n; ++i) {
    const SequenceState& s = seqs[seq_ids[i]];
    const bool decode = s.cached > 0 && s.cached == s.history.size() && tokens[i].size() == 1;
    plan[i].decode = decode;
    plan[i].prefix = decode ? 0 : s.history.size();
    plan[i].length = decode ? 1 : static_cast<int64_t>(s.history.size() + tokens[i].size());
    if (!decode) {
      plan[i].row0 = prefill_rows;
      prefill_rows += plan[i].length;
      ++n_prefill;
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (plan[i].decode) plan[i].row0 = prefill_rows + n_decode++;
  const int64_t total_rows = prefill_rows + n_decode;
  last_forward_had_prefill = n_prefill > 0;

  // ---- blocks (the check above guarantees enough)
  for (size_t i = 0; i < n; ++i) {
    SequenceState& s = seqs[seq_ids[i]];
    const int want = kv.blocks_for(static_cast<int64_t>(s.history.size() + tokens[i].size()));
    kv.allocate(want - static_cast<int>(s.blocks.size()), s.blocks);
  }

  // ---- the rows whose logits are returned, in the order given
  want_rows.clear();
  for (size_t i = 0; i < n; ++i) {
    const int64_t last = plan[i].row0 + plan[i].length;
    const int64_t first = all_logits ? last - static_cast<int64_t>(tokens[i].size()) : last - 1;
    for (int64_t r = first; r < last; ++r) want_rows.push_back(static_cast<int32_t>(r));
  }
  const int64_t out_rows = static_cast<int64_t>(want_rows.size());
  bool consecutive = true;
  for (int64_t r = 1; r < out_rows && consecutive; ++r)
    consecutive = want_rows[r] == want_rows[r - 1] + 1;

  // ---- index tensors, built on the host and sent in one copy:
  // ids | positions | slots | cu_seqlens | context_lens | block_table | gather
  int64_t max_table = 1;
  for (size_t i = 0; i < n; ++i)
    if (plan[i].decode) max_table = std::max<int64_t>(max_table, seqs[seq_ids[i]].blocks.size());
  const int64_t off_pos = total_rows, off_slot = 2 * total_rows, off_cu = 3 * total_rows;
  const int64_t off_ctx = off_cu + (n_prefill > 0 ? n_prefill + 1 : 0);
  const int64_t off_table = off_ctx + n_decode;
  const int64_t off_gather = off_table + n_decode * max_table;
  const int64_t staged = off_gather + (consecutive ? 0 : out_rows);
  staging.assign(static_cast<size_t>(staged), 0);
  const int bs = kv.block_size();
  int64_t cu_at = off_cu, decode_at = 0;
  if (n_prefill > 0) staging[cu_at++] = 0;
  for (size_t i = 0; i < n; ++i) {
    const SequenceState& s = seqs[seq_ids[i]];
    const RowPlan& p = plan[i];
    const int64_t pos0 = p.decode ? static_cast<int64_t>(s.history.size()) : 0;
    for (int64_t t = 0; t < p.length; ++t) {
      const int64_t row = p.row0 + t, pos = pos0 + t;
      const size_t from_history = p.prefix;
      staging[row] =
          static_cast<size_t>(t) < from_history ? s.history[t] : tokens[i][t - from_history];
      staging[off_pos + row] = static_cast<int32_t>(pos);
      staging[off_slot + row] = s.blocks[pos / bs] * bs + static_cast<int32_t>(pos % bs);
    }
    if (!p.decode) {
      staging[cu_at] = static_cast<int32_t>(p.row0 + p.length);
      ++cu_at;
    } else {
      staging[off_ctx + decode_at] = static_cast<int32_t>(pos0 + 1);
      std::copy(s.blocks.begin(), s.blocks.end(),
                staging.begin() + off_table + decode_at * max_table);
      ++decode_at;
    }
  }
  if (!consecutive) std::copy(want_rows.begin(), want_rows.end(), staging.begin() + off_gather);

  try {
    Tensor logits;
    if (n_prefill == 0 && !all_logits && use_decode_graphs)
      logits = decode_with_graph(seq_ids, tokens, stable_logits);
    last_forward_used_graph = logits.defined();
    if (!logits.defined()) {
      const Tensor idx = Tensor::from_host(staging.data(), {staged}, DType::kI32, device);
      StepInputs in;
      in.rows = total_rows;
      in.prefill_rows = prefill_rows;
      in.n_decode = n_decode;
      in.ids = idx.slice(0, 0, total_rows);
      in.positions = idx.slice(0, off_pos, off_pos + total_rows);
      in.slots = idx.slice(0, off_slot, off_slot + total_rows);
      if (n_prefill > 0) in.cu_seqlens = idx.slice(0, off_cu, off_cu + n_prefill + 1);
      if (n_decode > 0) {
        in.context_lens = idx.slice(0, off_ctx, off_ctx + n_decode);
        in.block_table = idx.slice(0, off_table, off_table + n_decode * max_table)
                             .reshape({n_decode, max_table});
      }
      in.out_rows = out_rows;
      if (consecutive)
        in.first_out_row = want_rows.front();
      else
        in.gather = idx.slice(0, off_gather, off_gather + out_rows);
      logits = run_layers(in);
    }

    for (size_t i = 0; i < n; ++i) {
      SequenceState& s = seqs[seq_ids[i]];
      s.history.insert(s.history.end(), tokens[i].begin(), tokens[i].end());
      s.cached = s.history.size();
    }
    return logits;
  } catch (...) {
    // Their caches may be half written: the next forward re-runs their whole
    // history. The new tokens were not appended.
    for (size_t i = 0; i < n; ++i) seqs[seq_ids[i]].cached = 0;
    throw;
  }
}

// ---- decode graphs
// Index tensor layout of a graph step for `rows` sequences and block tables
// `width` wide: ids | positions | slots | context_lens | block_table.
namespace {
struct GraphLayout {
  int64_t rows, width;
  int64_t pos() const { return rows; }
  int64_t slot() const { return 2 * rows; }
  int64_t ctx() const { return 3 * rows; }
  int64_t table() const { return 4 * rows; }
  int64_t size() const { return 4 * rows + rows * width; }
};
}  // namespace

bool Engine::Impl::capture_decode(DecodeGraph& g, int64_t rows) {
  const GraphLayout at{rows, kv.blocks_for(max_context)};
  g = DecodeGraph{};
  g.idx = Tensor::zeros({at.size()}, DType::kI32, device);
  StepInputs in;
  in.rows = rows;
  in.n_decode = rows;
  in.ids = g.idx.slice(0, 0, rows);
  in.positions = g.idx.slice(0, at.pos(), at.pos() + rows);
  in.slots = g.idx.slice(0, at.slot(), at.slot() + rows);
  in.context_lens = g.idx.slice(0, at.ctx(), at.ctx() + rows);
  in.block_table = g.idx.slice(0, at.table(), at.size()).reshape({rows, at.width});
  in.out_rows = rows;
  try {
    device.begin_capture();
    try {
      g.logits = run_layers(in);
      g.capture = device.end_capture();
    } catch (...) {
      g.logits = Tensor();
      device.abort_capture();
      throw;
    }
  } catch (const Error& e) {
    // Eager steps give the same results: carry on without graphs.
    log::warn("decode graphs off on " + device.name() + ": capturing a step failed: " + e.what());
    use_decode_graphs = false;
    g = DecodeGraph{};
    return false;
  }
  g.kv_generation = kv.generation();
  log::debug("decode graph for " + std::to_string(rows) + " rows captured on " + device.name() +
             ": " + std::to_string(g.capture->num_ops()) + " ops");
  return true;
}

Tensor Engine::Impl::decode_with_graph(const std::vector<int32_t>& seq_ids,
                                       const std::vector<std::vector<int32_t>>& tokens,
                                       bool stable_logits) {
  const int64_t n = static_cast<int64_t>(seq_ids.size());
  const int64_t rows = step_rows(seq_ids.size());
  DecodeGraph& g = decode_graphs[rows];
  if ((!g.capture || g.kv_generation != kv.generation()) && !capture_decode(g, rows))
    return Tensor();

  const GraphLayout at{rows, kv.blocks_for(max_context)};
  graph_staging.assign(static_cast<size_t>(at.size()), 0);
  const int bs = kv.block_size();
  for (int64_t i = 0; i < rows; ++i) {
    int32_t id = 0, pos = 0, slot = pad_block * bs;
    if (i < n) {
      const SequenceState& s = seqs[seq_ids[i]];
      id = tokens[i][0];
      pos = static_cast<int32_t>(s.history.size());
      slot = s.blocks[pos / bs] * bs + pos % bs;
      std::copy(s.blocks.begin(), s.blocks.end(),
                graph_staging.begin() + at.table() + i * at.width);
    } else {
      graph_staging[at.table() + i * at.width] = pad_block;  // padding: one key, its own block
    }
    graph_staging[i] = id;
    graph_staging[at.pos() + i] = pos;
    graph_staging[at.slot() + i] = slot;
    graph_staging[at.ctx() + i] = pos + 1;
  }
  g.idx.copy_from_host(graph_staging.data(), graph_staging.size() * sizeof(int32_t));
  g.capture->launch();
  const Tensor logits = g.logits.slice(0, 0, n);
  return stable_logits ? logits.to(device) : logits;
}

Tensor Engine::Impl::run_layers(const StepInputs& in) {
  const int64_t prefill_rows = in.prefill_rows, n_decode = in.n_decode;
  // The wanted rows of a [T, n] tensor: a view when they are consecutive,
  // else gathered (embedding as a row gather).
  const auto select_rows = [&](const Tensor& t) {
    if (!in.gather.defined()) return t.slice(0, in.first_out_row, in.first_out_row + in.out_rows);
    return ops::embedding(in.gather, t);
  };

  const ModelConfig& c = config;
  const int64_t T = in.rows, H = c.hidden, Hq = c.n_head, Hkv = c.n_kv_head, D = c.head_dim;
  const float eps = c.rms_eps;

  Tensor x = Tensor::empty({T, H}, DType::kF32, device);
  ops::run(RMA_OP_EMBEDDING, {in.ids, weights.token_embd}, nullptr, {x});
  Tensor h = ops::rms_norm(x, weights.layers[0].attn_norm, eps);

  for (size_t l = 0; l < weights.layers.size(); ++l) {
    const LayerWeights& L = weights.layers[l];
    const Tensor q = matmul(h, L.q).reshape({T, Hq, D});
    const Tensor k = matmul(h, L.k).reshape({T, Hkv, D});
    const Tensor v = matmul(h, L.v).reshape({T, Hkv, D});
    ops::run(RMA_OP_ROPE, {q, k, in.positions}, &rope, {q, k});  // in place
    ops::run(RMA_OP_FILL_KV_CACHE, {k, v, in.slots}, nullptr, {kv.k(l), kv.v(l)});

    // Attention results land straight in their rows of one tensor.
    const Tensor att = Tensor::empty({T, Hq, D}, DType::kF32, device);
    if (prefill_rows > 0) {
      const Tensor& cu = in.cu_seqlens;
      ops::run(RMA_OP_PREFILL_ATTENTION,
               {q.slice(0, 0, prefill_rows), k.slice(0, 0, prefill_rows),
                v.slice(0, 0, prefill_rows), cu},
               &attention, {att.slice(0, 0, prefill_rows)});
    }
    if (n_decode > 0) {
      ops::run(RMA_OP_PAGED_DECODE_ATTENTION,
               {q.slice(0, prefill_rows, T), kv.k(l), kv.v(l), in.block_table, in.context_lens},
               &attention, {att.slice(0, prefill_rows, T)});
    }
    // Past the last attention only the rows whose logits are wanted matter:
    // the last layer's projection and MLP run on those alone.
    const bool last = l + 1 == weights.layers.size();
    Tensor att_rows = att.reshape({T, Hq * D});
    if (last) {
      att_rows = select_rows(att_rows);
      x = select_rows(x);
    }
    const Tensor o = matmul(att_rows, L.o);
    auto [h_mlp, x_mid] = ops::add_rms_norm(o, x, L.ffn_norm, eps);
    const Tensor gate = matmul(h_mlp, L.gate, Activation::kSilu);
    const Tensor up = matmul(h_mlp, L.up);
    const Tensor down = matmul(ops::mul(gate, up), L.down);
    const Tensor& next_norm = last ? weights.output_norm : weights.layers[l + 1].attn_norm;
    std::tie(h, x) = ops::add_rms_norm(down, x_mid, next_norm, eps);
  }
  return matmul(h, weights.head);
}

std::vector<GenerationResult> Engine::generate(const std::vector<GenerationRequest>& requests,
                                               const TokenCallback& on_token,
                                               GenerationStats* stats) {
  tokenizer();  // an Error for a model made without a tokenizer
  return impl_->generate(requests, on_token, stats);
}

}  // namespace rma::llm
