// The split regexes as hand-written matchers (see pretokenize.h).
#include "pretokenize.h"

#include "unicode.h"

namespace rma::llm {
namespace {

namespace u = unicode;

// The text as code points with their flags; `offset[i]` is the byte where
// character i starts (offset[n] = the text's size).
struct Chars {
  std::vector<uint32_t> cp;
  std::vector<uint8_t> flag;
  std::vector<uint32_t> offset;

  explicit Chars(std::string_view text) {
    cp.reserve(text.size());
    flag.reserve(text.size());
    offset.reserve(text.size() + 1);
    for (size_t pos = 0; pos < text.size();) {
      size_t length = 0;
      const uint32_t c = u::decode_utf8(text, pos, &length);
      cp.push_back(c);
      flag.push_back(u::flags(c));
      offset.push_back(static_cast<uint32_t>(pos));
      pos += length;
    }
    offset.push_back(static_cast<uint32_t>(text.size()));
  }
  size_t size() const { return cp.size(); }
  bool letter(size_t i) const { return flag[i] & u::kLetter; }
  bool number(size_t i) const { return flag[i] & u::kNumber; }
  bool space(size_t i) const { return flag[i] & u::kWhitespace; }
  // [^\s\p{L}\p{N}]
  bool other(size_t i) const { return !(flag[i] & (u::kWhitespace | u::kLetter | u::kNumber)); }
  bool newline(size_t i) const { return cp[i] == '\r' || cp[i] == '\n'; }
};

// Lower-cases what (?i:...) folds onto the contraction letters: ASCII, and
// U+017F LATIN SMALL LETTER LONG S, whose case fold is 's'.
uint32_t fold(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + ('a' - 'A');
  if (c == 0x017F) return 's';
  return c;
}

// Length of the contraction ('s 't 're 've 'm 'll 'd) at i, or 0.
size_t contraction(const Chars& s, size_t i, size_t end, bool ignore_case) {
  if (s.cp[i] != '\'' || i + 1 >= end) return 0;
  const auto at = [&](size_t k) { return ignore_case ? fold(s.cp[k]) : s.cp[k]; };
  const uint32_t a = at(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 >= end) return 0;
  const uint32_t b = at(i + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

template <typename Pred>
size_t run(size_t i, size_t end, Pred pred) {
  while (i < end && pred(i)) ++i;
  return i;
}

// \s+(?!\S)|\s+ at i (a space): a run of spaces followed by a non-space
// gives its last space back, to lead the next piece; one lone space and a
// run that reaches the end stay whole.
size_t trailing_space(const Chars& s, size_t i, size_t end) {
  const size_t k = run(i, end, [&](size_t j) { return s.space(j); });
  if (k == end || k - i < 2) return k;
  return k - 1;
}

// The end of the GPT-2 regex's match at i.
size_t match_gpt2(const Chars& s, size_t i, size_t end) {
  if (size_t n = contraction(s, i, end, false)) return i + n;
  const bool lead_space = s.cp[i] == ' ' && i + 1 < end;
  const auto letters = [&](size_t j) { return s.letter(j); };
  const auto numbers = [&](size_t j) { return s.number(j); };
  const auto others = [&](size_t j) { return s.other(j); };
  if (lead_space && s.letter(i + 1)) return run(i + 1, end, letters);
  if (s.letter(i)) return run(i, end, letters);
  if (lead_space && s.number(i + 1)) return run(i + 1, end, numbers);
  if (s.number(i)) return run(i, end, numbers);
  if (lead_space && s.other(i + 1)) return run(i + 1, end, others);
  if (s.other(i)) return run(i, end, others);
  return trailing_space(s, i, end);
}

// The end of the Llama 3 (max_digits 3) or Qwen2 (max_digits 1) regex's match at i.
size_t match_llama3(const Chars& s, size_t i, size_t end, size_t max_digits) {
  if (size_t n = contraction(s, i, end, true)) return i + n;
  const auto letters = [&](size_t j) { return s.letter(j); };
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (!s.newline(i) && !s.letter(i) && !s.number(i) && i + 1 < end && s.letter(i + 1))
    return run(i + 1, end, letters);
  if (s.letter(i)) return run(i, end, letters);
  // \p{N}{1,max_digits}
  if (s.number(i)) {
    size_t k = i + 1;
    while (k < end && k - i < max_digits && s.number(k)) ++k;
    return k;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  size_t start = i;
  if (s.cp[i] == ' ' && i + 1 < end && s.other(i + 1)) start = i + 1;
  if (s.other(start)) {
    const size_t k = run(start, end, [&](size_t j) { return s.other(j); });
    return run(k, end, [&](size_t j) { return s.newline(j); });
  }
  // \s*[\r\n]+ : the space run up to and including its last line break.
  const size_t k = run(i, end, [&](size_t j) { return s.space(j); });
  for (size_t j = k; j > i; --j)
    if (s.newline(j - 1)) return j;
  return trailing_space(s, i, end);
}

void split_range(PreTokenizerKind kind, const Chars& s, size_t begin, size_t end,
                 PieceRanges& pieces) {
  for (size_t i = begin; i < end;) {
    size_t next;
    switch (kind) {
      case PreTokenizerKind::kLlama3:
        next = match_llama3(s, i, end, 3);
        break;
      case PreTokenizerKind::kQwen2:
        next = match_llama3(s, i, end, 1);
        break;
      default:
        next = match_gpt2(s, i, end);
        break;
    }
    pieces.emplace_back(s.offset[i], s.offset[next]);
    i = next;
  }
}

}  // namespace

void pre_tokenize(PreTokenizerKind kind, std::string_view text, PieceRanges& pieces) {
  const Chars s(text);
  if (kind != PreTokenizerKind::kSmolLM) {
    split_range(kind, s, 0, s.size(), pieces);
    return;
  }
  // Digits first: each number character alone; the regex never sees across them.
  for (size_t i = 0; i < s.size();) {
    if (s.number(i)) {
      pieces.emplace_back(s.offset[i], s.offset[i + 1]);
      ++i;
      continue;
    }
    const size_t k = run(i, s.size(), [&](size_t j) { return !s.number(j); });
    split_range(PreTokenizerKind::kGpt2, s, i, k, pieces);
    i = k;
  }
}

}  // namespace rma::llm
