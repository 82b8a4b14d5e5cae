// Hugging Face model folders: config.json, the weights in model.safetensors
// or in shards listed by model.safetensors.index.json, and tokenizer.json.
//
// A safetensors file is: u64 header length N (little-endian) | N bytes of
// JSON | tensor data. The JSON maps each tensor name to {"dtype", "shape",
// "data_offsets": [begin, end]}, offsets counted from the first data byte
// (8 + N); an optional "__metadata__" entry holds free-form strings.
//
// The reader renames tensors to their GGUF names and turns config.json into
// GGUF-style metadata keys (<arch>.block_count, ...), so ModelFile::config()
// and everything after it read both formats the same way.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>
#include <unordered_set>

#include "model_file_internal.h"
#include "rma/error.h"
#include "rma/llm/model_file.h"
#include "rma/llm/tokenizer.h"

namespace rma::llm {

namespace fs = std::filesystem;
using nlohmann::json;

// ------------------------------------------------------------ tensor names

std::string gguf_name_from_hf(const std::string& hf_name) {
  static const std::pair<const char*, const char*> kWholeNames[] = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  for (const auto& [hf, gguf] : kWholeNames)
    if (hf_name == hf) return gguf;

  // model.layers.<N>.<module>.<weight|bias> -> blk.<N>.<gguf module>.<weight|bias>
  static const std::string kLayerPrefix = "model.layers.";
  static const std::pair<const char*, const char*> kLayerModules[] = {
      {"input_layernorm", "attn_norm"}, {"post_attention_layernorm", "ffn_norm"},
      {"self_attn.q_proj", "attn_q"},   {"self_attn.k_proj", "attn_k"},
      {"self_attn.v_proj", "attn_v"},   {"self_attn.o_proj", "attn_output"},
      {"mlp.gate_proj", "ffn_gate"},    {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"},
  };
  if (hf_name.rfind(kLayerPrefix, 0) != 0) return hf_name;
  const size_t digits_begin = kLayerPrefix.size();
  size_t digits_end = digits_begin;
  while (digits_end < hf_name.size() &&
         std::isdigit(static_cast<unsigned char>(hf_name[digits_end])))
    ++digits_end;
  if (digits_end == digits_begin || digits_end >= hf_name.size() || hf_name[digits_end] != '.')
    return hf_name;
  const std::string layer = hf_name.substr(digits_begin, digits_end - digits_begin);
  const std::string rest = hf_name.substr(digits_end + 1);  // "<module>.<weight|bias>"
  const size_t dot = rest.rfind('.');
  if (dot == std::string::npos) return hf_name;
  const std::string module = rest.substr(0, dot), param = rest.substr(dot + 1);
  if (param != "weight" && param != "bias") return hf_name;
  for (const auto& [hf, gguf] : kLayerModules)
    if (module == hf) return "blk." + layer + "." + gguf + "." + param;
  return hf_name;
}

namespace {

// ------------------------------------------------------------ JSON files

json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kNotFound, path + ": cannot open: " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  try {
    return json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw Error(ErrorCode::kInvalidArgument,
                path + ": offset " + std::to_string(e.byte) + ": not valid JSON: " + e.what());
  }
}

std::string json_kind(const json& v) { return v.type_name(); }

// config.json fields, with errors naming the file and the field.
class ConfigJson {
 public:
  ConfigJson(json j, std::string path) : j_(std::move(j)), path_(std::move(path)) {
    if (!j_.is_object()) fail("", "expected a JSON object, found " + json_kind(j_));
  }

  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  const json& at(const char* key) const { return j_[key]; }

  std::string string_or(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_string()) fail(key, "expected a string, found " + json_kind(j_[key]));
    return j_[key].get<std::string>();
  }
  uint32_t count(const char* key) const {
    if (!has(key)) fail(key, "missing (a Llama-family config.json has it)");
    const json& v = j_[key];
    if (!v.is_number_unsigned() || v.get<uint64_t>() == 0 ||
        v.get<uint64_t>() > std::numeric_limits<uint32_t>::max())
      fail(key, "expected a positive integer, found " + v.dump());
    return static_cast<uint32_t>(v.get<uint64_t>());
  }
  double number(const char* key) const { return number_in(j_, key, key); }
  bool boolean_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_boolean()) fail(key, "expected true or false, found " + j_[key].dump());
    return j_[key].get<bool>();
  }
  double number_in(const json& obj, const char* key, const std::string& field) const {
    if (!obj.contains(key) || obj[key].is_null()) fail(field, "missing");
    if (!obj[key].is_number()) fail(field, "expected a number, found " + obj[key].dump());
    return obj[key].get<double>();
  }

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(ErrorCode::kInvalidArgument,
                path_ + ": " + (field.empty() ? "" : "'" + field + "': ") + what);
  }

 private:
  json j_;
  std::string path_;
};

const std::pair<const char*, const char*> kCausalLmArchitectures[] = {
    {"LlamaForCausalLM", "llama"},
    {"Qwen2ForCausalLM", "qwen2"},
    {"MistralForCausalLM", "mistral"},
};

// The architecture name config() checks: a supported one ("llama"), or
// what config.json says when it is something else, so the error can name it.
std::string architecture_of(const ConfigJson& cfg) {
  std::string hf_arch;
  if (cfg.has("architectures")) {
    const json& a = cfg.at("architectures");
    if (!a.is_array() || a.empty() || !a[0].is_string())
      cfg.fail("architectures", "expected a list of class names, found " + a.dump());
    hf_arch = a[0].get<std::string>();
  }
  const std::string model_type = cfg.string_or("model_type", "");
  for (const auto& [cls, arch] : kCausalLmArchitectures)
    if (hf_arch == cls) return arch;
  if (!hf_arch.empty()) return hf_arch;
  if (model_type.empty()) cfg.fail("", "names neither 'architectures' nor 'model_type'");
  return model_type;
}

// Rope base and scaling: transformers 4 writes "rope_theta" and
// "rope_scaling"; transformers 5 one "rope_parameters" object holding both.
void add_rope_metadata(const ConfigJson& cfg, const std::string& p, Metadata& md) {
  const char* field = cfg.has("rope_scaling")      ? "rope_scaling"
                      : cfg.has("rope_parameters") ? "rope_parameters"
                                                   : nullptr;
  const json* rope = field ? &cfg.at(field) : nullptr;
  if (rope && !rope->is_object()) cfg.fail(field, "expected an object, found " + rope->dump());
  if (cfg.has("rope_theta")) {
    md.set(p + "rope.freq_base", meta_f32(static_cast<float>(cfg.number("rope_theta"))));
  } else if (rope && rope->contains("rope_theta")) {
    md.set(p + "rope.freq_base", meta_f32(static_cast<float>(cfg.number_in(
                                     *rope, "rope_theta", std::string(field) + ".rope_theta"))));
  }
  if (!rope) return;

  const std::string f = field;
  const char* type_key = rope->contains("rope_type") ? "rope_type" : "type";
  if (!rope->contains(type_key) || !(*rope)[type_key].is_string())
    cfg.fail(f, "expected a string 'rope_type', found " + rope->dump());
  const std::string type = (*rope)[type_key].get<std::string>();
  if (type == "default") return;
  md.set(p + "rope.scaling.type", meta_string(type));  // config() rejects unknown types
  auto number = [&](const char* key) {
    return static_cast<float>(cfg.number_in(*rope, key, f + "." + key));
  };
  if (type == "linear" || type == "llama3")
    md.set(p + "rope.scaling.factor", meta_f32(number("factor")));
  if (type != "llama3") return;
  md.set(p + "rope.scaling.low_freq_factor", meta_f32(number("low_freq_factor")));
  md.set(p + "rope.scaling.high_freq_factor", meta_f32(number("high_freq_factor")));
  const double original = cfg.number_in(*rope, "original_max_position_embeddings",
                                        f + ".original_max_position_embeddings");
  if (!(original >= 1 && original <= std::numeric_limits<uint32_t>::max()))
    cfg.fail(f + ".original_max_position_embeddings",
             "expected a positive integer, found " + std::to_string(original));
  md.set(p + "rope.scaling.original_context_length", meta_u32(static_cast<uint32_t>(original)));
}

// config.json -> GGUF-style metadata (the keys llama.cpp's converter writes).
Metadata metadata_from_config(const ConfigJson& cfg, const std::string& folder_name) {
  Metadata md;
  const std::string arch = architecture_of(cfg);
  md.set("general.architecture", meta_string(arch));
  md.set("general.name", meta_string(folder_name));
  const auto& supported = supported_architectures();
  if (std::find(supported.begin(), supported.end(), arch) == supported.end())
    return md;  // config() names the architecture as unsupported

  const std::string p = arch + ".";
  md.set(p + "block_count", meta_u32(cfg.count("num_hidden_layers")));
  md.set(p + "embedding_length", meta_u32(cfg.count("hidden_size")));
  md.set(p + "feed_forward_length", meta_u32(cfg.count("intermediate_size")));
  md.set(p + "attention.head_count", meta_u32(cfg.count("num_attention_heads")));
  if (cfg.has("num_key_value_heads"))
    md.set(p + "attention.head_count_kv", meta_u32(cfg.count("num_key_value_heads")));
  if (cfg.has("head_dim")) md.set(p + "attention.key_length", meta_u32(cfg.count("head_dim")));
  md.set(p + "context_length", meta_u32(cfg.count("max_position_embeddings")));
  md.set(p + "vocab_size", meta_u32(cfg.count("vocab_size")));
  if (cfg.has("rms_norm_eps"))
    md.set(p + "attention.layer_norm_rms_epsilon",
           meta_f32(static_cast<float>(cfg.number("rms_norm_eps"))));
  // Mistral always honours sliding_window; Qwen2 only with use_sliding_window.
  if (cfg.has("sliding_window") &&
      (arch == "mistral" || cfg.boolean_or("use_sliding_window", false)))
    md.set(p + "attention.sliding_window", meta_u32(cfg.count("sliding_window")));

  add_rope_metadata(cfg, p, md);
  return md;
}

// ------------------------------------------------------------ safetensors

std::optional<DType> dtype_from_safetensors(const std::string& dtype) {
  if (dtype == "F32") return DType::kF32;
  if (dtype == "F16") return DType::kF16;
  if (dtype == "BF16") return DType::kBF16;
  return std::nullopt;
}

// Every tensor in one mapped safetensors file, under its HF name.
std::vector<TensorInfo> read_safetensors(const MappedFile& f) {
  auto fail = [&](uint64_t offset, const std::string& what) {
    throw Error(ErrorCode::kInvalidArgument,
                f.path + ": offset " + std::to_string(offset) + ": " + what);
  };
  if (f.size < 8)
    fail(0, "expected the 8-byte header length, found " + std::to_string(f.size) + " bytes");
  uint64_t header_len = 0;
  std::memcpy(&header_len, f.data, 8);
  if (header_len > f.size - 8)
    fail(0, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                std::to_string(f.size) + " bytes)");
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = f.size - data_start;

  json header;
  try {
    header = json::parse(f.data + 8, f.data + data_start);
  } catch (const json::parse_error& e) {
    fail(8 + (e.byte > 0 ? e.byte - 1 : 0),
         std::string("the JSON header does not parse: ") + e.what());
  }
  if (!header.is_object()) fail(8, "expected a JSON object header, found " + json_kind(header));

  std::vector<TensorInfo> tensors;
  for (const auto& [hf_name, entry] : header.items()) {
    if (hf_name == "__metadata__") continue;
    const std::string what = "tensor '" + hf_name + "': ";
    if (!entry.is_object() || !entry.contains("dtype") || !entry["dtype"].is_string() ||
        !entry.contains("shape") || !entry["shape"].is_array() || !entry.contains("data_offsets") ||
        !entry["data_offsets"].is_array())
      fail(8, what + "expected {\"dtype\", \"shape\", \"data_offsets\"}, found " + entry.dump());
    const std::string dtype_name = entry["dtype"].get<std::string>();
    const std::optional<DType> dtype = dtype_from_safetensors(dtype_name);
    if (!dtype)
      fail(8, what + "dtype '" + dtype_name + "' is not supported (supported: F32, F16, BF16)");

    TensorInfo t;
    t.name = hf_name;
    t.dtype = *dtype;
    for (const json& d : entry["shape"]) {
      if (!d.is_number_unsigned() ||
          d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(8, what + "expected a shape of non-negative integers, found " + entry["shape"].dump());
      t.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
    }
    try {
      t.nbytes = tensor_bytes(t.dtype, t.shape, what + "shape");
    } catch (const Error& e) {
      fail(8, e.message());
    }
    const json& offsets = entry["data_offsets"];
    if (offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      fail(8, what + "expected data_offsets [begin, end], found " + offsets.dump());
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (begin > end || end > data_size)
      fail(8, what + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                  ") lie outside the " + std::to_string(data_size) + " data bytes of the file");
    if (end - begin != t.nbytes)
      fail(8, what + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                  ") hold " + std::to_string(end - begin) + " bytes, but " + dtype_name + " " +
                  to_string(t.shape) + " takes " + std::to_string(t.nbytes));
    t.file = f.path;
    t.file_offset = data_start + begin;
    t.data = f.data + t.file_offset;
    tensors.push_back(std::move(t));
  }

  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->file_offset < b->file_offset;
  });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->file_offset < by_offset[i - 1]->file_offset + by_offset[i - 1]->nbytes)
      fail(by_offset[i]->file_offset,
           "tensor '" + by_offset[i]->name + "' overlaps tensor '" + by_offset[i - 1]->name + "'");
  return tensors;
}

// GGUF order: token_embd, then layer by layer, then the output tensors.
std::tuple<int, int64_t, std::string> gguf_order_key(const std::string& n) {
  if (n.rfind("token_embd.", 0) == 0) return {0, 0, n};
  if (n.rfind("blk.", 0) == 0) {
    int64_t layer = 0;
    for (size_t i = 4; i < n.size() && std::isdigit(static_cast<unsigned char>(n[i])) &&
                       layer < (int64_t{1} << 40);
         ++i)
      layer = layer * 10 + (n[i] - '0');
    return {1, layer, n};
  }
  if (n.rfind("output", 0) == 0) return {2, 0, n};
  return {3, 0, n};
}

// Puts the tensors in GGUF order and refuses an untied model without
// lm_head.weight: transformers would give it a random head; we refuse rather
// than silently tying.
void sort_and_check_head(const ConfigJson& cfg, const std::string& config_path,
                         ModelFileParts& parts) {
  std::stable_sort(parts.tensors.begin(), parts.tensors.end(),
                   [](const TensorInfo& a, const TensorInfo& b) {
                     return gguf_order_key(a.name) < gguf_order_key(b.name);
                   });
  const auto& supported = supported_architectures();
  const bool known =
      std::find(supported.begin(), supported.end(),
                parts.metadata.get_string("general.architecture")) != supported.end();
  if (known && !cfg.boolean_or("tie_word_embeddings", false) &&
      std::none_of(parts.tensors.begin(), parts.tensors.end(),
                   [](const TensorInfo& t) { return t.name == "output.weight"; }))
    throw Error(ErrorCode::kInvalidArgument,
                config_path + ": tie_word_embeddings is false but no file holds lm_head.weight");
}

}  // namespace

std::shared_ptr<ModelFile> open_hf_memory(const std::string& config_json,
                                          const std::vector<HostTensor>& tensors,
                                          std::shared_ptr<void> owner, const std::string& name) {
  const std::string config_path = name + " config";
  json j;
  try {
    j = json::parse(config_json);
  } catch (const json::parse_error& e) {
    throw Error(ErrorCode::kInvalidArgument, config_path + ": offset " + std::to_string(e.byte) +
                                                 ": not valid JSON: " + e.what());
  }
  const ConfigJson cfg(std::move(j), config_path);

  ModelFileParts parts;
  parts.path = name;
  parts.format = "hf";
  parts.metadata = metadata_from_config(cfg, name);
  std::unordered_set<std::string> seen;
  for (const HostTensor& h : tensors) {
    if (h.name.ends_with("rotary_emb.inv_freq")) continue;  // derived from the config
    if (h.dtype != DType::kF32 && h.dtype != DType::kF16 && h.dtype != DType::kBF16)
      throw Error(ErrorCode::kInvalidArgument, name + ": tensor '" + h.name + "' is " +
                                                   std::string(rma::name(h.dtype)) +
                                                   "; expected f32, f16 or bf16");
    for (int64_t d : h.shape)
      if (d < 0)
        throw Error(ErrorCode::kInvalidArgument,
                    name + ": tensor '" + h.name + "' has a negative dim in " + to_string(h.shape));
    TensorInfo t;
    t.name = gguf_name_from_hf(h.name);
    t.dtype = h.dtype;
    t.shape = h.shape;
    t.data = static_cast<const uint8_t*>(h.data);
    t.nbytes = static_cast<uint64_t>(bytes_for(h.dtype, rma::numel(h.shape)));
    t.file = name;
    t.file_offset = 0;
    if (!seen.insert(t.name).second)
      throw Error(ErrorCode::kInvalidArgument, name + ": tensor '" + h.name + "' maps to '" +
                                                   t.name + "', which another tensor already has");
    parts.tensors.push_back(std::move(t));
  }
  parts.mappings.push_back(std::move(owner));
  sort_and_check_head(cfg, config_path, parts);
  return assemble(std::move(parts));
}

std::shared_ptr<ModelFile> open_hf_folder(const std::string& folder) {
  const fs::path dir(folder);
  const std::string config_path = (dir / "config.json").string();
  if (!fs::exists(config_path))
    throw Error(ErrorCode::kNotFound,
                folder +
                    ": no config.json (a Hugging Face model folder holds config.json, "
                    "model.safetensors or sharded safetensors, and tokenizer.json)");
  const ConfigJson cfg(read_json_file(config_path), config_path);

  ModelFileParts parts;
  parts.path = folder;
  parts.format = "hf";
  std::string folder_name = dir.filename().string();
  if (folder_name.empty()) folder_name = dir.parent_path().filename().string();  // "a/b/"
  parts.metadata = metadata_from_config(cfg, folder_name);

  // Which tensors live in which file.
  std::vector<std::string> files;                 // safetensors file names, in order
  std::map<std::string, std::string> weight_map;  // HF name -> file (sharded only)
  const std::string index_path = (dir / "model.safetensors.index.json").string();
  if (fs::exists(dir / "model.safetensors")) {
    files.push_back("model.safetensors");
  } else if (fs::exists(index_path)) {
    const json index = read_json_file(index_path);
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      throw Error(ErrorCode::kInvalidArgument,
                  index_path + ": expected an object with a 'weight_map' object");
    for (const auto& [name, file] : index["weight_map"].items()) {
      if (!file.is_string())
        throw Error(ErrorCode::kInvalidArgument, index_path + ": 'weight_map' entry '" + name +
                                                     "': expected a file name, found " +
                                                     file.dump());
      const std::string f = file.get<std::string>();
      if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..")
        throw Error(ErrorCode::kInvalidArgument, index_path + ": 'weight_map' entry '" + name +
                                                     "': '" + f + "' is not a file in the folder");
      weight_map[name] = f;
      if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(f);
    }
  } else {
    throw Error(ErrorCode::kNotFound,
                folder + ": no model.safetensors and no model.safetensors.index.json");
  }

  std::unordered_set<std::string> seen_hf, seen_gguf;
  for (const std::string& file : files) {
    MappedFile mapped = map_file((dir / file).string());
    advise_will_need(mapped);
    for (TensorInfo& t : read_safetensors(mapped)) {
      // A sharded checkpoint's index says which shard holds each tensor.
      if (!weight_map.empty()) {
        const auto it = weight_map.find(t.name);
        if (it == weight_map.end() || it->second != file) continue;
      }
      // Rotary inverse frequencies are derived from the config, not weights.
      if (t.name.ends_with("rotary_emb.inv_freq")) continue;
      seen_hf.insert(t.name);
      const std::string hf_name = t.name;
      t.name = gguf_name_from_hf(hf_name);
      if (!seen_gguf.insert(t.name).second)
        throw Error(ErrorCode::kInvalidArgument, t.file + ": tensor '" + hf_name + "' maps to '" +
                                                     t.name +
                                                     "', which another tensor already has");
      parts.tensors.push_back(std::move(t));
    }
    parts.mappings.push_back(std::move(mapped.keep_alive));
  }
  for (const auto& [name, file] : weight_map)
    if (!seen_hf.count(name) && !name.ends_with("rotary_emb.inv_freq"))
      throw Error(
          ErrorCode::kInvalidArgument,
          index_path + ": tensor '" + name + "' is mapped to " + file + ", which does not hold it");
  sort_and_check_head(cfg, config_path, parts);

  if (fs::exists(dir / "tokenizer.json"))
    parts.tokenizer = load_tokenizer_json((dir / "tokenizer.json").string());
  return assemble(std::move(parts));
}

}  // namespace rma::llm
