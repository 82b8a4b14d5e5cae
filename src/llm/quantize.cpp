// quantize_model (`rma quantize`): any model ModelFile reads -> a GGUF file
// whose weight matrices are in the requested type, with the tokenizer and
// hyper-parameters as metadata so the file stands alone.
//
// Tensors are converted one at a time while the file is written (each row:
// dequantize to f32, quantize to the target), so memory stays at about one
// tensor. A tensor already in its output type is copied byte for byte.
#include <algorithm>
#include <string>
#include <vector>

#include "model_file_internal.h"
#include "rma/error.h"
#include "rma/llm/model_file.h"
#include "rma/log.h"
#include "rma/quant.h"

namespace rma::llm {

namespace {

// Output types and their llama.cpp file type (general.file_type).
struct QuantizeTarget {
  DType dtype;
  uint32_t file_type;
};
constexpr QuantizeTarget kTargets[] = {
    {DType::kQ8_0, 7}, {DType::kQ4_0, 2}, {DType::kQ4_1, 3}, {DType::kF16, 1}, {DType::kF32, 0},
};

// 2-D weight matrices take the target type; everything else (norms, biases)
// stays f32. A matrix whose rows do not split into whole blocks keeps f16
// when it is f16, else f32.
DType output_dtype(const TensorInfo& t, DType target) {
  const bool matrix = t.shape.size() == 2 && t.name.ends_with(".weight");
  if (!matrix) return DType::kF32;
  if (t.shape.back() % block_elems(target) != 0)
    return t.dtype == DType::kF16 ? DType::kF16 : DType::kF32;
  return target;
}

// Hugging Face Llama/Mistral Q and K rows are ordered per head as
// [2, head_dim/2] (rotate halves, neox); GGUF llama files order them
// [head_dim/2, 2] (rotate adjacent pairs, gptj). Output row (or element)
// h*hd + 2*i + j comes from input h*hd + j*hd/2 + i.
int64_t gptj_source_index(int64_t out, int64_t head_dim) {
  const int64_t head = out / head_dim, within = out % head_dim;
  const int64_t i = within / 2, j = within % 2;
  return head * head_dim + j * (head_dim / 2) + i;
}

TensorToWrite convert(const TensorInfo& t, DType out, int64_t permute_head_dim) {
  TensorToWrite w;
  w.name = t.name;
  w.dtype = out;
  w.shape = t.shape;
  if (out == t.dtype && permute_head_dim == 0) {  // as it is: borrow the mapped bytes
    w.data = t.data;
    w.nbytes = t.nbytes;
    return w;
  }
  const int64_t row_len = t.shape.back();
  const int64_t rows = numel(t.shape) / row_len;
  const auto src_row_bytes = static_cast<size_t>(bytes_for(t.dtype, row_len));
  const auto dst_row_bytes = static_cast<size_t>(bytes_for(out, row_len));
  w.bytes.resize(static_cast<size_t>(rows) * dst_row_bytes);
  std::vector<float> row(static_cast<size_t>(row_len)), permuted;
  for (int64_t r = 0; r < rows; ++r) {
    // Matrices move whole rows; a 1-D bias moves its elements.
    const int64_t src =
        permute_head_dim != 0 && rows > 1 ? gptj_source_index(r, permute_head_dim) : r;
    dequantize_row(t.dtype, t.data + static_cast<size_t>(src) * src_row_bytes, row.data(), row_len);
    const float* values = row.data();
    if (permute_head_dim != 0 && rows == 1) {
      permuted.resize(row.size());
      for (int64_t e = 0; e < row_len; ++e)
        permuted[e] = row[gptj_source_index(e, permute_head_dim)];
      values = permuted.data();
    }
    quantize_row(out, values, w.bytes.data() + static_cast<size_t>(r) * dst_row_bytes, row_len);
  }
  return w;
}

}  // namespace

void quantize_model(const std::string& in, const std::string& out, DType type,
                    const std::function<void(size_t, size_t)>& progress) {
  const QuantizeTarget* target = nullptr;
  std::string names;
  for (const QuantizeTarget& t : kTargets) {
    if (t.dtype == type) target = &t;
    names += (names.empty() ? "" : ", ") + std::string(name(t.dtype));
  }
  if (!target)
    throw Error(ErrorCode::kInvalidArgument, "quantize: type " + std::string(name(type)) +
                                                 " is not an output type; supported: " + names);

  const std::shared_ptr<ModelFile> model = ModelFile::open(in);
  const ModelConfig config = model->config();  // also checks the architecture and shapes
  const bool from_hf = model->format() == "hf";

  Metadata metadata = model->metadata();
  if (from_hf) {
    const std::string p = config.architecture + ".";
    metadata.set(p + "rope.dimension_count", meta_u32(static_cast<uint32_t>(config.head_dim)));
    try {
      add_tokenizer_metadata(model->tokenizer(), metadata);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
      log::warn(e.message() + "; " + out + " will have no tokenizer");
    }
  }
  metadata.set("general.file_type", meta_u32(target->file_type));
  if (is_quantized(type)) metadata.set("general.quantization_version", meta_u32(2));

  // GGUF llama/mistral files hold Q/K in the gptj order; qwen2 keeps neox.
  const bool permute_qk = from_hf && config.architecture != "qwen2";
  std::vector<GgufTensorHeader> headers;
  std::vector<int64_t> permute_head_dim;
  for (const TensorInfo& t : model->tensors()) {
    headers.push_back({t.name, output_dtype(t, type), t.shape});
    const bool qk = t.name.find(".attn_q.") != std::string::npos ||
                    t.name.find(".attn_k.") != std::string::npos;
    permute_head_dim.push_back(permute_qk && qk ? config.head_dim : 0);
  }
  write_gguf_streaming(
      out, metadata, headers,
      [&](size_t i) { return convert(model->tensors()[i], headers[i].dtype, permute_head_dim[i]); },
      progress);
}

}  // namespace rma::llm
