// unicode.h — the Unicode the tokenizer needs: UTF-8 decoding that never
// fails (an invalid byte is its own "character"), general-category flags for
// the pre-tokenizer regexes, and NFC normalization (Qwen2's normalizer).
// Tables come from scripts/gen_unicode_data.py.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rma::llm::unicode {

// Stands for one byte that does not start a valid UTF-8 sequence. It is no
// letter, number or space, so the regexes treat it like punctuation, and the
// byte itself is kept wherever the text is copied.
constexpr uint32_t kInvalid = 0xFFFFFFFFu;

// Decodes the character at `pos` (pos < text.size()); `*length` receives its
// byte count (1 for an invalid byte). Overlong forms, surrogates and values
// past U+10FFFF are invalid.
uint32_t decode_utf8(std::string_view text, size_t pos, size_t* length);
void append_utf8(std::string& out, uint32_t cp);
// Length of the UTF-8 sequence a lead byte announces (1 for a stray byte).
size_t utf8_sequence_length(uint8_t lead);
// Bytes at the end of `text` that begin a character not yet complete (0-3).
size_t incomplete_utf8_suffix(std::string_view text);
// `text` with each invalid byte replaced by U+FFFD.
std::string sanitize_utf8(std::string_view text);

enum Flag : uint8_t {
  kLetter = 0x01,       // \p{L}
  kNumber = 0x02,       // \p{N}
  kPunctuation = 0x04,  // \p{P}
  kSymbol = 0x08,       // \p{S}
  kSeparator = 0x10,    // \p{Z}
  kMark = 0x20,         // \p{M}
  kOther = 0x40,        // \p{C}
  kWhitespace = 0x80,   // \s: U+0009-000D, U+0085, Zs, Zl, Zp
};

uint8_t flags(uint32_t cp);  // kInvalid has none
inline bool is_letter(uint32_t cp) { return flags(cp) & kLetter; }
inline bool is_number(uint32_t cp) { return flags(cp) & kNumber; }
inline bool is_space(uint32_t cp) { return flags(cp) & kWhitespace; }

// Canonical composition (NFC). Invalid bytes pass through unchanged.
std::string nfc(std::string_view text);

}  // namespace rma::llm::unicode
