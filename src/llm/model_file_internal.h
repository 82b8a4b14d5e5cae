// Internal pieces shared by the model-file readers, the GGUF writer and the
// quantizer (src/llm/gguf_reader.cpp, safetensors_reader.cpp, model_file.cpp,
// gguf_writer.cpp, quantize.cpp). Not installed; tests and the fuzzer may use it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rma/dtype.h"
#include "rma/llm/model_file.h"

namespace rma::llm {

// ------------------------------------------------------------ files
// A read-only memory mapping of a whole file. `keep_alive` unmaps it when the
// last copy goes; an empty file has data == nullptr and size == 0.
struct MappedFile {
  std::string path;
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  std::shared_ptr<void> keep_alive;
};
// Throws rma::Error (kNotFound when missing) naming the path and the reason.
MappedFile map_file(const std::string& path);
// Starts reading a mapping from map_file() into the page cache (madvise
// MADV_WILLNEED on a background thread: asynchronous readahead), so the
// first pass over the weights does not wait on the disk one page fault at a
// time. The readers call it right after mapping, before parsing the header:
// the reads overlap the parsing and the engine's setup. Advice only:
// failures are ignored, and a file larger than half the physical memory is
// left alone (reading it all ahead would evict its own first pages).
void advise_will_need(const MappedFile& file);

// Everything a reader found; assemble() turns it into a ModelFile.
struct ModelFileParts {
  std::string path;
  std::string format;  // "gguf" or "hf"
  Metadata metadata;
  std::vector<TensorInfo> tensors;
  std::vector<std::shared_ptr<void>> mappings;
  TokenizerData tokenizer;  // empty `tokens`: the source has no tokenizer
};
std::shared_ptr<ModelFile> assemble(ModelFileParts parts);

// ------------------------------------------------------------ readers
// GGUF v2/v3 from bytes in memory; `file` names them in error messages.
// Tensor data pointers point into [data, data + size): `keep_alive` (may be
// null when the caller keeps the bytes alive) is stored with the model.
std::shared_ptr<ModelFile> read_gguf(const uint8_t* data, uint64_t size, const std::string& file,
                                     std::shared_ptr<void> keep_alive);
std::shared_ptr<ModelFile> open_gguf(const std::string& path);
// A Hugging Face folder: config.json, model.safetensors or sharded.
std::shared_ptr<ModelFile> open_hf_folder(const std::string& folder);
// A Hugging Face model in memory (ModelFile::from_memory).
std::shared_ptr<ModelFile> open_hf_memory(const std::string& config_json,
                                          const std::vector<HostTensor>& tensors,
                                          std::shared_ptr<void> owner, const std::string& name);

// ------------------------------------------------------------ GGUF types
// GGUF tensor type ids (ggml_type numbering) of the dtypes we read and write.
std::optional<DType> dtype_from_gguf_type(uint32_t gguf_type);
std::optional<uint32_t> gguf_type_from_dtype(DType dtype);
std::string gguf_type_name(uint32_t gguf_type);  // "q5_0", or "unknown" for unassigned ids
std::string supported_gguf_types();              // "f32, f16, bf16, ..."

// GGUF metadata value type ids (MetaValue::type).
enum GgufValueType : int32_t {
  kGgufU8 = 0,
  kGgufI8 = 1,
  kGgufU16 = 2,
  kGgufI16 = 3,
  kGgufU32 = 4,
  kGgufI32 = 5,
  kGgufF32 = 6,
  kGgufBool = 7,
  kGgufString = 8,
  kGgufArray = 9,
  kGgufU64 = 10,
  kGgufI64 = 11,
  kGgufF64 = 12,
};
constexpr int32_t kGgufValueTypeCount = 13;
std::string gguf_value_type_name(int32_t type);  // "u32", "string", "array", ...

// MetaValue builders.
MetaValue meta_u32(uint32_t v);
MetaValue meta_i32(int32_t v);
MetaValue meta_f32(float v);
MetaValue meta_bool(bool v);
MetaValue meta_string(std::string v);
MetaValue meta_string_array(const std::vector<std::string>& v);
MetaValue meta_i32_array(const std::vector<int32_t>& v);
MetaValue meta_f32_array(const std::vector<float>& v);

// ------------------------------------------------------------ tokenizer metadata
// tokenizer.ggml.* and tokenizer.chat_template <-> TokenizerData. Reading
// returns an empty TokenizerData when tokenizer.ggml.model is absent; a bad
// value throws rma::Error naming `file`, the key and (from `value_offsets`,
// key -> byte offset of its value, when known) where it is.
TokenizerData tokenizer_from_metadata(const Metadata& metadata, const std::string& file,
                                      const std::map<std::string, uint64_t>& value_offsets = {});
void add_tokenizer_metadata(const TokenizerData& tokenizer, Metadata& metadata);
// eog_ids for a vocabulary: `eos` (when >= 0), `extra` ids, and every token
// whose text is a known end-of-turn marker (<|im_end|>, <|eot_id|>, ...);
// sorted, without duplicates.
std::vector<int32_t> end_of_generation_ids(const std::vector<std::string>& tokens, int32_t eos,
                                           const std::vector<int32_t>& extra);

// ------------------------------------------------------------ writing
struct GgufTensorHeader {
  std::string name;
  DType dtype;
  Shape shape;  // row-major, outermost first
};
// Writes the header and metadata, then asks `load(i)` for tensor i's bytes
// (owned or borrowed, exactly its size) one tensor at a time, so a whole model
// never has to be in memory. `progress(done, total)` after each tensor.
// Atomic like write_gguf.
void write_gguf_streaming(const std::string& path, const Metadata& metadata,
                          const std::vector<GgufTensorHeader>& headers,
                          const std::function<TensorToWrite(size_t)>& load,
                          const std::function<void(size_t, size_t)>& progress = {});

// Bytes of a tensor of `shape` in `dtype`; throws naming `what` when the row
// length is not a multiple of the block size or the size overflows.
uint64_t tensor_bytes(DType dtype, const Shape& shape, const std::string& what);

// HF tensor name -> GGUF name ("model.layers.3.self_attn.q_proj.weight" ->
// "blk.3.attn_q.weight"); a name it does not know comes back unchanged.
std::string gguf_name_from_hf(const std::string& hf_name);

}  // namespace rma::llm
