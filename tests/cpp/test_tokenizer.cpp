// Tokenizer unit tests on small hand-built vocabularies: BPE merge order,
// byte fallback, special tokens, the pre-tokenizers' whitespace rules,
// streaming UTF-8, NFC, tokenizer.json loading and chat templates.
// (tests/llm/tokenizer_vs_hf.py checks real vocabularies against HF.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "llm/pretokenize.h"
#include "llm/unicode.h"
#include "rma/error.h"
#include "rma/llm/tokenizer.h"

namespace rma::llm {
namespace {

using Ids = std::vector<int32_t>;
using Strings = std::vector<std::string>;

const std::string kSpace = "\xE2\x96\x81";  // "▁"

// GPT-2's byte -> character map, as the vocabulary spells bytes.
std::string byte_char(uint8_t b) {
  uint32_t cp = b;
  if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) {
    uint32_t next = 256;
    for (uint32_t c = 0; c < b; ++c)
      if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE)) ++next;
    cp = next;
  }
  std::string out;
  unicode::append_utf8(out, cp);
  return out;
}

// Byte-level vocabulary: ids 0-255 are the bytes, then `extra` tokens.
TokenizerData byte_level(const Strings& extra, const Strings& merges, std::string pre = "gpt2") {
  TokenizerData d;
  d.model = "gpt2";
  d.pre = std::move(pre);
  for (int b = 0; b < 256; ++b) d.tokens.push_back(byte_char(static_cast<uint8_t>(b)));
  for (const std::string& t : extra) d.tokens.push_back(t);
  d.merges = merges;
  return d;
}

int32_t id_of(const TokenizerData& d, const std::string& text) {
  for (size_t i = 0; i < d.tokens.size(); ++i)
    if (d.tokens[i] == text) return static_cast<int32_t>(i);
  ADD_FAILURE() << "no token " << text;
  return -1;
}

Strings pieces(PreTokenizerKind kind, const std::string& text) {
  PieceRanges ranges;
  pre_tokenize(kind, text, ranges);
  Strings out;
  for (auto [b, e] : ranges) out.push_back(text.substr(b, e - b));
  return out;
}

// ------------------------------------------------------------ pre-tokenizers

TEST(TokenizerPre, WhitespaceRunGivesItsLastSpaceToTheNextWord) {
  for (auto kind : {PreTokenizerKind::kGpt2, PreTokenizerKind::kLlama3}) {
    EXPECT_EQ(pieces(kind, "a  b"), (Strings{"a", " ", " b"}));
    EXPECT_EQ(pieces(kind, "x   "), (Strings{"x", "   "}));  // a run at the end stays whole
    EXPECT_EQ(pieces(kind, "  hello"), (Strings{" ", " hello"}));
  }
  EXPECT_EQ(pieces(PreTokenizerKind::kGpt2, "\n\nx"), (Strings{"\n", "\n", "x"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kLlama3, "\n\nx"), (Strings{"\n\n", "x"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kGpt2, " \n  x"), (Strings{" \n ", " x"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kLlama3, " \n  x"), (Strings{" \n", " ", " x"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kGpt2, "tab\t\tx"), (Strings{"tab", "\t", "\t", "x"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kLlama3, "tab\t\tx"), (Strings{"tab", "\t", "\tx"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kLlama3, "a  1"), (Strings{"a", " ", " ", "1"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kSmolLM, "a  1"), (Strings{"a", "  ", "1"}));
}

TEST(TokenizerPre, ContractionsNumbersAndPunctuation) {
  EXPECT_EQ(pieces(PreTokenizerKind::kGpt2, "I'd've"), (Strings{"I", "'d", "'ve"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kGpt2, "I'D"), (Strings{"I", "'", "D"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kLlama3, "I'D"), (Strings{"I", "'D"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kLlama3, "x'\xC5\xBF"), (Strings{"x", "'\xC5\xBF"}));  // 'ſ
  EXPECT_EQ(pieces(PreTokenizerKind::kGpt2, "1234567"), (Strings{"1234567"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kLlama3, "1234567"), (Strings{"123", "456", "7"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kQwen2, "123"), (Strings{"1", "2", "3"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kSmolLM, " 12"), (Strings{" ", "1", "2"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kGpt2, " 12"), (Strings{" 12"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kLlama3, "(hello) world!!\n\n"),
            (Strings{"(hello", ")", " world", "!!\n\n"}));
  EXPECT_EQ(pieces(PreTokenizerKind::kGpt2, "(hello) world!!\n\n"),
            (Strings{"(", "hello", ")", " world", "!!", "\n\n"}));
  // Letters of any script, digits of any script.
  EXPECT_EQ(pieces(PreTokenizerKind::kGpt2, "Grüße 世界 \xD9\xA1\xD9\xA2"),
            (Strings{"Grüße", " 世界", " \xD9\xA1\xD9\xA2"}));
}

TEST(TokenizerPre, InvalidUtf8BytesArePunctuationAndKept) {
  const std::string text = "ab\xFF\xFE cd";
  EXPECT_EQ(pieces(PreTokenizerKind::kGpt2, text), (Strings{"ab", "\xFF\xFE", " cd"}));
}

// ------------------------------------------------------------ byte-level BPE

TEST(TokenizerBpe, MergesApplyByRankNotByPosition) {
  // "abc": rank 0 joins b+c first, so "ab" never forms; then a+bc.
  TokenizerData d = byte_level({"ab", "bc", "abc"}, {"b c", "a b", "a bc"});
  Tokenizer tok(d);
  EXPECT_EQ(tok.encode("abc"), (Ids{id_of(d, "abc")}));
  // Without the a+bc merge, "abc" is out of reach even though it is a token...
  d = byte_level({"ab", "bc", "abc"}, {"b c", "a b"});
  EXPECT_EQ(Tokenizer(d).encode("abc"), (Ids{'a', id_of(d, "bc")}));
  // ...unless ignore_merges takes whole words from the vocabulary (Llama 3).
  d.ignore_merges = true;
  EXPECT_EQ(Tokenizer(d).encode("abc"), (Ids{id_of(d, "abc")}));
}

TEST(TokenizerBpe, EqualRanksMergeLeftmostFirst) {
  const TokenizerData d = byte_level({"aa"}, {"a a"});
  Tokenizer tok(d);
  EXPECT_EQ(tok.encode("aaa"), (Ids{id_of(d, "aa"), 'a'}));
  EXPECT_EQ(tok.encode("aaaa"), (Ids{id_of(d, "aa"), id_of(d, "aa")}));
}

TEST(TokenizerBpe, SpacesAreByteCharactersAndRoundTrip) {
  const std::string g = byte_char(' ');  // "Ġ"
  const TokenizerData d = byte_level({g + "w", g + "wo"}, {g + " w", g + "w o"});
  Tokenizer tok(d);
  const Ids ids = tok.encode("a wo");
  EXPECT_EQ(ids, (Ids{'a', id_of(d, g + "wo")}));
  EXPECT_EQ(tok.decode(ids), "a wo");
  // Any bytes survive, even invalid UTF-8 (decode shows it as U+FFFD).
  const Ids raw = tok.encode("x\xFFy\xC3");
  EXPECT_EQ(raw, (Ids{'x', 0xFF, 'y', 0xC3}));
  EXPECT_EQ(tok.token_to_piece(0xFF), "\xFF");
  EXPECT_EQ(tok.decode(raw), "x\xEF\xBF\xBDy\xEF\xBF\xBD");
}

TEST(TokenizerBpe, MergeWithASpaceInsideAPartIsSplitWhereBothHalvesAreTokens) {
  // tokenizer.json's [a, b] pair form allows a space inside a part.
  TokenizerData d = byte_level({"x y", "x yz"}, {});
  d.merges = {"x y z"};  // "x y" + "z"
  d.tokens.push_back("x");
  EXPECT_NO_THROW(Tokenizer{d});
  d.merges = {"q r"};
  try {
    Tokenizer bad(d);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("merge #0 'q r'"), std::string::npos) << e.what();
  }
}

TEST(TokenizerBpe, SmolLMSplitsDigitsBeforeMerging) {
  const TokenizerData d = byte_level({"12"}, {"1 2"}, "smollm");
  EXPECT_EQ(Tokenizer(d).encode("12"), (Ids{'1', '2'}));
  EXPECT_EQ(Tokenizer(byte_level({"12"}, {"1 2"}, "gpt2")).encode("12"), (Ids{256}));
}

TEST(TokenizerBpe, Qwen2NormalizesToNfc) {
  const std::string e_acute = "\xC3\xA9", e_combining = "e\xCC\x81";
  TokenizerData d = byte_level({byte_char(0xC3) + byte_char(0xA9)},
                               {byte_char(0xC3) + " " + byte_char(0xA9)}, "qwen2");
  EXPECT_EQ(Tokenizer(d).encode(e_combining), (Ids{256}));
  d.pre = "gpt2";
  EXPECT_EQ(Tokenizer(d).encode(e_combining), (Ids{'e', 0xCC, 0x81}));
  d.nfc = true;
  EXPECT_EQ(Tokenizer(d).encode(e_combining), Tokenizer(d).encode(e_acute));
}

TEST(TokenizerBpe, UnknownModelOrPreTokenizerIsAnErrorListingTheSupportedOnes) {
  TokenizerData d = byte_level({}, {}, "falcon");
  try {
    Tokenizer tok(d);
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'falcon'"), std::string::npos) << m;
    EXPECT_NE(m.find("llama3"), std::string::npos) << m;
    EXPECT_NE(m.find("smollm"), std::string::npos) << m;
  }
  d.model = "t5";
  try {
    Tokenizer tok(d);
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'t5'"), std::string::npos) << m;
    EXPECT_NE(m.find("gpt2"), std::string::npos) << m;
  }
  for (const char* alias : {"llama-bpe", "default", "smollm", "qwen2", "llama-v3"}) {
    d = byte_level({}, {}, alias);
    EXPECT_NO_THROW(Tokenizer{d}) << alias;
  }
}

// ------------------------------------------------------------ special tokens

TokenizerData with_specials() {
  TokenizerData d = byte_level({"<|im_start|>", "<|im_start|>x", "<tool>", "hi"}, {"h i"});
  d.token_types.assign(d.tokens.size(), kTokenNormal);
  d.token_types[256] = kTokenControl;
  d.token_types[257] = kTokenControl;
  d.token_types[258] = kTokenUserDefined;
  d.bos_id = 256;
  d.eos_id = 257;
  return d;
}

TEST(TokenizerSpecial, LongestMatchFirstAndParseSpecialOff) {
  const TokenizerData d = with_specials();
  Tokenizer tok(d);
  EXPECT_EQ(tok.encode("hi<|im_start|>xy<|im_start|>hi"), (Ids{259, 257, 'y', 256, 259}));
  // parse_special off: control tokens are text; user-defined ones still match.
  const Ids plain = tok.encode("<|im_start|><tool>", true, false);
  EXPECT_EQ(plain.back(), 258);
  EXPECT_EQ(plain.front(), '<');
  EXPECT_GT(plain.size(), 2u);
}

TEST(TokenizerSpecial, BosEosAndHiddenControlTokens) {
  TokenizerData d = with_specials();
  d.add_bos = true;
  d.add_eos = true;
  Tokenizer tok(d);
  EXPECT_EQ(tok.encode("hi"), (Ids{256, 259, 257}));
  EXPECT_EQ(tok.encode("hi", false), (Ids{259}));
  EXPECT_EQ(tok.decode({256, 259, 258, 257}), "hi<tool>");
  EXPECT_EQ(tok.decode({256, 259, 257}, true), "<|im_start|>hi<|im_start|>x");
  EXPECT_EQ(tok.token_to_piece(256), "");
  EXPECT_TRUE(tok.is_eog(257));
  EXPECT_FALSE(tok.is_eog(259));
  EXPECT_THROW(tok.decode({999}), Error);
}

// ------------------------------------------------------------ SentencePiece BPE

// <unk> <s> </s>, 256 byte tokens, then pieces with scores (higher merges first).
TokenizerData sentencepiece(std::string pre = "") {
  TokenizerData d;
  d.model = "llama";
  d.pre = std::move(pre);
  d.tokens = {"<unk>", "<s>", "</s>"};
  d.token_types = {kTokenUnknown, kTokenControl, kTokenControl};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    d.tokens.push_back(name);
    d.token_types.push_back(kTokenByte);
  }
  const std::vector<std::pair<std::string, float>> pieces = {
      {kSpace, -1}, {"h", -2},    {"i", -3},          {"e", -4},           {"l", -5},
      {"o", -6},    {"hi", -7},   {kSpace + "h", -8}, {kSpace + "hi", -9}, {"ll", -10},
      {"lo", -11},  {"hel", -12}, {"he", -13}};
  d.scores.assign(d.tokens.size(), 0.f);
  for (const auto& [text, score] : pieces) {
    d.tokens.push_back(text);
    d.token_types.push_back(kTokenNormal);
    d.scores.push_back(score);
  }
  d.unk_id = 0;
  d.bos_id = 1;
  d.eos_id = 2;
  d.add_bos = true;
  d.add_space_prefix = true;
  return d;
}

TEST(TokenizerSentencePiece, ScoresChooseMergesAndBytesFallBack) {
  const TokenizerData d = sentencepiece();
  Tokenizer tok(d);
  // "▁hi": "hi" (-7) beats "▁h" (-8), then "▁" + "hi" forms "▁hi".
  EXPECT_EQ(tok.encode("hi"), (Ids{1, id_of(d, kSpace + "hi")}));
  // "▁hello": "▁h" (-8) first, then "ll" (-10) beats the overlapping "lo"
  // (-11); "▁h"+"e" is no token, so "he" (-13) never forms.
  EXPECT_EQ(tok.encode("hello", false),
            (Ids{id_of(d, kSpace + "h"), id_of(d, "e"), id_of(d, "ll"), id_of(d, "o")}));
  // "é" has no piece: its two UTF-8 bytes as <0xC3> <0xA9>.
  EXPECT_EQ(tok.encode("hi é", false),
            (Ids{id_of(d, kSpace + "hi"), id_of(d, kSpace), 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tok.decode(tok.encode("hi é")), "hi é");
  EXPECT_EQ(tok.decode(tok.encode(" hi  é ")), " hi  é ");
}

TEST(TokenizerSentencePiece, MergeListWhenPresentAndEveryFragmentPrefixed) {
  TokenizerData d = sentencepiece();
  // With merges, only listed pairs merge (HF BPE): no "▁"+"hi" pair, so "▁hi" stays apart.
  d.merges = {"h i", kSpace + " h"};
  Tokenizer tok(d);
  EXPECT_EQ(tok.encode("hi", false), (Ids{id_of(d, kSpace), id_of(d, "hi")}));
  // Llama 2: "▁" before each text fragment, also after a special token.
  EXPECT_EQ(tok.encode("h</s>h", false), (Ids{id_of(d, kSpace + "h"), 2, id_of(d, kSpace + "h")}));
}

TEST(TokenizerSentencePiece, MetaspaceSchemes) {
  TokenizerData d = sentencepiece("metaspace-first");
  Tokenizer first(d);
  // Only the fragment at the start gets the prefix, and not when it has one.
  EXPECT_EQ(first.encode("h</s>h", false), (Ids{id_of(d, kSpace + "h"), 2, id_of(d, "h")}));
  EXPECT_EQ(first.encode(" h", false), (Ids{id_of(d, kSpace + "h")}));
  d.pre = "metaspace-always-split";
  Tokenizer split(d);
  EXPECT_EQ(split.encode("h</s>h", false),
            (Ids{id_of(d, kSpace + "h"), 2, id_of(d, kSpace + "h")}));
  d.pre = "metaspace-sometimes";
  EXPECT_THROW(Tokenizer{d}, Error);
}

// ------------------------------------------------------------ streaming

TEST(TokenizerStream, OnlyWholeCharactersComeOut) {
  const TokenizerData d = sentencepiece();
  Tokenizer tok(d);
  StreamDecoder stream(tok);
  // "😀" = F0 9F 98 80, one byte token at a time.
  EXPECT_EQ(stream.push(id_of(d, "hi")), "hi");
  EXPECT_EQ(stream.push(3 + 0xF0), "");
  EXPECT_EQ(stream.push(3 + 0x9F), "");
  EXPECT_EQ(stream.push(3 + 0x98), "");
  EXPECT_EQ(stream.push(3 + 0x80), "\xF0\x9F\x98\x80");
  EXPECT_EQ(stream.push(id_of(d, kSpace + "h")), " h");
  EXPECT_EQ(stream.push(3 + 0xC3), "");
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");  // an unfinished "é"
  EXPECT_EQ(stream.flush(), "");
  EXPECT_EQ(stream.push(3 + 0xFF), "\xEF\xBF\xBD");  // never valid: out at once
}

// ------------------------------------------------------------ Unicode

TEST(TokenizerUnicode, NfcComposesReordersAndLeavesTheRest) {
  EXPECT_EQ(unicode::nfc("e\xCC\x81"), "\xC3\xA9");                                 // e + acute
  EXPECT_EQ(unicode::nfc("\xE2\x84\xAB"), "\xC3\x85");                              // Å sign -> Å
  EXPECT_EQ(unicode::nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), "\xEA\xB0\x81");  // 각
  // q + dot above (230) + dot below (220): reordered, nothing composes.
  EXPECT_EQ(unicode::nfc("q\xCC\x87\xCC\xA3"), "q\xCC\xA3\xCC\x87");
  EXPECT_EQ(unicode::nfc("plain ascii"), "plain ascii");
  EXPECT_EQ(unicode::nfc("\xFF"
                         "e\xCC\x81"),
            "\xFF\xC3\xA9");
}

TEST(TokenizerUnicode, Utf8DecodingAndCategories) {
  size_t n = 0;
  EXPECT_EQ(unicode::decode_utf8("\xF0\x9F\x98\x80", 0, &n), 0x1F600u);
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(unicode::decode_utf8("\xC0\xAF", 0, &n), unicode::kInvalid);      // overlong
  EXPECT_EQ(unicode::decode_utf8("\xED\xA0\x80", 0, &n), unicode::kInvalid);  // surrogate
  EXPECT_EQ(unicode::incomplete_utf8_suffix("a\xE4\xB8"), 2u);
  EXPECT_EQ(unicode::incomplete_utf8_suffix("a\xE4\xB8\xAD"), 0u);
  EXPECT_TRUE(unicode::is_letter(0x4E16));  // 世
  EXPECT_TRUE(unicode::is_number(0x0661));  // Arabic-Indic one
  EXPECT_TRUE(unicode::is_space(0x3000));
  EXPECT_TRUE(unicode::is_space(0x85));
  EXPECT_FALSE(unicode::is_space(0x200B));   // zero width space is Cf
  EXPECT_TRUE(unicode::is_letter(0x1D518));  // mathematical fraktur U
}

// ------------------------------------------------------------ tokenizer.json

class TokenizerJson : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rma_tokenizer_json_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  std::filesystem::path dir_;
};

TEST_F(TokenizerJson, Llama3StyleWithConfig) {
  const std::string path = write("tokenizer.json", R"({
    "added_tokens": [{"id": 5, "content": "<|eot_id|>", "special": true},
                     {"id": 6, "content": "<|begin_of_text|>", "special": true}],
    "normalizer": null,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
       "behavior": "Isolated", "invert": false},
      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
    "post_processor": {"type": "TemplateProcessing", "single": [
      {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "ignore_merges": true,
              "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4},
              "merges": [["a", "b"], "Ġ ab"]}})");
  write("tokenizer_config.json",
        R"({"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|eot_id|>"},
            "chat_template": "{{ '<|start_header_id|>' }}"})");
  const TokenizerData d = load_tokenizer_json(path);
  EXPECT_EQ(d.model, "gpt2");
  EXPECT_EQ(d.pre, "llama3");
  EXPECT_EQ(d.bos_id, 6);
  EXPECT_EQ(d.eos_id, 5);
  EXPECT_TRUE(d.add_bos);
  EXPECT_EQ(d.ignore_merges, std::optional<bool>(true));
  EXPECT_EQ(d.merges, (Strings{"a b", "Ġ ab"}));
  EXPECT_EQ(d.token_types[5], kTokenControl);
  Tokenizer tok(d);
  EXPECT_EQ(tok.encode("ab ab<|eot_id|>"), (Ids{6, 2, 4, 5}));
  EXPECT_TRUE(tok.is_eog(5));
}

TEST_F(TokenizerJson, UnknownSplitRegexIsNamed) {
  const std::string path = write("tokenizer.json", R"({
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "\\w+|[^\\w]"}, "behavior": "Isolated", "invert": false},
      {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]},
    "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  try {
    load_tokenizer_json(path);
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("\\w+|[^\\w]"), std::string::npos) << m;
    EXPECT_NE(m.find("tokenizer.json"), std::string::npos) << m;
  }
}

TEST_F(TokenizerJson, BadFilesAreErrorsWithWhere) {
  EXPECT_THROW(load_tokenizer_json((dir_ / "missing.json").string()), Error);
  const std::string bad = write("tokenizer.json", "{\"model\": [1, 2,");
  try {
    load_tokenizer_json(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("byte offset"), std::string::npos) << e.what();
  }
  write("tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})");
  try {
    load_tokenizer_json(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Unigram"), std::string::npos) << e.what();
  }
}

TEST_F(TokenizerJson, Llama2StyleBecomesSentencePiece) {
  const std::string path = write("tokenizer.json", R"({
    "added_tokens": [{"id": 0, "content": "<unk>", "special": true},
                     {"id": 1, "content": "<s>", "special": true}],
    "normalizer": {"type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": null,
    "decoder": {"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
      {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "byte_fallback": true, "unk_token": "<unk>",
              "vocab": {"<unk>": 0, "<s>": 1, "<0x41>": 2, "▁": 3, "h": 4, "i": 5, "hi": 6, "▁hi": 7},
              "merges": ["h i", "▁ hi"]}})");
  const TokenizerData d = load_tokenizer_json(path);
  EXPECT_EQ(d.model, "llama");
  EXPECT_EQ(d.pre, "");
  EXPECT_TRUE(d.add_space_prefix);
  EXPECT_EQ(d.token_types[2], kTokenByte);
  EXPECT_GT(d.scores[6], d.scores[7]);  // earlier merge, higher score
  Tokenizer tok(d);
  EXPECT_EQ(tok.encode("hi A"), (Ids{7, 3, 2}));
  EXPECT_EQ(tok.decode({7, 3, 2}), "hi A");
}

// ------------------------------------------------------------ chat templates

std::string render(const std::string& tmpl, const std::vector<ChatMessage>& messages,
                   bool generation = true) {
  TokenizerData d = byte_level({"<s>", "</s>", "<|begin_of_text|>", "<|eot_id|>"}, {});
  d.chat_template = tmpl;
  d.bos_id = tmpl.find("start_header") != std::string::npos ? 258 : 256;
  d.eos_id = tmpl.find("start_header") != std::string::npos ? 259 : 257;
  return Tokenizer(d).apply_chat_template(messages, generation);
}

TEST(TokenizerChat, ChatMLWithTheTemplatesDefaultSystemMessage) {
  const std::string smollm =
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
      "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
      "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
      "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
      "{{ '<|im_start|>assistant\n' }}{% endif %}";
  EXPECT_EQ(render(smollm, {{"user", "Hi"}}),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render(smollm, {{"system", "S"}, {"user", "Hi"}}, false),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  const std::string escaped =
      "{{- '<|im_start|>system\\nYou are Qwen, \\'helpful\\'.<|im_end|>\\n' }}"
      "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}";
  EXPECT_EQ(render(escaped, {{"user", "Q"}}),
            "<|im_start|>system\nYou are Qwen, 'helpful'.<|im_end|>\n<|im_start|>user\nQ"
            "<|im_end|>\n<|im_start|>assistant\n");
}

TEST(TokenizerChat, Llama3TrimsContents) {
  const std::string llama3 = "{{ '<|start_header_id|>' }}";
  EXPECT_EQ(render(llama3, {{"user", "  Hi \n"}}),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  const std::string llama31 =
      "{{ '<|start_header_id|>' }}{%- set date_string = \"01 Jan 2025\" %}Cutting Knowledge Date";
  EXPECT_EQ(render(llama31, {{"system", " S "}, {"user", "Hi"}}, false),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge "
            "Date: December 2023\nToday Date: 01 Jan 2025\n\nS<|eot_id|><|start_header_id|>user"
            "<|end_header_id|>\n\nHi<|eot_id|>");
}

TEST(TokenizerChat, Llama2FoldsTheSystemMessageAndChecksAlternation) {
  const std::string llama2 = "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}<<SYS>>";
  EXPECT_EQ(
      render(llama2,
             {{"system", "Be nice."}, {"user", "Hi "}, {"assistant", " Hello"}, {"user", "Bye"}}),
      "<s>[INST] <<SYS>>\nBe nice.\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] Bye [/INST]");
  EXPECT_THROW(render(llama2, {{"user", "a"}, {"user", "b"}}), Error);
}

TEST(TokenizerChat, UnknownTemplateFallsBackToChatML) {
  EXPECT_EQ(render("{{ messages }}", {{"user", "x"}}),
            "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n");
}

}  // namespace
}  // namespace rma::llm
