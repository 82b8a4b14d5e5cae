// UTF-8, general-category flags and NFC, from the generated tables.
#include "unicode.h"

#include <algorithm>
#include <array>
#include <vector>

namespace rma::llm::unicode {
namespace {

struct FlagRun {
  uint32_t start;
  uint8_t value;
};
struct Decomposition {
  uint32_t cp, first, second;  // second = 0: a singleton
};
struct Composition {
  uint32_t first, second, composite;
};

#include "unicode_data.inc"

constexpr uint32_t kMaxCodepoint = 0x10FFFF;

// The value of the run holding `cp` (runs sorted by start, the first at 0).
template <size_t N>
uint8_t run_value(const FlagRun (&table)[N], uint32_t cp) {
  const FlagRun* it = std::upper_bound(std::begin(table), std::end(table), cp,
                                       [](uint32_t v, const FlagRun& r) { return v < r.start; });
  return (it - 1)->value;
}

// The Basic Multilingual Plane as a flat table: nearly every character a
// tokenizer meets is there, and a byte lookup beats a binary search.
struct BmpTables {
  std::array<uint8_t, 0x10000> flags;
  std::array<uint8_t, 0x10000> ccc;
  BmpTables() {
    for (uint32_t cp = 0; cp < 0x10000; ++cp) {
      flags[cp] = run_value(kUnicodeFlagRuns, cp);
      ccc[cp] = run_value(kCombiningClassRuns, cp);
    }
  }
};

const BmpTables& bmp() {
  static const BmpTables tables;
  return tables;
}

uint8_t combining_class(uint32_t cp) {
  if (cp < 0x10000) return bmp().ccc[cp];
  return run_value(kCombiningClassRuns, cp);
}

// Hangul syllables decompose and compose by arithmetic (Unicode 3.12).
constexpr uint32_t kHangulS = 0xAC00, kHangulL = 0x1100, kHangulV = 0x1161, kHangulT = 0x11A7;
constexpr uint32_t kHangulLCount = 19, kHangulVCount = 21, kHangulTCount = 28;
constexpr uint32_t kHangulNCount = kHangulVCount * kHangulTCount;
constexpr uint32_t kHangulSCount = kHangulLCount * kHangulNCount;

void decompose(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp >= kHangulS && cp < kHangulS + kHangulSCount) {
    const uint32_t s = cp - kHangulS;
    out.push_back(kHangulL + s / kHangulNCount);
    out.push_back(kHangulV + (s % kHangulNCount) / kHangulTCount);
    if (s % kHangulTCount != 0) out.push_back(kHangulT + s % kHangulTCount);
    return;
  }
  const Decomposition* end = kDecompositions + kDecompositionCount;
  const Decomposition* it = std::lower_bound(
      kDecompositions, end, cp, [](const Decomposition& d, uint32_t v) { return d.cp < v; });
  if (it == end || it->cp != cp) {
    out.push_back(cp);
    return;
  }
  decompose(it->first, out);
  if (it->second != 0) decompose(it->second, out);
}

// The primary composite of (first, second), or 0.
uint32_t compose(uint32_t first, uint32_t second) {
  if (first >= kHangulL && first < kHangulL + kHangulLCount && second >= kHangulV &&
      second < kHangulV + kHangulVCount)
    return kHangulS + ((first - kHangulL) * kHangulVCount + (second - kHangulV)) * kHangulTCount;
  if (first >= kHangulS && first < kHangulS + kHangulSCount &&
      (first - kHangulS) % kHangulTCount == 0 && second > kHangulT &&
      second < kHangulT + kHangulTCount)
    return first + (second - kHangulT);
  const Composition* end = kCompositions + kCompositionCount;
  const Composition* it =
      std::lower_bound(kCompositions, end, std::make_pair(first, second),
                       [](const Composition& c, const std::pair<uint32_t, uint32_t>& v) {
                         return std::make_pair(c.first, c.second) < v;
                       });
  if (it == end || it->first != first || it->second != second) return 0;
  return it->composite;
}

// NFC of one stretch of valid UTF-8, appended to `out`.
void nfc_valid(std::string_view text, std::string& out) {
  std::vector<uint32_t> chars;
  chars.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t length = 0;
    decompose(decode_utf8(text, pos, &length), chars);
    pos += length;
  }
  // Canonical order: marks between two starters sorted (stably) by class.
  for (size_t i = 1; i < chars.size(); ++i) {
    const uint8_t ccc = combining_class(chars[i]);
    if (ccc == 0) continue;
    size_t j = i;
    while (j > 0 && combining_class(chars[j - 1]) > ccc) {
      std::swap(chars[j - 1], chars[j]);
      --j;
    }
  }
  // Compose each character with the last starter unless something between
  // them blocks it (a starter, or a mark of the same or a higher class).
  std::vector<uint32_t> composed;
  composed.reserve(chars.size());
  size_t starter = SIZE_MAX;
  uint8_t last_ccc = 0;
  for (uint32_t c : chars) {
    const uint8_t ccc = combining_class(c);
    if (starter != SIZE_MAX) {
      const bool adjacent = composed.size() == starter + 1;
      if (adjacent || (last_ccc != 0 && last_ccc < ccc)) {
        const uint32_t composite = compose(composed[starter], c);
        if (composite != 0) {
          composed[starter] = composite;
          continue;
        }
      }
    }
    if (ccc == 0) starter = composed.size();
    last_ccc = ccc;
    composed.push_back(c);
  }
  for (uint32_t c : composed) append_utf8(out, c);
}

}  // namespace

size_t utf8_sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

uint32_t decode_utf8(std::string_view text, size_t pos, size_t* length) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(pos);
  *length = 1;
  if (lead < 0x80) return lead;
  const size_t n = utf8_sequence_length(lead);
  if (n == 1 || pos + n > text.size()) return kInvalid;
  uint32_t cp = lead & (0x7F >> n);
  for (size_t i = 1; i < n; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) return kInvalid;
    cp = (cp << 6) | (byte(pos + i) & 0x3F);
  }
  static constexpr uint32_t kSmallest[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kSmallest[n] || cp > kMaxCodepoint || (cp >= 0xD800 && cp <= 0xDFFF)) return kInvalid;
  *length = n;
  return cp;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

size_t incomplete_utf8_suffix(std::string_view text) {
  // Look back at most three bytes for a lead byte whose sequence runs past
  // the end; the bytes after it must all be continuation bytes.
  for (size_t back = 1; back <= 3 && back <= text.size(); ++back) {
    const uint8_t b = static_cast<uint8_t>(text[text.size() - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation: keep looking
    const size_t need = utf8_sequence_length(b);
    return need > back ? back : 0;
  }
  return 0;
}

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t length = 0;
    if (decode_utf8(text, pos, &length) == kInvalid)
      out += "\xEF\xBF\xBD";
    else
      out.append(text.substr(pos, length));
    pos += length;
  }
  return out;
}

uint8_t flags(uint32_t cp) {
  if (cp < 0x10000) return bmp().flags[cp];
  if (cp > kMaxCodepoint) return 0;
  return run_value(kUnicodeFlagRuns, cp);
}

std::string nfc(std::string_view text) {
  // Nothing below U+0300 decomposes or combines.
  if (std::none_of(text.begin(), text.end(),
                   [](char c) { return static_cast<uint8_t>(c) >= 0xCC; }))
    return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t start = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t length = 0;
    if (decode_utf8(text, pos, &length) == kInvalid) {
      nfc_valid(text.substr(start, pos - start), out);
      out += text[pos];
      start = pos + 1;
    }
    pos += length;
  }
  nfc_valid(text.substr(start), out);
  return out;
}

}  // namespace rma::llm::unicode
