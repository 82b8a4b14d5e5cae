// rma/llm/model_file.h — one description of a model, from a GGUF file or a
// Hugging Face folder.
//
// ModelFile::open() reads either source into the same form: GGUF-style
// metadata, tensors under their GGUF names ("token_embd.weight",
// "blk.3.attn_q.weight", ...), the architecture's hyper-parameters
// (ModelConfig) and everything a tokenizer needs (TokenizerData). Tensor bytes
// are memory-mapped, never copied: a TensorInfo's `data` points into the
// mapping, which lives as long as the ModelFile.
//
// Errors (truncated, corrupt or unsupported files) are rma::Error with the
// file, the byte offset and what was expected; nothing aborts.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "rma/dtype.h"
#include "rma/llm/tokenizer.h"
#include "rma/plugin.h"
#include "rma/tensor.h"

namespace rma::llm {

// One metadata value. GGUF's scalar types are widened to the variant's
// alternatives; `type` keeps the file's own type (gguf_type numbering:
// 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string, 9 array,
// 10 u64, 11 i64, 12 f64). Arrays hold their element type in `elem_type`.
struct MetaValue {
  int32_t type = 0;
  int32_t elem_type = -1;  // arrays only
  std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<MetaValue>> value;
};

class Metadata {
 public:
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  const MetaValue* find(const std::string& key) const;
  // Typed getters: throw rma::Error naming the key when it is missing or of
  // another kind; the *_or forms return `fallback` when missing.
  int64_t get_int(const std::string& key) const;
  int64_t get_int_or(const std::string& key, int64_t fallback) const;
  double get_float(const std::string& key) const;
  double get_float_or(const std::string& key, double fallback) const;
  bool get_bool_or(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string_or(const std::string& key, const std::string& fallback) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;
  std::vector<double> get_float_array(const std::string& key) const;

  void set(const std::string& key, MetaValue v) { values_[key] = std::move(v); }
  const std::map<std::string, MetaValue>& all() const { return values_; }

 private:
  std::map<std::string, MetaValue> values_;
};

struct TensorInfo {
  std::string name;     // GGUF name
  DType dtype;          // f32 f16 bf16 q8_0 q4_0 q4_1 q4_k q5_k q6_k
  Shape shape;          // row-major, outermost first: a weight is [N, K]
  const uint8_t* data;  // in the mapping
  uint64_t nbytes;
  std::string file;      // the file holding it (shards differ)
  uint64_t file_offset;  // of its first byte in that file
};

enum class RopeScalingType { kNone, kLinear, kLlama3 };

// Hyper-parameters of a Llama-family model.
struct ModelConfig {
  std::string architecture;  // "llama" (also SmolLM/SmolLM2), "qwen2", "mistral"
  std::string name;          // general.name or the folder name
  int n_layer = 0;
  int hidden = 0;  // embedding length
  int n_head = 0;
  int n_kv_head = 0;
  int head_dim = 0;  // hidden / n_head unless given
  int ffn = 0;       // feed-forward length
  int vocab = 0;
  int context_length = 0;  // trained context
  float rms_eps = 1e-5f;
  float rope_theta = 10000.f;
  // GGUF llama/mistral files hold Q/K rows permuted by the converter, so they
  // rotate adjacent pairs (gptj); HF checkpoints and GGUF qwen2 use neox.
  rma_rope_style rope_style = RMA_ROPE_NEOX;
  RopeScalingType rope_scaling = RopeScalingType::kNone;
  float rope_factor = 1.f;
  float rope_low_freq_factor = 1.f;
  float rope_high_freq_factor = 4.f;
  int rope_original_max_position = 8192;
  int sliding_window = 0;       // 0: none (Mistral sets it)
  bool tie_embeddings = false;  // no output.weight: the head is token_embd
  bool qkv_bias = false;        // Qwen2: attn_{q,k,v}.bias present
};

// Architectures the engine runs, for error messages.
const std::vector<std::string>& supported_architectures();

// A weight already in host memory (e.g. a loaded PyTorch model's), under
// its Hugging Face name ("model.layers.0.self_attn.q_proj.weight").
struct HostTensor {
  std::string name;
  DType dtype;  // f32, f16 or bf16
  Shape shape;
  const void* data;  // dense row-major
};

class ModelFile {
 public:
  // `path` is a .gguf file or a folder with config.json and *.safetensors
  // (single file or sharded with model.safetensors.index.json).
  static std::shared_ptr<ModelFile> open(const std::string& path);
  // A Hugging Face model whose weights are in memory: `config_json` is its
  // config.json text, `tensors` point into memory that `owner` keeps alive
  // (held by the ModelFile). Read like a Hugging Face folder without a
  // tokenizer; `name` stands for the path in messages.
  static std::shared_ptr<ModelFile> from_memory(const std::string& config_json,
                                                const std::vector<HostTensor>& tensors,
                                                std::shared_ptr<void> owner,
                                                const std::string& name = "<memory>");
  virtual ~ModelFile() = default;

  const std::string& path() const { return path_; }
  const std::string& format() const { return format_; }  // "gguf" or "hf"
  const Metadata& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;
  // Throws rma::Error naming the tensor and the file when it is missing.
  const TensorInfo& get(const std::string& name) const;
  uint64_t total_tensor_bytes() const;

  // Throws rma::Error naming an unknown architecture and listing the
  // supported ones, or a missing/invalid hyper-parameter.
  ModelConfig config() const;
  TokenizerData tokenizer() const;
  bool has_tokenizer() const { return !tokenizer_.tokens.empty(); }

 protected:
  ModelFile() = default;
  std::string path_;
  std::string format_;
  Metadata metadata_;
  std::vector<TensorInfo> tensors_;
  std::vector<std::shared_ptr<void>> mappings_;  // keep the mmaps alive
  TokenizerData tokenizer_;                      // filled by the reader
};

// ------------------------------------------------------------ GGUF writing
// A tensor to write: bytes already in `dtype`'s layout.
struct TensorToWrite {
  std::string name;
  DType dtype;
  Shape shape;                    // row-major, outermost first
  std::vector<uint8_t> bytes;     // owned (converted) ...
  const uint8_t* data = nullptr;  // ... or borrowed (mmapped source); one of them
  uint64_t nbytes = 0;
};

// Writes GGUF v3 (alignment 32) atomically: to `path`.tmp, then rename, so an
// existing file is never left half-written.
void write_gguf(const std::string& path, const Metadata& metadata,
                const std::vector<TensorToWrite>& tensors);

// `rma quantize`: reads a GGUF or HF model, converts every 2-D weight matrix
// (not norms, biases, or 1-D tensors) to `type` (q8_0, q4_0, q4_1, f16, f32;
// a tensor whose row length is not a multiple of the block size stays f32 or
// f16), writes GGUF with the tokenizer and hyper-parameters (an HF folder's
// config and tokenizer become GGUF metadata; its Q/K rows are permuted to the
// GGUF llama layout). `progress` is called with (done, total) tensors.
void quantize_model(const std::string& in, const std::string& out, DType type,
                    const std::function<void(size_t, size_t)>& progress = {});

}  // namespace rma::llm
