// GGUF v2/v3 reader. A GGUF file is, little-endian throughout:
//
//   "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count pairs:        string key | u32 value type | value
//   tensor_count infos:    string name | u32 n_dims | u64 ne[n_dims] | u32 type | u64 offset
//   padding up to the alignment (metadata general.alignment, default 32)
//   tensor data:           tensor i starts at data_start + offset_i (aligned)
//
// A string is a u64 byte length and the bytes (no terminator); an array value
// is u32 element type | u64 count | elements (arrays may nest). ne[0] is the
// innermost (row) length, so dims are reversed into rma's outermost-first
// shapes. Versions 2 and 3 share this layout (version 1 had 32-bit counts).
//
// Every count and length read from the file is checked against the bytes that
// remain before it is used, so a corrupt file fails with an rma::Error naming
// the file and byte offset instead of allocating gigabytes or reading past the
// end. Tensor bytes are not copied: TensorInfo::data points into the mapping.
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "model_file_internal.h"
#include "rma/error.h"
#include "rma/llm/model_file.h"

namespace rma::llm {

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader reads little-endian values in place");

// ------------------------------------------------------------ tensor types

namespace {

// ggml_type ids of the dtypes rma has, and the names of all assigned ids
// (for error messages about the ones it does not have).
struct GgufTypeMapping {
  uint32_t id;
  DType dtype;
};
constexpr GgufTypeMapping kSupportedTypes[] = {
    {0, DType::kF32},   {1, DType::kF16},   {30, DType::kBF16},
    {8, DType::kQ8_0},  {2, DType::kQ4_0},  {3, DType::kQ4_1},
    {12, DType::kQ4_K}, {13, DType::kQ5_K}, {14, DType::kQ6_K},
};

struct GgufTypeName {
  uint32_t id;
  const char* name;
};
constexpr GgufTypeName kTypeNames[] = {
    {0, "f32"},     {1, "f16"},    {2, "q4_0"},     {3, "q4_1"},    {6, "q5_0"},     {7, "q5_1"},
    {8, "q8_0"},    {9, "q8_1"},   {10, "q2_K"},    {11, "q3_K"},   {12, "q4_K"},    {13, "q5_K"},
    {14, "q6_K"},   {15, "q8_K"},  {16, "iq2_xxs"}, {17, "iq2_xs"}, {18, "iq3_xxs"}, {19, "iq1_s"},
    {20, "iq4_nl"}, {21, "iq3_s"}, {22, "iq2_s"},   {23, "iq4_xs"}, {24, "i8"},      {25, "i16"},
    {26, "i32"},    {27, "i64"},   {28, "f64"},     {29, "iq1_m"},  {30, "bf16"},    {34, "tq1_0"},
    {35, "tq2_0"},  {39, "mxfp4"},
};

}  // namespace

std::optional<DType> dtype_from_gguf_type(uint32_t gguf_type) {
  for (const GgufTypeMapping& m : kSupportedTypes)
    if (m.id == gguf_type) return m.dtype;
  return std::nullopt;
}

std::optional<uint32_t> gguf_type_from_dtype(DType dtype) {
  for (const GgufTypeMapping& m : kSupportedTypes)
    if (m.dtype == dtype) return m.id;
  return std::nullopt;
}

std::string gguf_type_name(uint32_t gguf_type) {
  for (const GgufTypeName& t : kTypeNames)
    if (t.id == gguf_type) return t.name;
  return "unknown";
}

std::string supported_gguf_types() {
  std::string list;
  for (const GgufTypeMapping& m : kSupportedTypes)
    list += (list.empty() ? "" : ", ") + gguf_type_name(m.id);
  return list;
}

// ------------------------------------------------------------ the parser

namespace {

constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;
constexpr int kMaxArrayDepth = 8;  // real files nest at most once

// Smallest encoding of one value of `type`, to bound counts by the bytes left.
uint64_t min_value_bytes(int32_t type) {
  switch (type) {
    case kGgufU8:
    case kGgufI8:
    case kGgufBool:
      return 1;
    case kGgufU16:
    case kGgufI16:
      return 2;
    case kGgufU32:
    case kGgufI32:
    case kGgufF32:
      return 4;
    case kGgufU64:
    case kGgufI64:
    case kGgufF64:
      return 8;
    case kGgufString:
      return 8;  // the length
    case kGgufArray:
      return 4 + 8;  // element type and count
    default:
      return 1;
  }
}

class GgufParser {
 public:
  GgufParser(const uint8_t* data, uint64_t size, const std::string& file)
      : data_(data), size_(size), file_(file) {}

  ModelFileParts parse() {
    read_header();
    read_metadata();
    read_tensor_infos();
    place_tensor_data();
    ModelFileParts parts;
    parts.path = file_;
    parts.format = "gguf";
    parts.tokenizer = tokenizer_from_metadata(metadata_, file_, value_offsets_);
    parts.metadata = std::move(metadata_);
    parts.tensors = std::move(tensors_);
    return parts;
  }

 private:
  // ---- the byte cursor

  [[noreturn]] void fail(uint64_t offset, const std::string& what) const {
    throw Error(ErrorCode::kInvalidArgument,
                file_ + ": offset " + std::to_string(offset) + ": " + context_ + what);
  }

  uint64_t remaining() const { return size_ - pos_; }

  void need(uint64_t n, const char* what) const {
    if (n <= remaining()) return;
    fail(pos_, std::string("expected ") + what + " (" + std::to_string(n) + " bytes), found " +
                   (remaining() == 0 ? std::string("the end of the file")
                                     : "only " + std::to_string(remaining()) +
                                           " bytes before the end of the file"));
  }

  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* what) {
    const uint64_t at = pos_;
    const auto len = read<uint64_t>(what);
    if (len > remaining())
      fail(at, std::string(what) + ": length " + std::to_string(len) +
                   " runs past the end of the file (" + std::to_string(remaining()) +
                   " bytes left)");
    std::string s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return s;
  }

  // A count of items each at least `min_bytes` long: more than the bytes
  // left can hold is corrupt, and is rejected before anything is allocated.
  uint64_t read_count(uint64_t min_bytes, const char* what) {
    const uint64_t at = pos_;
    const auto count = read<uint64_t>(what);
    const uint64_t most = remaining() / min_bytes;
    if (count > most)
      fail(at, std::string("expected ") + what + " of at most " + std::to_string(most) + " (the " +
                   std::to_string(remaining()) + " bytes left hold no more), found " +
                   std::to_string(count));
    return count;
  }

  // ---- header

  void read_header() {
    need(4, "the magic 'GGUF'");
    if (std::memcmp(data_, "GGUF", 4) != 0) {
      std::string found;
      for (int i = 0; i < 4; ++i) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), data_[i] >= 0x20 && data_[i] < 0x7f ? "%c" : "\\x%02x",
                      data_[i]);
        found += buf;
      }
      fail(0, "expected the magic 'GGUF', found '" + found + "'");
    }
    pos_ = 4;
    const auto version = read<uint32_t>("the GGUF version");
    if (version == 1) fail(4, "GGUF version 1 is not supported (expected version 2 or 3)");
    if (version == __builtin_bswap32(2u) || version == __builtin_bswap32(3u))
      fail(4, "a big-endian GGUF file (version " + std::to_string(__builtin_bswap32(version)) +
                  "), which is not supported");
    if (version != 2 && version != 3)
      fail(4, "expected GGUF version 2 or 3, found " + std::to_string(version));
    // A tensor info takes at least 32 bytes, a key/value pair 13.
    tensor_count_ = read_count(8 + 4 + 8 + 4 + 8, "a tensor count");
    kv_count_ = read_count(8 + 4 + 1, "a metadata count");
  }

  // ---- metadata

  void read_metadata() {
    for (uint64_t i = 0; i < kv_count_; ++i) {
      context_ = "metadata pair " + std::to_string(i) + ": ";
      const uint64_t at = pos_;
      std::string key = read_string("a key");
      if (key.empty()) fail(at, "expected a key, found an empty string");
      if (metadata_.has(key)) fail(at, "duplicate key '" + key + "'");
      context_ = "metadata '" + key + "': ";
      const int32_t type = read_type("a value type");
      value_offsets_[key] = pos_;
      metadata_.set(key, read_value(type, 0));
    }
    context_.clear();
  }

  int32_t read_type(const char* what) {
    const auto type = read<uint32_t>(what);
    if (type >= static_cast<uint32_t>(kGgufValueTypeCount))
      fail(pos_ - 4, std::string("expected ") + what + " 0 to " +
                         std::to_string(kGgufValueTypeCount - 1) + ", found " +
                         std::to_string(type));
    return static_cast<int32_t>(type);
  }

  MetaValue read_value(int32_t type, int depth) {
    MetaValue v;
    v.type = type;
    switch (type) {
      case kGgufU8:
        v.value = uint64_t{read<uint8_t>("a u8")};
        break;
      case kGgufI8:
        v.value = int64_t{read<int8_t>("an i8")};
        break;
      case kGgufU16:
        v.value = uint64_t{read<uint16_t>("a u16")};
        break;
      case kGgufI16:
        v.value = int64_t{read<int16_t>("an i16")};
        break;
      case kGgufU32:
        v.value = uint64_t{read<uint32_t>("a u32")};
        break;
      case kGgufI32:
        v.value = int64_t{read<int32_t>("an i32")};
        break;
      case kGgufU64:
        v.value = read<uint64_t>("a u64");
        break;
      case kGgufI64:
        v.value = read<int64_t>("an i64");
        break;
      case kGgufF32:
        v.value = double{read<float>("an f32")};
        break;
      case kGgufF64:
        v.value = read<double>("an f64");
        break;
      case kGgufBool: {
        const auto b = read<uint8_t>("a bool");
        if (b > 1) fail(pos_ - 1, "expected a bool (0 or 1), found " + std::to_string(b));
        v.value = b == 1;
        break;
      }
      case kGgufString:
        v.value = read_string("a string");
        break;
      case kGgufArray: {
        if (depth >= kMaxArrayDepth)
          fail(pos_, "arrays nested deeper than " + std::to_string(kMaxArrayDepth));
        v.elem_type = read_type("an array element type");
        const uint64_t count = read_count(min_value_bytes(v.elem_type), "an array length");
        std::vector<MetaValue> items;
        items.reserve(count);
        for (uint64_t i = 0; i < count; ++i) items.push_back(read_value(v.elem_type, depth + 1));
        v.value = std::move(items);
        break;
      }
    }
    return v;
  }

  // ---- tensor infos

  void read_tensor_infos() {
    std::unordered_set<std::string> names;
    tensors_.reserve(tensor_count_);
    for (uint64_t i = 0; i < tensor_count_; ++i) {
      context_ = "tensor info " + std::to_string(i) + ": ";
      const uint64_t at = pos_;
      TensorInfo t;
      t.name = read_string("a tensor name");
      if (t.name.empty()) fail(at, "expected a tensor name, found an empty string");
      if (!names.insert(t.name).second) fail(at, "duplicate tensor name '" + t.name + "'");
      context_ = "tensor '" + t.name + "': ";

      const uint64_t dims_at = pos_;
      const auto n_dims = read<uint32_t>("a dimension count");
      if (n_dims == 0 || n_dims > kMaxDims)
        fail(dims_at, "expected 1 to " + std::to_string(kMaxDims) + " dimensions, found " +
                          std::to_string(n_dims));
      t.shape.assign(n_dims, 0);
      for (uint32_t d = 0; d < n_dims; ++d) {
        const auto ne = read<uint64_t>("a dimension");
        if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          fail(pos_ - 8, "dimension " + std::to_string(d) + ": expected a positive size, found " +
                             std::to_string(ne));
        t.shape[n_dims - 1 - d] = static_cast<int64_t>(ne);  // ne[0] is innermost
      }

      const uint64_t type_at = pos_;
      const auto type = read<uint32_t>("a tensor type");
      const std::optional<DType> dtype = dtype_from_gguf_type(type);
      if (!dtype)
        fail(type_at, "tensor type " + std::to_string(type) + " (" + gguf_type_name(type) +
                          ") is not supported; supported: " + supported_gguf_types());
      t.dtype = *dtype;
      try {
        t.nbytes = tensor_bytes(t.dtype, t.shape, "shape " + to_string(t.shape));
      } catch (const Error& e) {
        fail(dims_at, e.message());
      }

      offset_fields_.push_back(pos_);
      t.file_offset = read<uint64_t>("a data offset");  // relative until place_tensor_data()
      t.file = file_;
      tensors_.push_back(std::move(t));
    }
    context_.clear();
  }

  // ---- tensor data

  uint64_t alignment() const {
    const MetaValue* v = metadata_.find("general.alignment");
    if (!v) return kDefaultAlignment;
    const auto* u = std::get_if<uint64_t>(&v->value);
    const uint64_t at = value_offsets_.at("general.alignment");
    if (!u)
      fail(at, "general.alignment: expected an unsigned integer, found a " +
                   gguf_value_type_name(v->type));
    if (*u == 0 || !std::has_single_bit(*u) || *u > (uint64_t{1} << 30))
      fail(at,
           "general.alignment: expected a power of two up to 2^30, found " + std::to_string(*u));
    return *u;
  }

  void place_tensor_data() {
    const uint64_t align = alignment();
    const uint64_t data_start = (pos_ + align - 1) / align * align;
    if (!tensors_.empty() && data_start > size_)
      fail(pos_, "expected padding up to the tensor data at offset " + std::to_string(data_start) +
                     ", found the end of the file");

    std::vector<size_t> order(tensors_.size());
    for (size_t i = 0; i < tensors_.size(); ++i) {
      TensorInfo& t = tensors_[i];
      context_ = "tensor '" + t.name + "': ";
      const uint64_t relative = t.file_offset;
      if (relative % align != 0)
        fail(offset_fields_[i], "data offset " + std::to_string(relative) +
                                    " is not a multiple of the alignment " + std::to_string(align));
      uint64_t start = 0, end = 0;
      if (__builtin_add_overflow(data_start, relative, &start) ||
          __builtin_add_overflow(start, t.nbytes, &end) || end > size_)
        fail(offset_fields_[i], "data offset " + std::to_string(relative) + " + " +
                                    std::to_string(t.nbytes) +
                                    " bytes runs past the end of the file (tensor data starts at " +
                                    std::to_string(data_start) + ", the file has " +
                                    std::to_string(size_) + " bytes)");
      t.file_offset = start;
      t.data = data_ + start;
      order[i] = i;
    }

    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return tensors_[a].file_offset < tensors_[b].file_offset;
    });
    for (size_t k = 1; k < order.size(); ++k) {
      const TensorInfo& prev = tensors_[order[k - 1]];
      const TensorInfo& cur = tensors_[order[k]];
      if (cur.file_offset < prev.file_offset + prev.nbytes) {
        context_ = "tensor '" + cur.name + "': ";
        fail(offset_fields_[order[k]], "data [" + std::to_string(cur.file_offset) + ", " +
                                           std::to_string(cur.file_offset + cur.nbytes) +
                                           ") overlaps tensor '" + prev.name + "' [" +
                                           std::to_string(prev.file_offset) + ", " +
                                           std::to_string(prev.file_offset + prev.nbytes) + ")");
      }
    }
    context_.clear();
  }

  const uint8_t* data_;
  uint64_t size_;
  std::string file_;
  uint64_t pos_ = 0;
  std::string context_;  // what is being read, prefixed to error messages

  uint64_t tensor_count_ = 0;
  uint64_t kv_count_ = 0;
  Metadata metadata_;
  std::map<std::string, uint64_t> value_offsets_;  // key -> offset of its value
  std::vector<TensorInfo> tensors_;
  std::vector<uint64_t> offset_fields_;  // where each tensor's data offset is stored
};

}  // namespace

std::shared_ptr<ModelFile> read_gguf(const uint8_t* data, uint64_t size, const std::string& file,
                                     std::shared_ptr<void> keep_alive) {
  ModelFileParts parts = GgufParser(data, size, file).parse();
  if (keep_alive) parts.mappings.push_back(std::move(keep_alive));
  return assemble(std::move(parts));
}

std::shared_ptr<ModelFile> open_gguf(const std::string& path) {
  MappedFile mapped = map_file(path);
  advise_will_need(mapped);
  return read_gguf(mapped.data, mapped.size, path, std::move(mapped.keep_alive));
}

// ------------------------------------------------------------ tokenizer

std::vector<int32_t> end_of_generation_ids(const std::vector<std::string>& tokens, int32_t eos,
                                           const std::vector<int32_t>& extra) {
  static const char* const kEndMarkers[] = {"<|im_end|>",      "<|eot_id|>",    "<|eom_id|>",
                                            "<|end_of_text|>", "<|endoftext|>", "</s>",
                                            "<end_of_turn>"};
  std::vector<int32_t> ids = extra;
  if (eos >= 0) ids.push_back(eos);
  for (size_t id = 0; id < tokens.size(); ++id)
    for (const char* marker : kEndMarkers)
      if (tokens[id] == marker) ids.push_back(static_cast<int32_t>(id));
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

TokenizerData tokenizer_from_metadata(const Metadata& md, const std::string& file,
                                      const std::map<std::string, uint64_t>& value_offsets) {
  if (!md.has("tokenizer.ggml.model")) return {};
  auto where = [&](const std::string& key) {
    const auto it = value_offsets.find(key);
    return file + (it == value_offsets.end() ? "" : ": offset " + std::to_string(it->second)) +
           ": ";
  };
  // Runs one read, naming the file and the value's offset when it fails.
  auto at = [&](const std::string& key, auto&& read) {
    try {
      return read();
    } catch (const Error& e) {
      throw Error(ErrorCode::kInvalidArgument, where(key) + e.message());
    }
  };
  auto bad = [&](const std::string& key, const std::string& what) {
    throw Error(ErrorCode::kInvalidArgument, where(key) + key + ": " + what);
  };

  TokenizerData t;
  t.model = at("tokenizer.ggml.model", [&] { return md.get_string("tokenizer.ggml.model"); });
  t.pre = at("tokenizer.ggml.pre", [&] { return md.get_string_or("tokenizer.ggml.pre", ""); });
  t.tokens =
      at("tokenizer.ggml.tokens", [&] { return md.get_string_array("tokenizer.ggml.tokens"); });
  if (t.tokens.empty()) bad("tokenizer.ggml.tokens", "expected at least one token, found none");
  if (t.tokens.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    bad("tokenizer.ggml.tokens", "more tokens than 32-bit ids can number");
  const size_t n = t.tokens.size();
  const std::string per_token =
      "expected " + std::to_string(n) + " entries (one per token), found ";

  if (md.has("tokenizer.ggml.scores")) {
    const std::vector<double> scores =
        at("tokenizer.ggml.scores", [&] { return md.get_float_array("tokenizer.ggml.scores"); });
    if (scores.size() != n) bad("tokenizer.ggml.scores", per_token + std::to_string(scores.size()));
    t.scores.assign(scores.begin(), scores.end());
  }
  if (md.has("tokenizer.ggml.token_type")) {
    const std::vector<int64_t> types = at(
        "tokenizer.ggml.token_type", [&] { return md.get_int_array("tokenizer.ggml.token_type"); });
    if (types.size() != n)
      bad("tokenizer.ggml.token_type", per_token + std::to_string(types.size()));
    t.token_types.reserve(n);
    for (int64_t type : types) {
      if (type < std::numeric_limits<int32_t>::min() || type > std::numeric_limits<int32_t>::max())
        bad("tokenizer.ggml.token_type", "value " + std::to_string(type) + " is out of range");
      t.token_types.push_back(static_cast<int32_t>(type));
    }
  }
  if (md.has("tokenizer.ggml.merges"))
    t.merges =
        at("tokenizer.ggml.merges", [&] { return md.get_string_array("tokenizer.ggml.merges"); });

  auto token_id = [&](const std::string& key) -> int32_t {
    const int64_t id = at(key, [&] { return md.get_int_or(key, -1); });
    if (id < -1 || id >= static_cast<int64_t>(n))
      bad(key, "expected a token id below the vocabulary size " + std::to_string(n) + ", found " +
                   std::to_string(id));
    return static_cast<int32_t>(id);
  };
  t.bos_id = token_id("tokenizer.ggml.bos_token_id");
  t.eos_id = token_id("tokenizer.ggml.eos_token_id");
  t.unk_id = token_id("tokenizer.ggml.unknown_token_id");
  t.pad_id = token_id("tokenizer.ggml.padding_token_id");
  std::vector<int32_t> extra_eog;
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (const int32_t id = token_id(key); id >= 0) extra_eog.push_back(id);

  // SentencePiece ("llama") vocabularies add bos and a leading space unless
  // told otherwise; byte-level BPE ones do neither.
  const bool spm = t.model == "llama";
  t.add_bos = at("tokenizer.ggml.add_bos_token",
                 [&] { return md.get_bool_or("tokenizer.ggml.add_bos_token", spm); });
  t.add_eos = at("tokenizer.ggml.add_eos_token",
                 [&] { return md.get_bool_or("tokenizer.ggml.add_eos_token", false); });
  t.add_space_prefix = at("tokenizer.ggml.add_space_prefix",
                          [&] { return md.get_bool_or("tokenizer.ggml.add_space_prefix", spm); });
  t.chat_template = at("tokenizer.chat_template",
                       [&] { return md.get_string_or("tokenizer.chat_template", ""); });
  t.eog_ids = end_of_generation_ids(t.tokens, t.eos_id, extra_eog);
  return t;
}

}  // namespace rma::llm
