// Tokenizer: byte-level BPE (GPT-2 family) and SentencePiece-style BPE
// (Llama 2), matching the Hugging Face `tokenizers` library id for id.
//
// Both models run the same merge loop over token ids: a pair's priority is
// its merge rank (tokenizer.json / GGUF merges) or, for a SentencePiece
// vocabulary without merges, the score of the token the pair forms (as
// llama.cpp does). The lowest rank merges first; ties go to the leftmost pair.
#include "rma/llm/tokenizer.h"

#include <algorithm>
#include <array>
#include <functional>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "pretokenize.h"
#include "rma/error.h"
#include "unicode.h"

namespace rma::llm {
namespace {

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // U+2581 "▁"

// GPT-2's byte -> printable character map: printable Latin-1 bytes stand for
// themselves, the rest take U+0100 onwards in byte order.
std::array<uint32_t, 256> byte_to_codepoint() {
  std::array<uint32_t, 256> map{};
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    map[b] = printable ? b : next++;
  }
  return map;
}

// "<0x4A>" -> 0x4A; -1 when `text` is no byte token.
int byte_token_value(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int value = 0;
  for (char c : text.substr(3, 2)) {
    value <<= 4;
    if (c >= '0' && c <= '9')
      value |= c - '0';
    else if (c >= 'A' && c <= 'F')
      value |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f')
      value |= c - 'a' + 10;
    else
      return -1;
  }
  return value;
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (size_t hit; (hit = text.find(from, pos)) != std::string_view::npos; pos = hit + from.size())
    out.append(text.substr(pos, hit - pos)).append(to);
  out.append(text.substr(pos));
  return out;
}

struct PreName {
  const char* name;
  PreTokenizerKind kind;
};
constexpr PreName kPreNames[] = {
    {"gpt2", PreTokenizerKind::kGpt2},        {"default", PreTokenizerKind::kGpt2},
    {"gpt-2", PreTokenizerKind::kGpt2},       {"llama3", PreTokenizerKind::kLlama3},
    {"llama-bpe", PreTokenizerKind::kLlama3}, {"llama-v3", PreTokenizerKind::kLlama3},
    {"qwen2", PreTokenizerKind::kQwen2},      {"smollm", PreTokenizerKind::kSmolLM},
};
constexpr const char* kSupportedPre =
    "gpt2 (also 'default', 'gpt-2'), llama3 (also 'llama-bpe', 'llama-v3'), qwen2, smollm";
constexpr const char* kSupportedSentencePiecePre =
    "'' (Llama 2; also 'default', 'llama'), metaspace-first, metaspace-always, "
    "metaspace-first-split, "
    "metaspace-always-split";

struct Merge {
  int32_t rank;
  int32_t result;
};

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// Buffers one encode() reuses across its words.
struct BpeScratch {
  std::vector<int32_t> ids;  // symbol ids; -1 once merged into the left neighbour
  std::vector<int32_t> prev, next;
  struct Candidate {
    int32_t rank, left, right, left_id, right_id, result;
    // std heap is a max-heap: "greater" puts the lowest rank, then the
    // leftmost position, on top.
    bool operator<(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::vector<Candidate> heap;
  std::string word;  // the byte-level text of a piece (ignore_merges lookups)
};

}  // namespace

struct Tokenizer::Impl {
  TokenizerData data;
  bool byte_level = true;
  PreTokenizerKind pre = PreTokenizerKind::kGpt2;
  // SentencePiece: how the "▁" prefix is added, and whether to split at "▁".
  enum class Prefix {
    kEveryFragment,
    kFirstFragment,
    kUnlessPresent
  } prefix = Prefix::kEveryFragment;
  bool metaspace_split = false;
  bool ignore_merges = false;
  bool nfc = false;

  // Token text -> id (first id wins); looked up by string_view without copies.
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  std::unordered_map<std::string, int32_t, TextHash, std::equal_to<>> ids;
  std::unordered_map<uint64_t, Merge> merges;  // (left, right) -> rank and result
  std::array<int32_t, 256> byte_ids;           // byte-level: each byte's token; SPM: <0xNN>
  std::vector<std::string> pieces;             // id -> the bytes it decodes to
  std::vector<uint8_t> hidden;                 // id -> decodes to "" unless keep_special

  struct Special {
    std::string text;
    int32_t id;
    bool control;  // matched only when parse_special
  };
  std::vector<Special> specials;                    // longest first
  std::array<std::vector<uint32_t>, 256> by_first;  // first byte -> indices into specials

  explicit Impl(TokenizerData d);
  void build_merges_from_list();
  void build_merges_from_scores();
  void collect_specials();

  int32_t type(size_t id) const {
    return id < data.token_types.size() ? data.token_types[id] : kTokenNormal;
  }
  int32_t find(std::string_view text) const {
    const auto it = ids.find(text);
    return it == ids.end() ? -1 : it->second;
  }
  void check_id(int32_t id, const char* what) const {
    if (id < 0 || id >= static_cast<int32_t>(data.tokens.size()))
      throw Error(ErrorCode::kInvalidArgument, std::string(what) + ": token id " +
                                                   std::to_string(id) +
                                                   " is outside the vocabulary (0.." +
                                                   std::to_string(data.tokens.size() - 1) + ")");
  }

  void bpe(BpeScratch& s, std::vector<int32_t>& out) const;
  void encode_fragment(std::string_view text, bool at_start, BpeScratch& s,
                       std::vector<int32_t>& out) const;
  void encode_byte_level(std::string_view text, BpeScratch& s, std::vector<int32_t>& out) const;
  void encode_sentencepiece(std::string_view text, bool at_start, BpeScratch& s,
                            std::vector<int32_t>& out) const;
};

Tokenizer::Impl::Impl(TokenizerData d) : data(std::move(d)) {
  const size_t n = data.tokens.size();
  if (data.model == "gpt2") {
    byte_level = true;
    const auto it = std::find_if(std::begin(kPreNames), std::end(kPreNames),
                                 [&](const PreName& p) { return data.pre == p.name; });
    if (data.pre.empty()) {
      pre = PreTokenizerKind::kGpt2;  // llama.cpp's "default"
    } else if (it == std::end(kPreNames)) {
      throw Error(ErrorCode::kUnsupported, "tokenizer: pre-tokenizer '" + data.pre +
                                               "' is not supported; supported: " + kSupportedPre);
    } else {
      pre = it->kind;
    }
  } else if (data.model == "llama") {
    byte_level = false;
    std::string scheme = data.pre;
    if (scheme.size() > 6 && scheme.compare(scheme.size() - 6, 6, "-split") == 0) {
      metaspace_split = true;
      scheme.resize(scheme.size() - 6);
    }
    // GGUF files of SentencePiece models carry no pre, or "default".
    if (data.pre.empty() || data.pre == "default" || data.pre == "llama")
      prefix = Prefix::kEveryFragment;
    else if (scheme == "metaspace-first")
      prefix = Prefix::kFirstFragment;
    else if (scheme == "metaspace-always")
      prefix = Prefix::kUnlessPresent;
    else
      throw Error(ErrorCode::kUnsupported,
                  "tokenizer: SentencePiece pre-tokenizer '" + data.pre +
                      "' is not supported; supported: " + kSupportedSentencePiecePre);
  } else {
    throw Error(ErrorCode::kUnsupported,
                "tokenizer: model '" + data.model +
                    "' is not supported; supported: gpt2 (byte-level BPE), llama (SentencePiece "
                    "BPE)");
  }
  if (n == 0) throw Error(ErrorCode::kInvalidArgument, "tokenizer: the vocabulary is empty");
  if (n > static_cast<size_t>(INT32_MAX))
    throw Error(ErrorCode::kInvalidArgument, "tokenizer: more tokens than 32-bit ids can number");
  if (!data.scores.empty() && data.scores.size() != n)
    throw Error(ErrorCode::kInvalidArgument, "tokenizer: " + std::to_string(data.scores.size()) +
                                                 " scores for " + std::to_string(n) + " tokens");
  if (!data.token_types.empty() && data.token_types.size() != n)
    throw Error(ErrorCode::kInvalidArgument,
                "tokenizer: " + std::to_string(data.token_types.size()) + " token types for " +
                    std::to_string(n) + " tokens");
  for (auto [id, what] : {std::pair{data.bos_id, "bos"},
                          {data.eos_id, "eos"},
                          {data.unk_id, "unk"},
                          {data.pad_id, "pad"}})
    if (id != -1) check_id(id, what);
  for (int32_t id : data.eog_ids) check_id(id, "end-of-generation");

  ignore_merges = data.ignore_merges.value_or(byte_level && pre == PreTokenizerKind::kLlama3);
  nfc = data.nfc.value_or(byte_level && pre == PreTokenizerKind::kQwen2);

  ids.reserve(n * 2);
  for (size_t id = 0; id < n; ++id) {
    if (data.tokens[id].empty()) continue;  // a hole in the ids
    ids.emplace(data.tokens[id], static_cast<int32_t>(id));
  }

  // What each token decodes to.
  pieces.resize(n);
  hidden.assign(n, 0);
  byte_ids.fill(-1);
  if (byte_level) {
    const std::array<uint32_t, 256> cps = byte_to_codepoint();
    std::unordered_map<uint32_t, uint8_t> to_byte;
    for (int b = 0; b < 256; ++b) {
      to_byte[cps[b]] = static_cast<uint8_t>(b);
      std::string ch;
      unicode::append_utf8(ch, cps[b]);
      byte_ids[b] = find(ch);
    }
    for (size_t id = 0; id < n; ++id) {
      // Every character through the byte map; a token with a character
      // outside it (an added token such as "<｜end▁of▁sentence｜>") is its own text.
      const std::string& text = data.tokens[id];
      std::string bytes;
      bool mapped = true;
      for (size_t pos = 0; pos < text.size() && mapped;) {
        size_t length = 0;
        const auto it = to_byte.find(unicode::decode_utf8(text, pos, &length));
        if (it == to_byte.end())
          mapped = false;
        else
          bytes += static_cast<char>(it->second);
        pos += length;
      }
      pieces[id] = mapped ? bytes : text;
    }
  } else {
    for (size_t id = 0; id < n; ++id) {
      const std::string& text = data.tokens[id];
      const int value = byte_token_value(text);
      if (value >= 0 && (data.token_types.empty() || type(id) == kTokenByte)) {
        pieces[id] = std::string(1, static_cast<char>(value));
        if (byte_ids[value] < 0) byte_ids[value] = static_cast<int32_t>(id);
      } else {
        pieces[id] = replace_all(text, kMetaspace, " ");
      }
    }
  }
  for (size_t id = 0; id < n; ++id)
    if (type(id) == kTokenControl || type(id) == kTokenUnknown) hidden[id] = 1;
  if (data.token_types.empty())
    for (int32_t id : {data.bos_id, data.eos_id, data.pad_id})
      if (id >= 0) hidden[id] = 1;

  if (!data.merges.empty())
    build_merges_from_list();
  else if (!byte_level)
    build_merges_from_scores();
  collect_specials();
}

void Tokenizer::Impl::build_merges_from_list() {
  merges.reserve(data.merges.size() * 2);
  for (size_t rank = 0; rank < data.merges.size(); ++rank) {
    const std::string& merge = data.merges[rank];
    // "a b"; a part holding a space itself (possible in tokenizer.json's
    // pair form) is found by trying each space until both halves are tokens.
    int32_t left = -1, right = -1, result = -1;
    for (size_t space = merge.find(' '); space != std::string::npos;
         space = merge.find(' ', space + 1)) {
      left = find(std::string_view(merge).substr(0, space));
      right = find(std::string_view(merge).substr(space + 1));
      if (left >= 0 && right >= 0) {
        result = find(merge.substr(0, space) + merge.substr(space + 1));
        break;
      }
    }
    if (left < 0 || right < 0 || result < 0)
      throw Error(ErrorCode::kInvalidArgument,
                  "tokenizer: merge #" + std::to_string(rank) + " '" + merge +
                      "': expected two tokens of the vocabulary joined by a space whose "
                      "concatenation is a token too");
    // The first (lowest-rank) entry of a pair wins, as in HF.
    merges.emplace(pair_key(left, right), Merge{static_cast<int32_t>(rank), result});
  }
}

// A SentencePiece vocabulary without merges (GGUF Llama 2): any two symbols
// whose concatenation is a token may merge, the token's score the priority.
// Equal scores share a rank, so the leftmost pair goes first, as in llama.cpp.
void Tokenizer::Impl::build_merges_from_scores() {
  const size_t n = data.tokens.size();
  std::vector<float> distinct;
  for (size_t id = 0; id < n; ++id) distinct.push_back(data.scores.empty() ? 0.f : data.scores[id]);
  std::sort(distinct.begin(), distinct.end(), std::greater<float>());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  for (size_t id = 0; id < n; ++id) {
    const int32_t t = type(id);
    if (t != kTokenNormal && t != kTokenUserDefined) continue;
    const std::string& text = data.tokens[id];
    const float score = data.scores.empty() ? 0.f : data.scores[id];
    const int32_t rank = static_cast<int32_t>(
        std::lower_bound(distinct.begin(), distinct.end(), score, std::greater<float>()) -
        distinct.begin());
    size_t length = 0;
    for (size_t cut = unicode::utf8_sequence_length(static_cast<uint8_t>(text[0]));
         cut < text.size(); cut += length) {
      const int32_t left = find(std::string_view(text).substr(0, cut));
      const int32_t right = find(std::string_view(text).substr(cut));
      if (left >= 0 && right >= 0)
        merges.emplace(pair_key(left, right), Merge{rank, static_cast<int32_t>(id)});
      length = unicode::utf8_sequence_length(static_cast<uint8_t>(text[cut]));
    }
  }
}

void Tokenizer::Impl::collect_specials() {
  std::vector<int32_t> chosen;
  for (size_t id = 0; id < data.tokens.size(); ++id) {
    const int32_t t = type(id);
    if (t == kTokenControl || t == kTokenUserDefined || t == kTokenUnknown)
      chosen.push_back(static_cast<int32_t>(id));
  }
  if (data.token_types.empty())
    for (int32_t id : {data.bos_id, data.eos_id, data.unk_id, data.pad_id})
      if (id >= 0) chosen.push_back(id);
  std::sort(chosen.begin(), chosen.end());
  chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
  for (int32_t id : chosen) {
    if (data.tokens[id].empty()) continue;
    specials.push_back({data.tokens[id], id, type(id) != kTokenUserDefined});
  }
  // Longest first, so that at one position the longest token wins.
  std::stable_sort(specials.begin(), specials.end(), [](const Special& a, const Special& b) {
    return a.text.size() > b.text.size();
  });
  for (size_t i = 0; i < specials.size(); ++i)
    by_first[static_cast<uint8_t>(specials[i].text[0])].push_back(static_cast<uint32_t>(i));
}

void Tokenizer::Impl::bpe(BpeScratch& s, std::vector<int32_t>& out) const {
  const int32_t n = static_cast<int32_t>(s.ids.size());
  if (n == 0) return;
  if (n == 1) {
    out.push_back(s.ids[0]);
    return;
  }
  s.prev.resize(n);
  s.next.resize(n);
  for (int32_t i = 0; i < n; ++i) {
    s.prev[i] = i - 1;
    s.next[i] = i + 1 < n ? i + 1 : -1;
  }
  s.heap.clear();
  const auto consider = [&](int32_t left, int32_t right) {
    const auto it = merges.find(pair_key(s.ids[left], s.ids[right]));
    if (it == merges.end()) return;
    s.heap.push_back({it->second.rank, left, right, s.ids[left], s.ids[right], it->second.result});
    std::push_heap(s.heap.begin(), s.heap.end());
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i, i + 1);
  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end());
    const BpeScratch::Candidate c = s.heap.back();
    s.heap.pop_back();
    // Stale: one side has merged since this pair was seen.
    if (s.ids[c.left] != c.left_id || s.next[c.left] != c.right || s.ids[c.right] != c.right_id)
      continue;
    s.ids[c.left] = c.result;
    s.ids[c.right] = -1;
    s.next[c.left] = s.next[c.right];
    if (s.next[c.left] >= 0) s.prev[s.next[c.left]] = c.left;
    if (s.prev[c.left] >= 0) consider(s.prev[c.left], c.left);
    if (s.next[c.left] >= 0) consider(c.left, s.next[c.left]);
  }
  for (int32_t i = 0; i >= 0; i = s.next[i]) out.push_back(s.ids[i]);
}

void Tokenizer::Impl::encode_byte_level(std::string_view text, BpeScratch& s,
                                        std::vector<int32_t>& out) const {
  PieceRanges ranges;
  pre_tokenize(pre, text, ranges);
  for (const auto& [begin, end] : ranges) {
    const std::string_view piece = text.substr(begin, end - begin);
    if (ignore_merges) {
      s.word.clear();
      for (char c : piece) {
        const int32_t id = byte_ids[static_cast<uint8_t>(c)];
        if (id >= 0)
          s.word += data.tokens[id];
        else
          s.word += c;  // matches no token: the merge loop below handles it
      }
      if (const auto it = ids.find(s.word); it != ids.end()) {
        out.push_back(it->second);
        continue;
      }
    }
    s.ids.clear();
    for (char c : piece) {
      const int32_t id = byte_ids[static_cast<uint8_t>(c)];
      // A byte without a token: unk (HF BPE), fused with an unk before it.
      if (id >= 0)
        s.ids.push_back(id);
      else if (data.unk_id >= 0 && (s.ids.empty() || s.ids.back() != data.unk_id))
        s.ids.push_back(data.unk_id);
    }
    bpe(s, out);
  }
}

void Tokenizer::Impl::encode_sentencepiece(std::string_view text, bool at_start, BpeScratch& s,
                                           std::vector<int32_t>& out) const {
  std::string normalized = replace_all(text, " ", kMetaspace);
  if (data.add_space_prefix) {
    const bool has = normalized.compare(0, kMetaspace.size(), kMetaspace) == 0;
    if (prefix == Prefix::kEveryFragment || (prefix == Prefix::kUnlessPresent && !has) ||
        (prefix == Prefix::kFirstFragment && !has && at_start))
      normalized.insert(0, kMetaspace);
  }
  // Words: the whole text, or (Metaspace split) each "▁" with what follows it.
  std::vector<std::string_view> words;
  const std::string_view all(normalized);
  if (!metaspace_split) {
    words.push_back(all);
  } else {
    size_t start = 0;
    for (size_t hit = all.find(kMetaspace, 1); hit != std::string_view::npos;
         hit = all.find(kMetaspace, hit + 1)) {
      if (hit == start) continue;
      words.push_back(all.substr(start, hit - start));
      start = hit;
    }
    words.push_back(all.substr(start));
  }
  for (std::string_view word : words) {
    if (ignore_merges)
      if (const int32_t id = find(word); id >= 0) {
        out.push_back(id);
        continue;
      }
    // Symbols: characters with a token, else their bytes as <0xNN> tokens
    // (byte fallback), else unk (consecutive unks fused, as HF does).
    s.ids.clear();
    for (size_t pos = 0; pos < word.size();) {
      size_t length = 0;
      unicode::decode_utf8(word, pos, &length);
      const std::string_view ch = word.substr(pos, length);
      pos += length;
      if (const int32_t id = find(ch); id >= 0) {
        s.ids.push_back(id);
        continue;
      }
      const bool all_bytes = std::all_of(
          ch.begin(), ch.end(), [&](char b) { return byte_ids[static_cast<uint8_t>(b)] >= 0; });
      if (all_bytes) {
        for (char b : ch) s.ids.push_back(byte_ids[static_cast<uint8_t>(b)]);
      } else if (data.unk_id >= 0 && (s.ids.empty() || s.ids.back() != data.unk_id)) {
        s.ids.push_back(data.unk_id);
      }
    }
    bpe(s, out);
  }
}

void Tokenizer::Impl::encode_fragment(std::string_view text, bool at_start, BpeScratch& s,
                                      std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::string normalized;
  if (nfc) {
    normalized = unicode::nfc(text);
    text = normalized;
  }
  if (byte_level)
    encode_byte_level(text, s, out);
  else
    encode_sentencepiece(text, at_start, s, out);
}

// ------------------------------------------------------------ Tokenizer

Tokenizer::Tokenizer(TokenizerData data) : impl_(std::make_unique<Impl>(std::move(data))) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  const Impl& m = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && m.data.add_bos && m.data.bos_id >= 0) out.push_back(m.data.bos_id);
  BpeScratch scratch;
  // Added and special tokens first: at the leftmost position where any
  // matches, the longest wins; the text between goes through the model.
  size_t fragment = 0;
  for (size_t pos = 0; pos < text.size();) {
    const std::vector<uint32_t>& candidates = m.by_first[static_cast<uint8_t>(text[pos])];
    const Impl::Special* hit = nullptr;
    for (uint32_t index : candidates) {
      const Impl::Special& sp = m.specials[index];
      if ((parse_special || !sp.control) && text.compare(pos, sp.text.size(), sp.text) == 0) {
        hit = &sp;
        break;
      }
    }
    if (!hit) {
      ++pos;
      continue;
    }
    m.encode_fragment(text.substr(fragment, pos - fragment), fragment == 0, scratch, out);
    out.push_back(hit->id);
    pos += hit->text.size();
    fragment = pos;
  }
  m.encode_fragment(text.substr(fragment), fragment == 0, scratch, out);
  if (add_special && m.data.add_eos && m.data.eos_id >= 0) out.push_back(m.data.eos_id);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool keep_special) const {
  impl_->check_id(id, "token_to_piece");
  if (impl_->hidden[id] && !keep_special) return {};
  return impl_->pieces[id];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool keep_special) const {
  std::string bytes;
  for (int32_t id : ids) {
    impl_->check_id(id, "decode");
    if (impl_->hidden[id] && !keep_special) continue;
    bytes += impl_->pieces[id];
  }
  // SentencePiece: the space the prefix stood for is not part of the text.
  if (!impl_->byte_level && impl_->data.add_space_prefix && !bytes.empty() && bytes[0] == ' ')
    bytes.erase(0, 1);
  return unicode::sanitize_utf8(bytes);
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->data.tokens.size()); }
int32_t Tokenizer::bos_id() const { return impl_->data.bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->data.eos_id; }
bool Tokenizer::is_eog(int32_t id) const {
  const TokenizerData& d = impl_->data;
  return id >= 0 &&
         (id == d.eos_id || std::find(d.eog_ids.begin(), d.eog_ids.end(), id) != d.eog_ids.end());
}
const TokenizerData& Tokenizer::data() const { return impl_->data; }

// ------------------------------------------------------------ StreamDecoder

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_.token_to_piece(id);
  const size_t keep = unicode::incomplete_utf8_suffix(pending_);
  std::string ready =
      unicode::sanitize_utf8(std::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);
  return ready;
}

std::string StreamDecoder::flush() {
  std::string rest = unicode::sanitize_utf8(pending_);
  pending_.clear();
  return rest;
}

}  // namespace rma::llm
