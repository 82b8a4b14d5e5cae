// load_tokenizer_json: a Hugging Face tokenizer.json (BPE model) and the
// tokenizer_config.json, chat_template.jinja and generation_config.json
// beside it, read into TokenizerData.
//
// The pipeline (normalizer, pre-tokenizer, decoder, post-processor) is not
// interpreted generally: each known configuration is recognised and mapped
// onto one the Tokenizer implements ("pre" names), and anything else is an
// error naming the field and what it holds, so a tokenizer is never run with
// a pipeline that would give other ids than HF's.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "rma/error.h"
#include "rma/llm/tokenizer.h"
#include "rma/log.h"

namespace rma::llm {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kMetaspace = "\xE2\x96\x81";  // "▁"

// The split regexes of the byte-level pre-tokenizers, as tokenizer.json spells them.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Error context: the file, and a field path inside it.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(ErrorCode::kInvalidArgument, file_ + ": " + field + ": " + what);
  }
  [[noreturn]] void unsupported(const std::string& field, const std::string& what) const {
    throw Error(ErrorCode::kUnsupported, file_ + ": " + field + ": " + what);
  }

  json parse() const {
    std::ifstream in(file_, std::ios::binary);
    if (!in) throw Error(ErrorCode::kNotFound, file_ + ": cannot open");
    std::stringstream buffer;
    buffer << in.rdbuf();
    try {
      return json::parse(buffer.str());
    } catch (const json::parse_error& e) {
      throw Error(ErrorCode::kInvalidArgument, file_ + ": byte offset " + std::to_string(e.byte) +
                                                   ": not valid JSON (" + e.what() + ")");
    }
  }

  // Short text of a JSON value for messages.
  static std::string show(const json& v) {
    std::string text = v.dump();
    if (text.size() > 200) text = text.substr(0, 200) + "...";
    return text;
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

std::string type_of(const json& node) {
  if (!node.is_object()) return {};
  const auto it = node.find("type");
  return it != node.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool bool_or(const json& node, const char* key, bool fallback) {
  const auto it = node.find(key);
  return it != node.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// The normalizer: nothing, NFC, or Llama 2's Prepend("▁") + Replace(" ", "▁").
struct Normalizer {
  bool nfc = false;
  bool sentencepiece = false;  // prepend "▁", spaces to "▁"
};

Normalizer read_normalizer(const Reader& r, const json& node) {
  Normalizer n;
  if (node.is_null()) return n;
  std::vector<json> steps;
  if (type_of(node) == "Sequence" && node.contains("normalizers") && node["normalizers"].is_array())
    steps.assign(node["normalizers"].begin(), node["normalizers"].end());
  else
    steps.push_back(node);
  bool prepend = false, replace = false;
  for (const json& step : steps) {
    const std::string type = type_of(step);
    if (type == "NFC") {
      n.nfc = true;
    } else if (type == "Prepend" && step.value("prepend", "") == kMetaspace) {
      prepend = true;
    } else if (type == "Replace" && step.contains("pattern") &&
               step["pattern"].value("String", "") == " " &&
               step.value("content", "") == kMetaspace) {
      replace = true;
    } else {
      r.unsupported("normalizer", "the step " + Reader::show(step) +
                                      " is not supported; supported: null, NFC, and Llama 2's "
                                      "Prepend(\"\u2581\") + Replace(\" \", \"\u2581\")");
    }
  }
  if (prepend != replace)
    r.unsupported("normalizer", Reader::show(node) +
                                    ": Prepend(\"\u2581\") and Replace(\" \", \"\u2581\") come "
                                    "together (Llama 2) or not at all");
  n.sentencepiece = prepend;
  return n;
}

// What the pre-tokenizer amounts to.
struct PreTokenizer {
  bool byte_level = false;
  std::string pre;         // TokenizerData::pre
  bool metaspace = false;  // SentencePiece via Metaspace
  bool add_space_prefix = false;
};

PreTokenizer read_pre_tokenizer(const Reader& r, const json& node) {
  PreTokenizer p;
  if (node.is_null()) return p;
  const std::string type = type_of(node);
  const auto check_byte_level = [&](const json& step, bool regex_expected) {
    if (bool_or(step, "add_prefix_space", false))
      r.unsupported("pre_tokenizer", "ByteLevel with add_prefix_space=true is not supported");
    if (bool_or(step, "use_regex", true) != regex_expected)
      r.unsupported("pre_tokenizer", Reader::show(node) + ": ByteLevel use_regex=" +
                                         (regex_expected ? "false" : "true") +
                                         " is not supported here");
  };
  if (type == "ByteLevel") {
    check_byte_level(node, true);
    return {true, "gpt2", false, false};
  }
  if (type == "Metaspace") {
    if (node.value("replacement", "") != kMetaspace)
      r.unsupported("pre_tokenizer.replacement",
                    Reader::show(node["replacement"]) + ": only \"\u2581\" is supported");
    std::string scheme = node.value("prepend_scheme", "always");
    if (node.contains("add_prefix_space") && !bool_or(node, "add_prefix_space", true))
      scheme = "never";
    if (scheme != "first" && scheme != "always" && scheme != "never")
      r.unsupported("pre_tokenizer.prepend_scheme", "'" + scheme + "' is not supported");
    p.metaspace = true;
    p.add_space_prefix = scheme != "never";
    p.pre = "metaspace-" + (scheme == "never" ? std::string("always") : scheme);
    if (bool_or(node, "split", true)) p.pre += "-split";
    return p;
  }
  if (type == "Sequence" && node.contains("pretokenizers") && node["pretokenizers"].is_array() &&
      node["pretokenizers"].size() == 2) {
    const json& first = node["pretokenizers"][0];
    const json& second = node["pretokenizers"][1];
    if (type_of(first) == "Digits" && type_of(second) == "ByteLevel") {
      if (!bool_or(first, "individual_digits", false))
        r.unsupported("pre_tokenizer", "Digits with individual_digits=false is not supported");
      check_byte_level(second, true);
      return {true, "smollm", false, false};
    }
    if (type_of(first) == "Split" && type_of(second) == "ByteLevel") {
      check_byte_level(second, false);
      const json& pattern = first.value("pattern", json());
      if (!pattern.is_object() || !pattern.contains("Regex") || !pattern["Regex"].is_string())
        r.unsupported("pre_tokenizer.pretokenizers[0].pattern",
                      Reader::show(pattern) + ": expected {\"Regex\": ...}");
      if (first.value("behavior", "") != "Isolated" || bool_or(first, "invert", false))
        r.unsupported(
            "pre_tokenizer.pretokenizers[0]",
            "Split must have behavior Isolated and invert false, found " + Reader::show(first));
      const std::string regex = pattern["Regex"].get<std::string>();
      if (regex == kLlama3Pattern) return {true, "llama3", false, false};
      if (regex == kQwen2Pattern) return {true, "qwen2", false, false};
      if (regex == kGpt2Pattern) return {true, "gpt2", false, false};
      r.unsupported("pre_tokenizer.pretokenizers[0].pattern.Regex",
                    "the split regex " + regex +
                        " is not one this tokenizer implements (GPT-2's, Llama 3's or Qwen2's)");
    }
  }
  r.unsupported("pre_tokenizer",
                Reader::show(node) +
                    " is not supported; supported: ByteLevel (GPT-2), Sequence[Split(Llama 3 / "
                    "Qwen2 / GPT-2 regex), ByteLevel], Sequence[Digits(individual_digits), "
                    "ByteLevel] (SmolLM2), Metaspace, or null with Llama 2's normalizer");
}

void check_decoder(const Reader& r, const json& node, bool byte_level) {
  if (node.is_null()) return;
  std::vector<json> steps;
  if (type_of(node) == "Sequence" && node.contains("decoders") && node["decoders"].is_array())
    steps.assign(node["decoders"].begin(), node["decoders"].end());
  else
    steps.push_back(node);
  for (const json& step : steps) {
    const std::string type = type_of(step);
    const bool ok = byte_level ? type == "ByteLevel"
                               : (type == "Metaspace" || type == "Replace" ||
                                  type == "ByteFallback" || type == "Fuse" || type == "Strip");
    if (!ok)
      r.unsupported("decoder", "the step " + Reader::show(step) + " is not supported for a " +
                                   (byte_level ? "byte-level (ByteLevel decoder)"
                                               : "SentencePiece (Replace, ByteFallback, Fuse, "
                                                 "Strip or Metaspace decoder)") +
                                   " tokenizer");
  }
}

// add_bos / add_eos as a TemplateProcessing post-processor says: a special
// token before $A, or after it.
void read_post_processor(const json& node, bool* bos, bool* eos) {
  if (!node.is_object()) return;
  if (type_of(node) == "Sequence" && node.contains("processors")) {
    for (const json& step : node["processors"]) read_post_processor(step, bos, eos);
    return;
  }
  if (type_of(node) != "TemplateProcessing" || !node.contains("single") ||
      !node["single"].is_array() || node["single"].empty())
    return;
  const json& single = node["single"];
  *bos = single.front().contains("SpecialToken");
  *eos = single.size() > 1 && single.back().contains("SpecialToken");
}

// bos_token & co in tokenizer_config.json: a string or {"content": ...}.
std::string token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return {};
}

}  // namespace

TokenizerData load_tokenizer_json(const std::string& tokenizer_json_path) {
  const Reader r(tokenizer_json_path);
  const json root = r.parse();
  if (!root.is_object()) r.fail("(top level)", "expected a JSON object");
  if (!root.contains("model") || !root["model"].is_object())
    r.fail("model", "missing, or not an object");
  const json& model = root["model"];
  const std::string model_type =
      type_of(model).empty() && model.contains("merges") ? std::string("BPE") : type_of(model);
  if (model_type != "BPE")
    r.unsupported("model.type", "'" + model_type + "' is not supported; supported: BPE");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty())
      r.unsupported(std::string("model.") + key,
                    "a non-empty " + std::string(key) + " is not supported");
  if (model.contains("dropout") && model["dropout"].is_number() &&
      model["dropout"].get<double>() > 0)
    r.unsupported("model.dropout", "BPE dropout is not supported (it makes encoding random)");

  TokenizerData t;
  // Ids: the model's vocab, then the added tokens (which may extend it).
  if (!model.contains("vocab") || !model["vocab"].is_object())
    r.fail("model.vocab", "missing, or not an object of token -> id");
  std::vector<std::pair<int64_t, std::string>> entries;
  for (const auto& [text, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      r.fail("model.vocab[\"" + text + "\"]", "expected a token id, found " + Reader::show(id));
    entries.emplace_back(id.get<int64_t>(), text);
  }
  const json added = root.value("added_tokens", json::array());
  if (!added.is_array()) r.fail("added_tokens", "expected an array");
  for (size_t i = 0; i < added.size(); ++i) {
    const json& a = added[i];
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
        !a.contains("content") || !a["content"].is_string() || a["id"].get<int64_t>() < 0 ||
        a["id"].get<int64_t>() > INT32_MAX)
      r.fail("added_tokens[" + std::to_string(i) + "]",
             "expected {\"id\": <token id>, \"content\": <text>, ...}, found " + Reader::show(a));
    entries.emplace_back(a["id"].get<int64_t>(), a["content"].get<std::string>());
  }
  int64_t max_id = -1;
  for (const auto& e : entries) max_id = std::max(max_id, e.first);
  if (max_id < 0) r.fail("model.vocab", "the vocabulary is empty");
  t.tokens.assign(static_cast<size_t>(max_id) + 1, std::string());
  t.token_types.assign(t.tokens.size(), kTokenUnused);
  for (const auto& [id, text] : entries) {
    t.tokens[id] = text;
    t.token_types[id] = kTokenNormal;
  }
  std::string stripped;  // added tokens whose whitespace options are not applied
  for (const json& a : added) {
    t.token_types[a["id"].get<int64_t>()] =
        bool_or(a, "special", false) ? kTokenControl : kTokenUserDefined;
    if (bool_or(a, "lstrip", false) || bool_or(a, "rstrip", false) ||
        bool_or(a, "single_word", false))
      stripped += (stripped.empty() ? "" : ", ") + a["content"].get<std::string>();
  }
  if (!stripped.empty())
    log::once(log::Level::kWarn, "tokenizer-json-strip:" + tokenizer_json_path,
              tokenizer_json_path + ": the lstrip/rstrip/single_word options of added tokens (" +
                  stripped + ") are not applied; text around them may tokenize differently");
  std::unordered_map<std::string, int32_t> ids;  // an added token's id wins
  ids.reserve(entries.size() * 2);
  for (const auto& [id, text] : entries) ids[text] = static_cast<int32_t>(id);
  const auto id_of = [&](const std::string& text) -> int32_t {
    const auto it = ids.find(text);
    return it == ids.end() ? -1 : it->second;
  };

  // Merges: "a b" strings, or [a, b] pairs (kept as "a b"; the Tokenizer
  // finds the split of a part with a space in it).
  const json merges = model.value("merges", json::array());
  if (!merges.is_array()) r.fail("model.merges", "expected an array");
  t.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    if (m.is_string())
      t.merges.push_back(m.get<std::string>());
    else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
      t.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    else
      r.fail("model.merges[" + std::to_string(i) + "]",
             "expected \"a b\" or [\"a\", \"b\"], found " + Reader::show(m));
  }
  if (model.contains("ignore_merges") && model["ignore_merges"].is_boolean())
    t.ignore_merges = model["ignore_merges"].get<bool>();
  else
    t.ignore_merges = false;
  if (model.contains("unk_token") && model["unk_token"].is_string())
    t.unk_id = id_of(model["unk_token"].get<std::string>());

  // The pipeline.
  const Normalizer normalizer = read_normalizer(r, root.value("normalizer", json()));
  const PreTokenizer pre = read_pre_tokenizer(r, root.value("pre_tokenizer", json()));
  t.nfc = normalizer.nfc;
  if (pre.byte_level) {
    if (normalizer.sentencepiece)
      r.unsupported("normalizer", "Llama 2's normalizer with a ByteLevel pre-tokenizer");
    t.model = "gpt2";
    t.pre = pre.pre;
  } else if (pre.metaspace || normalizer.sentencepiece) {
    if (pre.metaspace && normalizer.sentencepiece)
      r.unsupported("normalizer", "Llama 2's normalizer together with a Metaspace pre-tokenizer");
    if (normalizer.nfc) r.unsupported("normalizer", "NFC with a SentencePiece-style tokenizer");
    t.model = "llama";
    t.pre = pre.metaspace ? pre.pre : "";
    t.add_space_prefix = pre.metaspace ? pre.add_space_prefix : true;
    // Scores that order merges as the merge list does, for consumers that
    // only look at scores (the Tokenizer itself uses the merges).
    t.scores.assign(t.tokens.size(), 0.f);
    for (size_t rank = 0; rank < t.merges.size(); ++rank) {
      const std::string& m = t.merges[rank];
      const size_t space = m.find(' ');
      const int32_t id = id_of(m.substr(0, space) + m.substr(space + 1));
      if (id >= 0 && t.scores[id] == 0.f) t.scores[id] = -static_cast<float>(rank + 1);
    }
    for (size_t id = 0; id < t.tokens.size(); ++id)
      if (t.token_types[id] == kTokenNormal && t.tokens[id].size() == 6 &&
          t.tokens[id].compare(0, 3, "<0x") == 0 && t.tokens[id][5] == '>')
        t.token_types[id] = kTokenByte;
  } else {
    r.unsupported("pre_tokenizer",
                  "null, with no SentencePiece normalizer: the tokenizer would "
                  "not split text into words (not supported)");
  }
  check_decoder(r, root.value("decoder", json()), pre.byte_level);
  read_post_processor(root.value("post_processor", json()), &t.add_bos, &t.add_eos);

  // tokenizer_config.json: special tokens, add_bos/add_eos, chat template.
  const fs::path dir = fs::path(tokenizer_json_path).parent_path();
  std::string bos_text, eos_text, pad_text;
  if (fs::exists(dir / "tokenizer_config.json")) {
    const Reader cr((dir / "tokenizer_config.json").string());
    const json config = cr.parse();
    if (!config.is_object()) cr.fail("(top level)", "expected a JSON object");
    bos_text = token_text(config.value("bos_token", json()));
    eos_text = token_text(config.value("eos_token", json()));
    pad_text = token_text(config.value("pad_token", json()));
    if (const std::string unk = token_text(config.value("unk_token", json())); !unk.empty())
      t.unk_id = id_of(unk);
    t.add_bos = bool_or(config, "add_bos_token", t.add_bos);
    t.add_eos = bool_or(config, "add_eos_token", t.add_eos);
    const json tmpl = config.value("chat_template", json());
    if (tmpl.is_string()) {
      t.chat_template = tmpl.get<std::string>();
    } else if (tmpl.is_array()) {
      // Named templates: the "default" one.
      for (const json& entry : tmpl)
        if (entry.is_object() && entry.value("name", "") == "default")
          t.chat_template = entry.value("template", "");
    }
    for (const auto& [field, text] :
         {std::pair{"bos_token", bos_text}, {"eos_token", eos_text}, {"pad_token", pad_text}})
      if (!text.empty() && id_of(text) < 0)
        cr.fail(field, "'" + text + "' is not a token of " + tokenizer_json_path);
  }
  if (fs::exists(dir / "chat_template.jinja")) {
    std::ifstream in(dir / "chat_template.jinja", std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    t.chat_template = buffer.str();
  }
  t.bos_id = id_of(bos_text);
  t.eos_id = id_of(eos_text);
  t.pad_id = id_of(pad_text);

  // End of generation: eos, generation_config.json's eos_token_id(s), and the
  // end-of-turn markers of the chat formats when they are special tokens.
  if (t.eos_id >= 0) t.eog_ids.push_back(t.eos_id);
  if (fs::exists(dir / "generation_config.json")) {
    const Reader gr((dir / "generation_config.json").string());
    const json generation = gr.parse();
    const json eos = generation.is_object() ? generation.value("eos_token_id", json()) : json();
    for (const json& id : eos.is_array() ? eos : json::array({eos}))
      if (id.is_number_integer() && id.get<int64_t>() >= 0 &&
          id.get<int64_t>() < static_cast<int64_t>(t.tokens.size()))
        t.eog_ids.push_back(id.get<int32_t>());
  }
  for (const char* marker : {"<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>",
                             "<|endoftext|>", "</s>", "<end_of_turn>"}) {
    const int32_t id = id_of(marker);
    if (id >= 0 && t.token_types[id] == kTokenControl) t.eog_ids.push_back(id);
  }
  std::sort(t.eog_ids.begin(), t.eog_ids.end());
  t.eog_ids.erase(std::unique(t.eog_ids.begin(), t.eog_ids.end()), t.eog_ids.end());
  return t;
}

}  // namespace rma::llm
