// Writes a small seed corpus for gguf_fuzz into the folder given: a file
// with every metadata type and tensor dtype, a tiny Llama model with a
// tokenizer (so config() and the tokenizer reader are reached), and a GGUF
// version 2 file with a custom alignment.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "llm/model_file_internal.h"
#include "rma/error.h"

namespace {

using namespace rma;
using namespace rma::llm;

TensorToWrite tensor(const std::string& name, DType dtype, const Shape& shape) {
  TensorToWrite t;
  t.name = name;
  t.dtype = dtype;
  t.shape = shape;
  t.bytes.resize(static_cast<size_t>(bytes_for(dtype, numel(shape))));
  for (size_t i = 0; i < t.bytes.size(); ++i) t.bytes[i] = static_cast<uint8_t>(i * 7 % 61);
  return t;
}

void every_type(const std::string& path) {
  Metadata md;
  md.set("general.architecture", meta_string("llama"));
  md.set("t.u8", {kGgufU8, -1, uint64_t{200}});
  md.set("t.i8", {kGgufI8, -1, int64_t{-100}});
  md.set("t.u16", {kGgufU16, -1, uint64_t{60000}});
  md.set("t.i16", {kGgufI16, -1, int64_t{-30000}});
  md.set("t.u64", {kGgufU64, -1, uint64_t{1} << 40});
  md.set("t.i64", {kGgufI64, -1, int64_t{-5}});
  md.set("t.f64", {kGgufF64, -1, 0.25});
  md.set("t.bool", meta_bool(true));
  md.set("t.strings", meta_string_array({"a", "bc"}));
  md.set("t.nested", {kGgufArray, kGgufArray, std::vector<MetaValue>{meta_i32_array({1, 2})}});
  write_gguf(path, md,
             {tensor("f32", DType::kF32, {2, 4}), tensor("f16", DType::kF16, {8}),
              tensor("bf16", DType::kBF16, {1, 2, 2}), tensor("q8_0", DType::kQ8_0, {32}),
              tensor("q4_0", DType::kQ4_0, {32}), tensor("q4_1", DType::kQ4_1, {32}),
              tensor("q4_k", DType::kQ4_K, {256}), tensor("q5_k", DType::kQ5_K, {256}),
              tensor("q6_k", DType::kQ6_K, {256})});
}

void tiny_llama(const std::string& path) {
  const int64_t hidden = 32, ffn = 32, vocab = 8;
  Metadata md;
  md.set("general.architecture", meta_string("llama"));
  md.set("llama.block_count", meta_u32(1));
  md.set("llama.embedding_length", meta_u32(hidden));
  md.set("llama.feed_forward_length", meta_u32(ffn));
  md.set("llama.attention.head_count", meta_u32(2));
  md.set("llama.attention.head_count_kv", meta_u32(1));
  md.set("llama.context_length", meta_u32(64));
  md.set("llama.rope.freq_base", meta_f32(10000.f));
  md.set("llama.rope.scaling.type", meta_string("llama3"));
  md.set("llama.rope.scaling.factor", meta_f32(8.f));
  TokenizerData tok;
  tok.model = "gpt2";
  tok.pre = "gpt2";
  tok.tokens = {"<s>", "</s>", "a", "b", "ab", "Ġ", "Ġa", "<|im_end|>"};
  tok.token_types = {3, 3, 1, 1, 1, 1, 1, 3};
  tok.merges = {"a b", "Ġ a"};
  tok.bos_id = 0;
  tok.eos_id = 1;
  tok.chat_template = "{{ messages }}";
  add_tokenizer_metadata(tok, md);
  write_gguf(path, md,
             {tensor("token_embd.weight", DType::kQ8_0, {vocab, hidden}),
              tensor("blk.0.attn_norm.weight", DType::kF32, {hidden}),
              tensor("blk.0.attn_q.weight", DType::kQ4_0, {hidden, hidden}),
              tensor("blk.0.attn_k.weight", DType::kQ4_0, {hidden / 2, hidden}),
              tensor("blk.0.attn_v.weight", DType::kQ4_0, {hidden / 2, hidden}),
              tensor("blk.0.attn_output.weight", DType::kQ4_1, {hidden, hidden}),
              tensor("blk.0.ffn_norm.weight", DType::kF32, {hidden}),
              tensor("blk.0.ffn_gate.weight", DType::kQ8_0, {ffn, hidden}),
              tensor("blk.0.ffn_up.weight", DType::kQ8_0, {ffn, hidden}),
              tensor("blk.0.ffn_down.weight", DType::kQ8_0, {hidden, ffn}),
              tensor("output_norm.weight", DType::kF32, {hidden})});
}

// Version 2, alignment 64, one f32 tensor: written byte by byte.
void version2(const std::string& path) {
  std::vector<uint8_t> b;
  auto put = [&](const void* p, size_t n) {
    b.insert(b.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  };
  auto u32 = [&](uint32_t v) { put(&v, 4); };
  auto u64 = [&](uint64_t v) { put(&v, 8); };
  auto str = [&](const std::string& s) {
    u64(s.size());
    put(s.data(), s.size());
  };
  put("GGUF", 4);
  u32(2);
  u64(1);
  u64(1);
  str("general.alignment");
  u32(kGgufU32);
  u32(64);
  str("w");
  u32(1);
  u64(8);
  u32(0);
  u64(0);
  b.resize((b.size() + 63) / 64 * 64, 0);
  b.resize(b.size() + 32, 0x3f);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_FOLDER\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path dir(argv[1]);
    std::filesystem::create_directories(dir);
    every_type((dir / "every_type.gguf").string());
    tiny_llama((dir / "tiny_llama.gguf").string());
    version2((dir / "version2.gguf").string());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gguf_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
