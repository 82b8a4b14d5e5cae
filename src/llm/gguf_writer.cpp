// GGUF v3 writer (layout: see gguf_reader.cpp). The header — magic, counts,
// metadata and tensor infos — is encoded in memory first, so every check
// happens before the file is touched; tensor data then streams to
// `<path>.tmp`, which is renamed over `path` only once complete and synced.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "model_file_internal.h"
#include "rma/error.h"
#include "rma/llm/model_file.h"
#include "rma/log.h"

namespace rma::llm {

namespace {

constexpr uint32_t kGgufVersion = 3;
constexpr uint64_t kAlignment = 32;  // GGUF's default, so no general.alignment key is needed

uint64_t align_up(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

// Little-endian encoding of header values into a byte buffer.
class Encoder {
 public:
  template <class T>
  void put(T v) {
    const size_t at = out_.size();
    out_.resize(at + sizeof(T));
    std::memcpy(out_.data() + at, &v, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void pad() { out_.resize(align_up(out_.size()), 0); }

  // One metadata value, encoded as `type` (the value's own type, or the
  // element type of the array holding it). `key` names errors.
  void put_value(const std::string& key, const MetaValue& v, int32_t type) {
    switch (type) {
      case kGgufU8:
        put(static_cast<uint8_t>(integer(key, v, type, 0, UINT8_MAX)));
        break;
      case kGgufI8:
        put(static_cast<int8_t>(integer(key, v, type, INT8_MIN, INT8_MAX)));
        break;
      case kGgufU16:
        put(static_cast<uint16_t>(integer(key, v, type, 0, UINT16_MAX)));
        break;
      case kGgufI16:
        put(static_cast<int16_t>(integer(key, v, type, INT16_MIN, INT16_MAX)));
        break;
      case kGgufU32:
        put(static_cast<uint32_t>(integer(key, v, type, 0, UINT32_MAX)));
        break;
      case kGgufI32:
        put(static_cast<int32_t>(integer(key, v, type, INT32_MIN, INT32_MAX)));
        break;
      case kGgufU64:
        put(static_cast<uint64_t>(integer(key, v, type, 0, UINT64_MAX)));
        break;
      case kGgufI64:
        put(static_cast<int64_t>(integer(key, v, type, INT64_MIN, INT64_MAX)));
        break;
      case kGgufF32:
        put(static_cast<float>(number(key, v)));
        break;
      case kGgufF64:
        put(number(key, v));
        break;
      case kGgufBool:
        put(static_cast<uint8_t>(boolean(key, v)));
        break;
      case kGgufString:
        put_string(string(key, v));
        break;
      case kGgufArray: {
        const auto* items = std::get_if<std::vector<MetaValue>>(&v.value);
        if (!items) mismatch(key, "an array", v);
        // An array built without an element type takes its first item's.
        const int32_t elem = v.elem_type >= 0 ? v.elem_type
                             : items->empty() ? kGgufU8
                                              : items->front().type;
        if (elem < 0 || elem >= kGgufValueTypeCount)
          throw Error(ErrorCode::kInvalidArgument,
                      "metadata '" + key + "': invalid array element type " + std::to_string(elem));
        put<uint32_t>(static_cast<uint32_t>(elem));
        put<uint64_t>(items->size());
        for (const MetaValue& item : *items) put_value(key, item, elem);
        break;
      }
      default:
        throw Error(ErrorCode::kInvalidArgument,
                    "metadata '" + key + "': invalid value type " + std::to_string(type));
    }
  }

  std::vector<uint8_t>& bytes() { return out_; }

 private:
  [[noreturn]] static void mismatch(const std::string& key, const std::string& expected,
                                    const MetaValue& v) {
    static const char* const kHeld[] = {
        "an unsigned integer", "a signed integer", "a number", "a bool", "a string", "an array"};
    throw Error(ErrorCode::kInvalidArgument, "metadata '" + key + "': expected " + expected +
                                                 " for its type, found " + kHeld[v.value.index()]);
  }

  // Integers in [lo, hi], compared without overflow across signedness.
  static __int128 integer(const std::string& key, const MetaValue& v, int32_t type, __int128 lo,
                          __int128 hi) {
    __int128 x;
    if (const auto* u = std::get_if<uint64_t>(&v.value)) {
      x = *u;
    } else if (const auto* i = std::get_if<int64_t>(&v.value)) {
      x = *i;
    } else {
      mismatch(key, "an integer", v);
    }
    if (x < lo || x > hi)
      throw Error(ErrorCode::kInvalidArgument,
                  "metadata '" + key + "': value " +
                      (x < 0 ? std::to_string(static_cast<int64_t>(x))
                             : std::to_string(static_cast<uint64_t>(x))) +
                      " does not fit a " + gguf_value_type_name(type));
    return x;
  }
  static double number(const std::string& key, const MetaValue& v) {
    if (const auto* d = std::get_if<double>(&v.value)) return *d;
    if (const auto* u = std::get_if<uint64_t>(&v.value)) return static_cast<double>(*u);
    if (const auto* i = std::get_if<int64_t>(&v.value)) return static_cast<double>(*i);
    mismatch(key, "a number", v);
  }
  static bool boolean(const std::string& key, const MetaValue& v) {
    if (const auto* b = std::get_if<bool>(&v.value)) return *b;
    mismatch(key, "a bool", v);
  }
  static const std::string& string(const std::string& key, const MetaValue& v) {
    if (const auto* s = std::get_if<std::string>(&v.value)) return *s;
    mismatch(key, "a string", v);
  }

  std::vector<uint8_t> out_;
};

// Header bytes (through the padding before the tensor data) and the data
// size of each tensor.
std::vector<uint8_t> encode_header(const Metadata& metadata,
                                   const std::vector<GgufTensorHeader>& headers,
                                   std::vector<uint64_t>& tensor_sizes) {
  // GGUF readers assume the default alignment when the key is absent; we
  // always write with that alignment, so a copied key must not say otherwise.
  std::vector<const std::pair<const std::string, MetaValue>*> pairs;
  for (const auto& kv : metadata.all())
    if (kv.first != "general.alignment") pairs.push_back(&kv);
  // Convention: general.architecture first (tools print it as the file's kind).
  std::stable_partition(pairs.begin(), pairs.end(),
                        [](const auto* kv) { return kv->first == "general.architecture"; });

  Encoder enc;
  enc.put<uint32_t>(0x46554747u);  // "GGUF" read as a little-endian u32
  enc.put<uint32_t>(kGgufVersion);
  enc.put<uint64_t>(headers.size());
  enc.put<uint64_t>(pairs.size());
  for (const auto* kv : pairs) {
    if (kv->first.empty())
      throw Error(ErrorCode::kInvalidArgument, "metadata: an empty key cannot be written");
    enc.put_string(kv->first);
    const int32_t type = kv->second.type;
    if (type < 0 || type >= kGgufValueTypeCount)
      throw Error(ErrorCode::kInvalidArgument,
                  "metadata '" + kv->first + "': invalid value type " + std::to_string(type));
    enc.put<uint32_t>(static_cast<uint32_t>(type));
    enc.put_value(kv->first, kv->second, type);
  }

  std::unordered_set<std::string> names;
  uint64_t offset = 0;
  tensor_sizes.clear();
  for (const GgufTensorHeader& h : headers) {
    const std::string what = "tensor '" + h.name + "'";
    if (h.name.empty()) throw Error(ErrorCode::kInvalidArgument, "a tensor has an empty name");
    if (!names.insert(h.name).second)
      throw Error(ErrorCode::kInvalidArgument, what + " is listed twice");
    const std::optional<uint32_t> type = gguf_type_from_dtype(h.dtype);
    if (!type)
      throw Error(ErrorCode::kInvalidArgument,
                  what + ": dtype " + std::string(name(h.dtype)) +
                      " has no GGUF tensor type; supported: " + supported_gguf_types());
    if (h.shape.empty() || h.shape.size() > 4)
      throw Error(ErrorCode::kInvalidArgument,
                  what + ": GGUF holds 1 to 4 dimensions, got " + to_string(h.shape));
    const uint64_t nbytes = tensor_bytes(h.dtype, h.shape, what);
    enc.put_string(h.name);
    enc.put<uint32_t>(static_cast<uint32_t>(h.shape.size()));
    for (auto d = h.shape.rbegin(); d != h.shape.rend(); ++d)  // innermost first
      enc.put<uint64_t>(static_cast<uint64_t>(*d));
    enc.put<uint32_t>(*type);
    enc.put<uint64_t>(offset);
    offset = align_up(offset + nbytes);
    tensor_sizes.push_back(nbytes);
  }
  enc.pad();
  return std::move(enc.bytes());
}

// `<path>.tmp`, removed again unless commit() renamed it over `path`.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path) : path_(path), tmp_(path + ".tmp") {
    file_ = std::fopen(tmp_.c_str(), "wb");
    if (!file_) fail("cannot create " + tmp_);
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  }
  ~AtomicFile() {
    if (file_) std::fclose(file_);
    if (!committed_) std::remove(tmp_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n) {
    if (n != 0 && std::fwrite(data, 1, n, file_) != n) fail("cannot write " + tmp_);
    written_ += n;
  }
  void pad() {
    static const uint8_t kZeros[kAlignment] = {};
    write(kZeros, align_up(written_) - written_);
  }
  void commit() {
    if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0) fail("cannot write " + tmp_);
    const int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) fail("cannot write " + tmp_);
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
      fail("cannot rename " + tmp_ + " to " + path_);
    committed_ = true;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    const int err = errno;
    throw Error(ErrorCode::kInvalidArgument,
                path_ + ": " + what + ": " + std::strerror(err) + " (the file is unchanged)");
  }

  std::string path_, tmp_;
  FILE* file_ = nullptr;
  uint64_t written_ = 0;
  bool committed_ = false;
};

}  // namespace

void write_gguf_streaming(const std::string& path, const Metadata& metadata,
                          const std::vector<GgufTensorHeader>& headers,
                          const std::function<TensorToWrite(size_t)>& load,
                          const std::function<void(size_t, size_t)>& progress) {
  std::vector<uint64_t> sizes;
  std::vector<uint8_t> header;
  try {
    header = encode_header(metadata, headers, sizes);
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.message());
  }
  AtomicFile out(path);
  out.write(header.data(), header.size());
  for (size_t i = 0; i < headers.size(); ++i) {
    const TensorToWrite t = load(i);
    const bool borrowed = t.data != nullptr;
    if (borrowed && !t.bytes.empty())
      throw Error(ErrorCode::kInvalidArgument,
                  path + ": tensor '" + headers[i].name + "': give either bytes or data, not both");
    const uint8_t* data = borrowed ? t.data : t.bytes.data();
    const uint64_t n = borrowed ? t.nbytes : t.bytes.size();
    if (n != sizes[i])
      throw Error(ErrorCode::kInvalidArgument,
                  path + ": tensor '" + headers[i].name + "': " +
                      std::string(name(headers[i].dtype)) + " " + to_string(headers[i].shape) +
                      " takes " + std::to_string(sizes[i]) + " bytes, got " + std::to_string(n));
    out.write(data, n);
    out.pad();
    if (progress) progress(i + 1, headers.size());
  }
  out.commit();
}

void write_gguf(const std::string& path, const Metadata& metadata,
                const std::vector<TensorToWrite>& tensors) {
  std::vector<GgufTensorHeader> headers;
  headers.reserve(tensors.size());
  for (const TensorToWrite& t : tensors) {
    if (t.data && !t.bytes.empty())
      throw Error(ErrorCode::kInvalidArgument,
                  path + ": tensor '" + t.name + "': give either bytes or data, not both");
    headers.push_back({t.name, t.dtype, t.shape});
  }
  write_gguf_streaming(path, metadata, headers, [&](size_t i) {
    const TensorToWrite& t = tensors[i];
    TensorToWrite view;  // borrows the caller's bytes: no copy
    view.data = t.data ? t.data : t.bytes.data();
    view.nbytes = t.data ? t.nbytes : t.bytes.size();
    return view;
  });
}

// ------------------------------------------------------------ tokenizer

void add_tokenizer_metadata(const TokenizerData& t, Metadata& md) {
  md.set("tokenizer.ggml.model", meta_string(t.model));
  if (!t.pre.empty()) md.set("tokenizer.ggml.pre", meta_string(t.pre));
  md.set("tokenizer.ggml.tokens", meta_string_array(t.tokens));
  if (!t.scores.empty()) md.set("tokenizer.ggml.scores", meta_f32_array(t.scores));
  if (!t.token_types.empty()) md.set("tokenizer.ggml.token_type", meta_i32_array(t.token_types));
  if (!t.merges.empty()) md.set("tokenizer.ggml.merges", meta_string_array(t.merges));
  const std::pair<const char*, int32_t> ids[] = {
      {"tokenizer.ggml.bos_token_id", t.bos_id},
      {"tokenizer.ggml.eos_token_id", t.eos_id},
      {"tokenizer.ggml.unknown_token_id", t.unk_id},
      {"tokenizer.ggml.padding_token_id", t.pad_id},
  };
  for (const auto& [key, id] : ids)
    if (id >= 0) md.set(key, meta_u32(static_cast<uint32_t>(id)));
  md.set("tokenizer.ggml.add_bos_token", meta_bool(t.add_bos));
  md.set("tokenizer.ggml.add_eos_token", meta_bool(t.add_eos));
  md.set("tokenizer.ggml.add_space_prefix", meta_bool(t.add_space_prefix));
  if (!t.chat_template.empty()) md.set("tokenizer.chat_template", meta_string(t.chat_template));

  // GGUF names at most two end-of-generation ids beyond eos and those the
  // reader recognises by their text (end_of_generation_ids).
  const std::vector<int32_t> implied = end_of_generation_ids(t.tokens, t.eos_id, {});
  std::vector<int32_t> extra;
  for (int32_t id : t.eog_ids)
    if (std::find(implied.begin(), implied.end(), id) == implied.end()) extra.push_back(id);
  if (!extra.empty())
    md.set("tokenizer.ggml.eot_token_id", meta_u32(static_cast<uint32_t>(extra[0])));
  if (extra.size() > 1)
    md.set("tokenizer.ggml.eom_token_id", meta_u32(static_cast<uint32_t>(extra[1])));
  if (extra.size() > 2)
    log::warn("GGUF metadata holds two extra end-of-generation tokens; " +
              std::to_string(extra.size() - 2) + " more are not written");
}

}  // namespace rma::llm
