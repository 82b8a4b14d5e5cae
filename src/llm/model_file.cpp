// ModelFile: opening (GGUF file or Hugging Face folder), metadata getters,
// tensor lookup, and the architecture's hyper-parameters (config()), which
// both formats share because the HF reader writes GGUF-style metadata keys.
#include "rma/llm/model_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>
#include <system_error>
#include <thread>

#include "model_file_internal.h"
#include "rma/error.h"
#include "rma/quant.h"

namespace rma::llm {

// ------------------------------------------------------------ files

MappedFile map_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw Error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInvalidArgument,
                path + ": cannot open: " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(ErrorCode::kInvalidArgument, path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::kInvalidArgument, path + ": not a regular file");
  }
  MappedFile mapped;
  mapped.path = path;
  mapped.size = static_cast<uint64_t>(st.st_size);
  if (mapped.size == 0) {  // mmap refuses length 0; an empty file has no bytes to point at
    ::close(fd);
    return mapped;
  }
  void* addr = ::mmap(nullptr, mapped.size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping keeps its own reference to the file
  if (addr == MAP_FAILED)
    throw Error(ErrorCode::kInvalidArgument, path + ": cannot memory-map " +
                                                 std::to_string(mapped.size) +
                                                 " bytes: " + std::strerror(err));
  const uint64_t size = mapped.size;
  mapped.data = static_cast<const uint8_t*>(addr);
  mapped.keep_alive = std::shared_ptr<void>(addr, [size](void* p) { ::munmap(p, size); });
  return mapped;
}

// The kernel reads ahead at most its readahead window (read_ahead_kb,
// 128 KiB by default) per MADV_WILLNEED call, so a file is advised in chunks
// that size; those calls allocate and submit the reads (~20 ms for 100 MB
// from disk), so they run on a thread of their own, which keeps the mapping
// alive until it is done.
constexpr uint64_t kWillNeedChunk = uint64_t{128} << 10;

void advise_will_need(const MappedFile& file) {
  if (!file.data || !file.keep_alive) return;
  const long page = ::sysconf(_SC_PAGESIZE), pages = ::sysconf(_SC_PHYS_PAGES);
  if (page > 0 && pages > 0 &&
      file.size > static_cast<uint64_t>(pages) / 2 * static_cast<uint64_t>(page))
    return;
  auto advise = [data = file.data, size = file.size, keep = file.keep_alive] {
    for (uint64_t at = 0; at < size; at += kWillNeedChunk)  // page-aligned chunks
      ::madvise(const_cast<uint8_t*>(data) + at, std::min(kWillNeedChunk, size - at),
                MADV_WILLNEED);
  };
  if (file.size <= kWillNeedChunk) return advise();
  try {
    std::thread(std::move(advise)).detach();
  } catch (const std::system_error&) {
    // No thread to spare: the pages come in on first touch as before.
  }
}

namespace {

// ModelFile's constructor is protected: readers hand their parts to this.
class AssembledModelFile : public ModelFile {
 public:
  explicit AssembledModelFile(ModelFileParts parts) {
    path_ = std::move(parts.path);
    format_ = std::move(parts.format);
    metadata_ = std::move(parts.metadata);
    tensors_ = std::move(parts.tensors);
    mappings_ = std::move(parts.mappings);
    tokenizer_ = std::move(parts.tokenizer);
  }
};

}  // namespace

std::shared_ptr<ModelFile> assemble(ModelFileParts parts) {
  return std::make_shared<AssembledModelFile>(std::move(parts));
}

uint64_t tensor_bytes(DType dtype, const Shape& shape, const std::string& what) {
  if (shape.empty())
    throw Error(ErrorCode::kInvalidArgument, what + ": a tensor needs at least one dimension");
  uint64_t elems = 1;
  for (int64_t d : shape) {
    if (d <= 0)
      throw Error(ErrorCode::kInvalidArgument,
                  what + ": dimensions must be positive, got " + to_string(shape));
    if (__builtin_mul_overflow(elems, static_cast<uint64_t>(d), &elems))
      throw Error(ErrorCode::kInvalidArgument,
                  what + ": element count of " + to_string(shape) + " overflows");
  }
  const auto block = static_cast<uint64_t>(block_elems(dtype));
  if (static_cast<uint64_t>(shape.back()) % block != 0)
    throw Error(ErrorCode::kInvalidArgument,
                what + ": " + std::string(name(dtype)) + " rows must be a multiple of " +
                    std::to_string(block) + " elements, got a row length of " +
                    std::to_string(shape.back()));
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(elems / block, static_cast<uint64_t>(block_bytes(dtype)), &bytes))
    throw Error(ErrorCode::kInvalidArgument,
                what + ": byte size of " + to_string(shape) + " overflows");
  return bytes;
}

// ------------------------------------------------------------ metadata values

std::string gguf_value_type_name(int32_t type) {
  static const char* const kNames[kGgufValueTypeCount] = {"u8",  "i8",  "u16",  "i16",    "u32",
                                                          "i32", "f32", "bool", "string", "array",
                                                          "u64", "i64", "f64"};
  if (type < 0 || type >= kGgufValueTypeCount) return "type " + std::to_string(type);
  return kNames[type];
}

MetaValue meta_u32(uint32_t v) { return {kGgufU32, -1, uint64_t{v}}; }
MetaValue meta_i32(int32_t v) { return {kGgufI32, -1, int64_t{v}}; }
MetaValue meta_f32(float v) { return {kGgufF32, -1, double{v}}; }
MetaValue meta_bool(bool v) { return {kGgufBool, -1, v}; }
MetaValue meta_string(std::string v) { return {kGgufString, -1, std::move(v)}; }

MetaValue meta_string_array(const std::vector<std::string>& v) {
  std::vector<MetaValue> items;
  items.reserve(v.size());
  for (const std::string& s : v) items.push_back(meta_string(s));
  return {kGgufArray, kGgufString, std::move(items)};
}

MetaValue meta_i32_array(const std::vector<int32_t>& v) {
  std::vector<MetaValue> items;
  items.reserve(v.size());
  for (int32_t x : v) items.push_back(meta_i32(x));
  return {kGgufArray, kGgufI32, std::move(items)};
}

MetaValue meta_f32_array(const std::vector<float>& v) {
  std::vector<MetaValue> items;
  items.reserve(v.size());
  for (float x : v) items.push_back(meta_f32(x));
  return {kGgufArray, kGgufF32, std::move(items)};
}

namespace {

std::string describe(const MetaValue& v) {
  if (v.type == kGgufArray) return "an array of " + gguf_value_type_name(v.elem_type);
  return "a " + gguf_value_type_name(v.type);
}

[[noreturn]] void wrong_kind(const std::string& key, const std::string& expected,
                             const MetaValue& v) {
  throw Error(ErrorCode::kInvalidArgument,
              "metadata key '" + key + "': expected " + expected + ", found " + describe(v));
}

int64_t as_int(const std::string& key, const MetaValue& v) {
  if (const auto* u = std::get_if<uint64_t>(&v.value)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw Error(ErrorCode::kInvalidArgument,
                  "metadata key '" + key + "': value " + std::to_string(*u) + " is out of range");
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&v.value)) return *i;
  wrong_kind(key, "an integer", v);
}

double as_float(const std::string& key, const MetaValue& v) {
  if (const auto* d = std::get_if<double>(&v.value)) return *d;
  if (std::holds_alternative<uint64_t>(v.value) || std::holds_alternative<int64_t>(v.value))
    return static_cast<double>(as_int(key, v));
  wrong_kind(key, "a number", v);
}

const std::vector<MetaValue>& as_array(const std::string& key, const MetaValue& v,
                                       const std::string& expected) {
  if (const auto* items = std::get_if<std::vector<MetaValue>>(&v.value)) return *items;
  wrong_kind(key, expected, v);
}

}  // namespace

const MetaValue* Metadata::find(const std::string& key) const {
  const auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

static const MetaValue& require_key(const Metadata& md, const std::string& key) {
  const MetaValue* v = md.find(key);
  if (!v) throw Error(ErrorCode::kNotFound, "metadata key '" + key + "' is missing");
  return *v;
}

int64_t Metadata::get_int(const std::string& key) const {
  return as_int(key, require_key(*this, key));
}

int64_t Metadata::get_int_or(const std::string& key, int64_t fallback) const {
  const MetaValue* v = find(key);
  return v ? as_int(key, *v) : fallback;
}

double Metadata::get_float(const std::string& key) const {
  return as_float(key, require_key(*this, key));
}

double Metadata::get_float_or(const std::string& key, double fallback) const {
  const MetaValue* v = find(key);
  return v ? as_float(key, *v) : fallback;
}

bool Metadata::get_bool_or(const std::string& key, bool fallback) const {
  const MetaValue* v = find(key);
  if (!v) return fallback;
  if (const auto* b = std::get_if<bool>(&v->value)) return *b;
  wrong_kind(key, "a bool", *v);
}

std::string Metadata::get_string(const std::string& key) const {
  const MetaValue& v = require_key(*this, key);
  if (const auto* s = std::get_if<std::string>(&v.value)) return *s;
  wrong_kind(key, "a string", v);
}

std::string Metadata::get_string_or(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

std::vector<std::string> Metadata::get_string_array(const std::string& key) const {
  const MetaValue& v = require_key(*this, key);
  const auto& items = as_array(key, v, "an array of strings");
  std::vector<std::string> out;
  out.reserve(items.size());
  for (const MetaValue& item : items) {
    const auto* s = std::get_if<std::string>(&item.value);
    if (!s) wrong_kind(key, "an array of strings", v);
    out.push_back(*s);
  }
  return out;
}

std::vector<int64_t> Metadata::get_int_array(const std::string& key) const {
  const MetaValue& v = require_key(*this, key);
  const auto& items = as_array(key, v, "an array of integers");
  std::vector<int64_t> out;
  out.reserve(items.size());
  for (const MetaValue& item : items) {
    if (!std::holds_alternative<uint64_t>(item.value) &&
        !std::holds_alternative<int64_t>(item.value))
      wrong_kind(key, "an array of integers", v);
    out.push_back(as_int(key, item));
  }
  return out;
}

std::vector<double> Metadata::get_float_array(const std::string& key) const {
  const MetaValue& v = require_key(*this, key);
  const auto& items = as_array(key, v, "an array of numbers");
  std::vector<double> out;
  out.reserve(items.size());
  for (const MetaValue& item : items) {
    if (std::holds_alternative<bool>(item.value) ||
        std::holds_alternative<std::string>(item.value) ||
        std::holds_alternative<std::vector<MetaValue>>(item.value))
      wrong_kind(key, "an array of numbers", v);
    out.push_back(as_float(key, item));
  }
  return out;
}

// ------------------------------------------------------------ ModelFile

const std::vector<std::string>& supported_architectures() {
  static const std::vector<std::string> archs = {"llama", "qwen2", "mistral"};
  return archs;
}

std::shared_ptr<ModelFile> ModelFile::from_memory(const std::string& config_json,
                                                  const std::vector<HostTensor>& tensors,
                                                  std::shared_ptr<void> owner,
                                                  const std::string& name) {
  return open_hf_memory(config_json, tensors, std::move(owner), name);
}

std::shared_ptr<ModelFile> ModelFile::open(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw Error(ErrorCode::kNotFound, path + ": no such file or folder");
  if (fs::is_directory(st)) return open_hf_folder(path);

  char magic[4] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(magic, sizeof(magic));
  const auto got = static_cast<size_t>(in.gcount());
  if (got == 4 && std::memcmp(magic, "GGUF", 4) == 0) return open_gguf(path);
  if (fs::path(path).extension() == ".safetensors")
    throw Error(ErrorCode::kInvalidArgument,
                path +
                    ": a lone safetensors file; pass the folder that holds it with "
                    "config.json (and tokenizer.json)");
  std::string found;
  for (size_t i = 0; i < got; ++i) {
    const auto c = static_cast<unsigned char>(magic[i]);
    char buf[8];
    std::snprintf(buf, sizeof(buf), c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
    found += buf;
  }
  throw Error(ErrorCode::kInvalidArgument,
              path +
                  ": offset 0: expected a GGUF file (magic 'GGUF') or a Hugging Face folder, "
                  "found " +
                  (got == 0 ? std::string("an empty file") : "'" + found + "'"));
}

const TensorInfo* ModelFile::find(const std::string& name) const {
  for (const TensorInfo& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

const TensorInfo& ModelFile::get(const std::string& name) const {
  if (const TensorInfo* t = find(name)) return *t;
  throw Error(ErrorCode::kNotFound, path_ + ": no tensor '" + name + "' (" +
                                        std::to_string(tensors_.size()) + " tensors)");
}

uint64_t ModelFile::total_tensor_bytes() const {
  uint64_t total = 0;
  for (const TensorInfo& t : tensors_) total += t.nbytes;
  return total;
}

TokenizerData ModelFile::tokenizer() const {
  if (tokenizer_.tokens.empty())
    throw Error(ErrorCode::kNotFound,
                path_ + (format_ == "hf"
                             ? ": no tokenizer: the folder has no tokenizer.json"
                             : ": no tokenizer: the GGUF file has no tokenizer.ggml.* metadata"));
  return tokenizer_;
}

namespace {

// config() without the path prefix on its messages.
class ConfigBuilder {
 public:
  explicit ConfigBuilder(const ModelFile& model) : model_(model), md_(model.metadata()) {}

  ModelConfig build() {
    ModelConfig c;
    c.architecture = md_.get_string("general.architecture");
    const auto& archs = supported_architectures();
    if (std::find(archs.begin(), archs.end(), c.architecture) == archs.end()) {
      std::string list;
      for (const std::string& a : archs) list += (list.empty() ? "" : ", ") + a;
      throw Error(ErrorCode::kUnsupported,
                  "architecture '" + c.architecture + "' is not supported; supported: " + list);
    }
    const std::string p = c.architecture + ".";
    c.name = md_.get_string_or("general.name",
                               std::filesystem::path(model_.path()).filename().stem().string());
    c.n_layer = positive(p + "block_count");
    c.hidden = positive(p + "embedding_length");
    c.ffn = positive(p + "feed_forward_length");
    c.n_head = positive(p + "attention.head_count");
    c.n_kv_head =
        md_.has(p + "attention.head_count_kv") ? positive(p + "attention.head_count_kv") : c.n_head;
    if (c.n_head % c.n_kv_head != 0)
      fail(p + "attention.head_count " + std::to_string(c.n_head) +
           " is not a multiple of attention.head_count_kv " + std::to_string(c.n_kv_head));
    if (md_.has(p + "attention.key_length")) {
      c.head_dim = positive(p + "attention.key_length");
      if (md_.has(p + "attention.value_length") &&
          positive(p + "attention.value_length") != c.head_dim)
        fail(p + "attention.value_length differs from attention.key_length " +
             std::to_string(c.head_dim) + " (unsupported)");
    } else {
      if (c.hidden % c.n_head != 0)
        fail(p + "embedding_length " + std::to_string(c.hidden) +
             " is not a multiple of attention.head_count " + std::to_string(c.n_head) +
             " and attention.key_length is not given");
      c.head_dim = c.hidden / c.n_head;
    }
    if (c.head_dim % 2 != 0) fail("head dimension " + std::to_string(c.head_dim) + " is odd");
    if (md_.has(p + "rope.dimension_count") && positive(p + "rope.dimension_count") != c.head_dim)
      fail(p + "rope.dimension_count " + md_value(p + "rope.dimension_count") +
           " differs from the head dimension " + std::to_string(c.head_dim) +
           " (partial rotary embeddings are not supported)");
    c.context_length = positive(p + "context_length");
    c.rms_eps = static_cast<float>(md_.get_float_or(p + "attention.layer_norm_rms_epsilon", 1e-5));
    c.rope_theta = static_cast<float>(md_.get_float_or(p + "rope.freq_base", 10000.0));
    if (!(c.rms_eps > 0.f) || !(c.rope_theta > 0.f))
      fail("attention.layer_norm_rms_epsilon and rope.freq_base must be positive, got " +
           std::to_string(c.rms_eps) + " and " + std::to_string(c.rope_theta));
    // GGUF's llama converter permutes Q/K rows so that adjacent pairs rotate;
    // qwen2 keeps the HF (neox) layout, as does any HF checkpoint.
    c.rope_style =
        model_.format() == "gguf" && c.architecture != "qwen2" ? RMA_ROPE_GPTJ : RMA_ROPE_NEOX;
    read_rope_scaling(p, c);
    // 0 (or absent): every position attends to the whole context.
    if (md_.get_int_or(p + "attention.sliding_window", 0) != 0)
      c.sliding_window = positive(p + "attention.sliding_window");

    const TensorInfo& embd = tensor("token_embd.weight");
    if (embd.shape.size() != 2 || embd.shape[1] != c.hidden ||
        embd.shape[0] > std::numeric_limits<int32_t>::max())
      fail("tensor 'token_embd.weight': expected shape [vocab, " + std::to_string(c.hidden) +
           "], found " + to_string(embd.shape));
    c.vocab = static_cast<int>(embd.shape[0]);
    if (md_.has(p + "vocab_size") && md_.get_int(p + "vocab_size") != c.vocab)
      fail(p + "vocab_size " + md_value(p + "vocab_size") +
           " differs from the rows of token_embd.weight " + to_string(embd.shape));
    c.tie_embeddings = model_.find("output.weight") == nullptr;
    c.qkv_bias = model_.find("blk.0.attn_q.bias") != nullptr;
    check_shapes(c);
    return c;
  }

 private:
  [[noreturn]] static void fail(const std::string& what) {
    throw Error(ErrorCode::kInvalidArgument, what);
  }

  std::string md_value(const std::string& key) const {
    const MetaValue* v = md_.find(key);
    if (!v) return "(missing)";
    if (const auto* s = std::get_if<std::string>(&v->value)) return "'" + *s + "'";
    if (std::holds_alternative<double>(v->value)) return std::to_string(md_.get_float(key));
    if (std::holds_alternative<uint64_t>(v->value) || std::holds_alternative<int64_t>(v->value))
      return std::to_string(md_.get_int(key));
    return describe(*v);
  }

  int positive(const std::string& key) const {
    const int64_t v = md_.get_int(key);
    if (v <= 0 || v > std::numeric_limits<int32_t>::max())
      fail("metadata key '" + key + "': expected a positive 32-bit count, found " +
           std::to_string(v));
    return static_cast<int>(v);
  }

  const TensorInfo& tensor(const std::string& name) const {
    const TensorInfo* t = model_.find(name);
    if (!t) fail("required tensor '" + name + "' is missing");
    return *t;
  }

  void read_rope_scaling(const std::string& p, ModelConfig& c) const {
    const std::string type = md_.get_string_or(p + "rope.scaling.type", "none");
    if (type != "none" && type != "linear" && type != "llama3")
      fail(p + "rope.scaling.type '" + type +
           "' is not supported (supported: none, linear, llama3)");
    if (md_.has(p + "rope.scaling.original_context_length"))
      c.rope_original_max_position = positive(p + "rope.scaling.original_context_length");
    const std::vector<double> divisors = rope_freqs(c);
    if (type == "none") {
      // llama.cpp's Llama 3.1/3.2 files carry llama3 scaling as this tensor
      // rather than as parameters: recover the parameters from it.
      if (!divisors.empty()) rope_scaling_from_divisors(divisors, c);
      return;
    }
    c.rope_factor = static_cast<float>(md_.get_float(p + "rope.scaling.factor"));
    if (!(c.rope_factor > 0.f))
      fail(p + "rope.scaling.factor must be positive, got " + std::to_string(c.rope_factor));
    if (type == "linear") {
      c.rope_scaling = RopeScalingType::kLinear;
    } else {
      c.rope_scaling = RopeScalingType::kLlama3;
      c.rope_low_freq_factor =
          static_cast<float>(md_.get_float_or(p + "rope.scaling.low_freq_factor", 1.0));
      c.rope_high_freq_factor =
          static_cast<float>(md_.get_float_or(p + "rope.scaling.high_freq_factor", 4.0));
      if (!(c.rope_low_freq_factor > 0.f) || !(c.rope_high_freq_factor > c.rope_low_freq_factor))
        fail(p + "rope.scaling: llama3 needs 0 < low_freq_factor < high_freq_factor, got " +
             std::to_string(c.rope_low_freq_factor) + " and " +
             std::to_string(c.rope_high_freq_factor));
    }
    // Both given: llama.cpp would apply the tensor on top of the parameters,
    // which the rope op cannot; accept only a tensor that says the same.
    if (!divisors.empty())
      check_divisors(divisors, c, "disagrees with the " + p + "rope.scaling.* metadata,");
  }

  // ---- rope_freqs.weight: per-frequency divisors of the inverse frequencies

  static constexpr const char* kRopeFreqs = "rope_freqs.weight";
  static constexpr double kDivisorTolerance = 1e-4;  // relative
  static constexpr const char* kClosestFit =
      "does not hold rope scaling divisors; the closest fit is";

  // The tensor's values, or none when the file has no such tensor.
  std::vector<double> rope_freqs(const ModelConfig& c) const {
    const TensorInfo* t = model_.find(kRopeFreqs);
    if (!t) return {};
    const int64_t n = c.head_dim / 2;
    if (t->shape != Shape{n})
      fail(std::string("tensor '") + kRopeFreqs + "': expected shape [" + std::to_string(n) +
           "] (one divisor per rotary frequency, head dimension " + std::to_string(c.head_dim) +
           "), found " + to_string(t->shape));
    if (!is_float(t->dtype))
      fail(std::string("tensor '") + kRopeFreqs + "': expected f32 divisors, found " +
           std::string(name(t->dtype)));
    std::vector<float> values(static_cast<size_t>(n));
    dequantize_row(t->dtype, t->data, values.data(), n);
    std::vector<double> divisors(values.begin(), values.end());
    for (size_t i = 0; i < divisors.size(); ++i)
      if (!std::isfinite(divisors[i]) || !(divisors[i] > 0.0))
        fail(std::string("tensor '") + kRopeFreqs + "': element " + std::to_string(i) + " is " +
             std::to_string(divisors[i]) + "; expected a positive divisor");
    return divisors;
  }

  // inv_freq[i] before scaling (docs/ops.md "rope"), rotary_dim = head_dim.
  static double base_inv_freq(const ModelConfig& c, size_t i) {
    return std::pow(double{c.rope_theta}, -2.0 * double(i) / double(c.head_dim));
  }

  // What c's scaling divides inv_freq[i] by, as the rope op computes it.
  static double scaling_divisor(const ModelConfig& c, size_t i) {
    switch (c.rope_scaling) {
      case RopeScalingType::kNone:
        return 1.0;
      case RopeScalingType::kLinear:
        return c.rope_factor;
      case RopeScalingType::kLlama3:
        break;
    }
    const double wavelen = 2.0 * std::numbers::pi / base_inv_freq(c, i);
    const double orig = c.rope_original_max_position, low = c.rope_low_freq_factor,
                 high = c.rope_high_freq_factor, factor = c.rope_factor;
    if (wavelen < orig / high) return 1.0;
    if (wavelen > orig / low) return factor;
    const double s = (orig / wavelen - low) / (high - low);
    return 1.0 / ((1.0 - s) / factor + s);
  }

  // Throws naming the largest disagreement between the tensor and c's
  // scaling; `what` leads the message up to the scaling's description.
  static void check_divisors(const std::vector<double>& divisors, const ModelConfig& c,
                             const std::string& what) {
    size_t worst = 0;
    double worst_rel = 0.0;
    for (size_t i = 0; i < divisors.size(); ++i) {
      const double rel = std::abs(scaling_divisor(c, i) - divisors[i]) / divisors[i];
      if (rel > worst_rel) worst_rel = rel, worst = i;
    }
    if (worst_rel <= kDivisorTolerance) return;
    auto num = [](double v) {
      char text[32];
      std::snprintf(text, sizeof(text), "%.7g", v);
      return std::string(text);
    };
    std::string scaling = "no scaling";
    if (c.rope_scaling == RopeScalingType::kLinear)
      scaling = "linear scaling by " + num(c.rope_factor);
    if (c.rope_scaling == RopeScalingType::kLlama3)
      scaling = "llama3 scaling (factor " + num(c.rope_factor) + ", low_freq_factor " +
                num(c.rope_low_freq_factor) + ", high_freq_factor " + num(c.rope_high_freq_factor) +
                ", original context " + std::to_string(c.rope_original_max_position) + ")";
    char buf[192];
    std::snprintf(buf, sizeof(buf),
                  "the largest disagreement is divisor %zu: the tensor has %.7g, that scaling "
                  "gives %.7g (relative difference %.3g, more than %.0e)",
                  worst, divisors[worst], scaling_divisor(c, worst), worst_rel, kDivisorTolerance);
    fail(std::string("tensor '") + kRopeFreqs + "' " + what + " " + scaling + ": " + buf);
  }

  // llama.cpp's converter stores, per frequency, inv_freq / llama3-scaled
  // inv_freq: 1 for high frequencies, `factor` for low ones and, between,
  // 1/d = (1-s)/factor + s with s = A/wavelen - B, A = orig/(high-low),
  // B = low/(high-low). Fitting A and B to the band recovers low and high
  // for any orig (only the ratios matter), so orig stays the file's
  // original context (8192 when not given). Then every divisor is checked.
  static void rope_scaling_from_divisors(const std::vector<double>& d, ModelConfig& c) {
    const double factor = *std::max_element(d.begin(), d.end());
    if (factor <= 1.0 + kDivisorTolerance) {
      c.rope_scaling = RopeScalingType::kNone;  // all ones
      check_divisors(d, c, kClosestFit);
      return;
    }
    // x = 1/wavelen; s as the band's formula gives it from the divisor.
    std::vector<double> band_x, band_s;
    double keep_x = std::numeric_limits<double>::infinity();  // lowest frequency kept as is
    double scaled_x = 0.0;  // highest frequency divided by the whole factor
    for (size_t i = 0; i < d.size(); ++i) {
      const double x = base_inv_freq(c, i) / (2.0 * std::numbers::pi);
      if (std::abs(d[i] - 1.0) <= kDivisorTolerance) {
        keep_x = std::min(keep_x, x);
      } else if (std::abs(d[i] - factor) <= kDivisorTolerance * factor) {
        scaled_x = std::max(scaled_x, x);
      } else {
        band_x.push_back(x);
        band_s.push_back((1.0 / d[i] - 1.0 / factor) / (1.0 - 1.0 / factor));
      }
    }
    c.rope_factor = static_cast<float>(factor);
    if (band_x.empty() && std::isinf(keep_x)) {
      c.rope_scaling = RopeScalingType::kLinear;  // every frequency divided by factor
      check_divisors(d, c, kClosestFit);
      return;
    }
    double a = 0.0, b = 0.0;  // s = a * x - b
    if (band_x.size() >= 2) {
      // Least squares over the band.
      double mx = 0.0, ms = 0.0;
      for (size_t k = 0; k < band_x.size(); ++k) mx += band_x[k], ms += band_s[k];
      mx /= double(band_x.size());
      ms /= double(band_x.size());
      double sxx = 0.0, sxs = 0.0;
      for (size_t k = 0; k < band_x.size(); ++k) {
        sxx += (band_x[k] - mx) * (band_x[k] - mx);
        sxs += (band_x[k] - mx) * (band_s[k] - ms);
      }
      a = sxx > 0.0 ? sxs / sxx : 0.0;
      b = a * mx - ms;
    } else if (band_x.size() == 1) {
      // One point of the band: any line through it that reaches s = 1 before
      // the next kept frequency and s = 0 after the last scaled one (and
      // keeps low_freq_factor > 0, i.e. s(0) < 0); twice the steepest bound.
      const double x0 = band_x[0], s0 = band_s[0];
      a = s0 / (x0 - scaled_x);
      if (!std::isinf(keep_x)) a = std::max(a, (1.0 - s0) / (keep_x - x0));
      a *= 2.0;
      b = a * x0 - s0;
    } else {
      // A pure step: a band that falls between the two sets, holding none.
      const double gap = keep_x - scaled_x;
      a = 3.0 / gap;
      b = a * (scaled_x + gap / 3.0);
    }
    const double orig = c.rope_original_max_position;
    const double low = b * orig / a, high = (b + 1.0) * orig / a;
    constexpr double kFloatMin = std::numeric_limits<float>::min(),
                     kFloatMax = std::numeric_limits<float>::max();
    if (!(a > 0.0) || !(low >= kFloatMin) || !(high <= kFloatMax) ||
        !(static_cast<float>(high) > static_cast<float>(low))) {
      // No llama3 shape fits (e.g. scaled frequencies above kept ones); name
      // the tensor and how far plain linear scaling is from it.
      c.rope_scaling = RopeScalingType::kLinear;
      check_divisors(d, c,
                     "does not hold rope scaling divisors (no llama3 band fits them); against");
      return;
    }
    c.rope_scaling = RopeScalingType::kLlama3;
    c.rope_low_freq_factor = static_cast<float>(low);
    c.rope_high_freq_factor = static_cast<float>(high);
    check_divisors(d, c, kClosestFit);
  }

  void expect_shape(const std::string& name, const Shape& want) const {
    const TensorInfo& t = tensor(name);
    if (t.shape != want)
      fail("tensor '" + name + "': expected shape " + to_string(want) + ", found " +
           to_string(t.shape));
  }

  void check_shapes(const ModelConfig& c) const {
    const int64_t hidden = c.hidden, q_rows = int64_t{c.n_head} * c.head_dim,
                  kv_rows = int64_t{c.n_kv_head} * c.head_dim, ffn = c.ffn;
    expect_shape("output_norm.weight", {hidden});
    if (!c.tie_embeddings) expect_shape("output.weight", {c.vocab, hidden});
    for (int l = 0; l < c.n_layer; ++l) {
      const std::string b = "blk." + std::to_string(l) + ".";
      expect_shape(b + "attn_norm.weight", {hidden});
      expect_shape(b + "attn_q.weight", {q_rows, hidden});
      expect_shape(b + "attn_k.weight", {kv_rows, hidden});
      expect_shape(b + "attn_v.weight", {kv_rows, hidden});
      expect_shape(b + "attn_output.weight", {hidden, q_rows});
      expect_shape(b + "ffn_norm.weight", {hidden});
      expect_shape(b + "ffn_gate.weight", {ffn, hidden});
      expect_shape(b + "ffn_up.weight", {ffn, hidden});
      expect_shape(b + "ffn_down.weight", {hidden, ffn});
      if (c.qkv_bias) {
        expect_shape(b + "attn_q.bias", {q_rows});
        expect_shape(b + "attn_k.bias", {kv_rows});
        expect_shape(b + "attn_v.bias", {kv_rows});
      }
    }
  }

  const ModelFile& model_;
  const Metadata& md_;
};

}  // namespace

ModelConfig ModelFile::config() const {
  try {
    return ConfigBuilder(*this).build();
  } catch (const Error& e) {
    throw Error(e.code(), path_ + ": " + e.message());
  }
}

}  // namespace rma::llm
