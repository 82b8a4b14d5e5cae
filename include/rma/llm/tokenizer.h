// rma/llm/tokenizer.h — text <-> token ids, and chat templates.
//
// Two families, matching the Hugging Face `tokenizers` library id for id:
// - byte-level BPE ("gpt2" model): GPT-2, Llama 3, Qwen2 and SmolLM2
//   pre-tokenizers (each a split regex, plus SmolLM2's single digits);
// - SentencePiece-style BPE ("llama" model, Llama 2): "▁" for spaces, merges
//   by score, byte fallback (<0xNN> tokens).
// Special and added tokens are matched whole in the input before the
// pre-tokenizer runs (when `parse_special`), as HF does.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rma::llm {

// GGUF token types (tokenizer.ggml.token_type).
enum TokenType : int32_t {
  kTokenNormal = 1,
  kTokenUnknown = 2,
  kTokenControl = 3,
  kTokenUserDefined = 4,
  kTokenUnused = 5,
  kTokenByte = 6,
};

// Everything a tokenizer needs, read from GGUF metadata (tokenizer.ggml.*)
// or from a Hugging Face tokenizer.json + tokenizer_config.json.
struct TokenizerData {
  std::string model;  // "gpt2" (byte-level BPE) or "llama" (SentencePiece BPE)
  // Byte-level pre-tokenizer: "gpt2", "llama3", "qwen2", "smollm" (GGUF
  // aliases: "default", "gpt-2", "llama-bpe", "llama-v3"). SentencePiece:
  // "" (Llama 2: "▁" before every text fragment, as its normalizer does) or
  // HF's Metaspace pre-tokenizer, "metaspace-first" / "metaspace-always"
  // (prepend_scheme), with "-split" when it splits at each "▁".
  std::string pre;
  std::vector<std::string> tokens;   // id -> token text (byte-level or "▁" form)
  std::vector<float> scores;         // SentencePiece merge scores (may be empty)
  std::vector<int32_t> token_types;  // TokenType per id (may be empty: all normal)
  std::vector<std::string> merges;   // "a b" pairs, rank = index (byte-level BPE)
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  int32_t pad_id = -1;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;  // SentencePiece: prepend "▁" to the text
  std::vector<int32_t> eog_ids;   // end-of-generation: eos plus e.g. <|im_end|>, <|eot_id|>
  std::string chat_template;      // the model's Jinja template, as shipped
  // tokenizer.json settings GGUF does not store. Unset: what the pre-tokenizer's
  // model uses (Llama 3: ignore_merges, a word found whole in the vocabulary
  // is one token; Qwen2: NFC normalization).
  std::optional<bool> ignore_merges;
  std::optional<bool> nfc;
};

// Reads tokenizer.json (and tokenizer_config.json beside it, when present,
// for bos/eos, add_bos and the chat template). Throws rma::Error naming the
// file and the field on anything it cannot represent.
TokenizerData load_tokenizer_json(const std::string& tokenizer_json_path);

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

class Tokenizer {
 public:
  // Throws rma::Error for an unknown model or pre-tokenizer, naming it and
  // listing the supported ones.
  explicit Tokenizer(TokenizerData data);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // `add_special`: prepend bos / append eos as the model asks.
  // `parse_special`: text such as "<|im_start|>" becomes its special token.
  std::vector<int32_t> encode(std::string_view text, bool add_special = true,
                              bool parse_special = true) const;
  // Control tokens (bos, eos, <|im_end|>...) decode to "" unless `keep_special`.
  std::string decode(const std::vector<int32_t>& ids, bool keep_special = false) const;
  // One token's bytes (may be part of a UTF-8 character); for streaming use
  // StreamDecoder, which holds back incomplete characters.
  std::string token_to_piece(int32_t id, bool keep_special = false) const;

  int32_t vocab_size() const;
  int32_t bos_id() const;
  int32_t eos_id() const;
  bool is_eog(int32_t id) const;  // end of generation
  const TokenizerData& data() const;

  // Renders `messages` with the model's chat template. Recognised families
  // (by template text): ChatML (SmolLM2, Qwen2; keeps a default system
  // message when the template has one), Llama 3, Llama 2. Falls back to
  // ChatML for an unrecognised template, logging it once.
  std::string apply_chat_template(const std::vector<ChatMessage>& messages,
                                  bool add_generation_prompt = true) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Turns a stream of token ids into text pieces that are always whole UTF-8.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok) : tok_(tok) {}
  std::string push(int32_t id);  // text now complete (maybe "")
  std::string flush();           // what is left (invalid bytes as U+FFFD)

 private:
  const Tokenizer& tok_;
  std::string pending_;
};

}  // namespace rma::llm
