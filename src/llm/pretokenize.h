// pretokenize.h — the byte-level BPE pre-tokenizers: each splits text into
// the pieces BPE then encodes one at a time. They are the split regexes of
// GPT-2, Llama 3 and Qwen2 (and SmolLM2's digit split in front of GPT-2's),
// written as matchers over code points because the regexes need \p{L}/\p{N}
// and std::regex has neither. Each matcher follows the regex's alternatives
// in order, with the same greedy and backtracking outcome, so the pieces are
// those of the Hugging Face `tokenizers` library.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace rma::llm {

enum class PreTokenizerKind {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2,
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
  //  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  kLlama3,
  // As kLlama3 with \p{N} instead of \p{N}{1,3}.
  kQwen2,
  // Every \p{N} character on its own, then kGpt2 within the rest (SmolLM2:
  // Digits(individual_digits) followed by ByteLevel's regex).
  kSmolLM,
};

// Byte ranges [begin, end) of `text`'s pieces, in order, covering it whole.
using PieceRanges = std::vector<std::pair<uint32_t, uint32_t>>;
void pre_tokenize(PreTokenizerKind kind, std::string_view text, PieceRanges& pieces);

}  // namespace rma::llm
