// `rma tokenize`: text -> token ids with a model's tokenizer (and back with
// --decode; chat templates with --chat). --json works on many inputs in one
// process: tests/llm/tokenizer_vs_hf.py drives a whole corpus through it.
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "rma/error.h"
#include "rma/llm/engine.h"
#include "rma/llm/model_file.h"
#include "rma/llm/tokenizer.h"

namespace rma::cli {
namespace {

using json = nlohmann::json;

struct TokenizeOptions {
  std::string model;
  std::string prompt;
  std::string file;
  std::string chat;
  bool prompt_given = false;
  bool json = false;
  bool no_special = false;
  bool no_bos_eos = false;
  bool ids_only = false;
  bool decode = false;
  bool no_generation_prompt = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot open '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

json parse_json(const std::string& text, const std::string& where) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw UsageError(where + ": byte offset " + std::to_string(e.byte) + ": not valid JSON");
  }
}

// A tokenizer.json file directly, else a .gguf file, HF folder or known model name.
llm::Tokenizer load_tokenizer(const std::string& model) {
  if (model.size() > 5 && model.compare(model.size() - 5, 5, ".json") == 0)
    return llm::Tokenizer(llm::load_tokenizer_json(model));
  return llm::Tokenizer(llm::ModelFile::open(llm::resolve_model(model))->tokenizer());
}

// 'text' with control characters and quotes escaped, for the token table.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (unsigned char c : text) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\'' || c == '\\')
      (out += '\\') += static_cast<char>(c);
    else if (c < 0x20 || c == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::istringstream in(text);
  for (std::string word; in >> word;) {
    try {
      size_t used = 0;
      const long value = std::stol(word, &used);
      if (used != word.size() || value < 0 || value > INT32_MAX) throw std::invalid_argument("");
      ids.push_back(static_cast<int32_t>(value));
    } catch (const std::exception&) {
      throw UsageError("--decode: '" + word + "' is not a token id");
    }
  }
  return ids;
}

void run_tokenize(const TokenizeOptions& o) {
  const llm::Tokenizer tok = load_tokenizer(o.model);
  if (!o.chat.empty()) {
    // A JSON array of conversations, each an array of {role, content}.
    const json convs = parse_json(read_file(o.chat), o.chat);
    if (!convs.is_array()) throw UsageError(o.chat + ": expected a JSON array of conversations");
    json out = json::array();
    for (const json& conv : convs) {
      std::vector<llm::ChatMessage> messages;
      for (const json& m : conv) {
        if (!m.is_object() || !m.contains("role") || !m.contains("content") ||
            !m["role"].is_string() || !m["content"].is_string())
          throw UsageError(o.chat + ": a message must be {\"role\": ..., \"content\": ...}");
        messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
      }
      out.push_back(tok.apply_chat_template(messages, !o.no_generation_prompt));
    }
    std::printf("%s\n", out.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    return;
  }
  if (o.prompt_given == !o.file.empty())
    throw UsageError("give the input with exactly one of -p/--prompt, -f/--file or --chat");
  const std::string input = o.prompt_given ? o.prompt : read_file(o.file);
  const std::string where = o.prompt_given ? std::string("--prompt") : o.file;

  if (o.decode) {
    const bool keep_special = !o.no_special;
    if (o.json) {
      const json lists = parse_json(input, where);
      if (!lists.is_array()) throw UsageError(where + ": expected a JSON array of id arrays");
      json out = json::array();
      for (const json& list : lists)
        out.push_back(tok.decode(list.get<std::vector<int32_t>>(), keep_special));
      std::printf("%s\n", out.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    } else {
      std::printf("%s\n", tok.decode(parse_ids(input), keep_special).c_str());
    }
    return;
  }

  const bool add_special = !o.no_bos_eos, parse_special = !o.no_special;
  if (o.json) {
    const json texts = parse_json(input, where);
    if (!texts.is_array()) throw UsageError(where + ": expected a JSON array of strings");
    json out = json::array();
    for (const json& text : texts) {
      if (!text.is_string()) throw UsageError(where + ": expected a JSON array of strings");
      out.push_back(tok.encode(text.get<std::string>(), add_special, parse_special));
    }
    std::printf("%s\n", out.dump().c_str());
    return;
  }
  const std::vector<int32_t> ids = tok.encode(input, add_special, parse_special);
  if (o.ids_only) {
    std::string line;
    for (int32_t id : ids) line += (line.empty() ? "" : " ") + std::to_string(id);
    std::printf("%s\n", line.c_str());
    return;
  }
  for (int32_t id : ids) std::printf("%8d  %s\n", id, quoted(tok.token_to_piece(id, true)).c_str());
  std::printf("%zu tokens\n", ids.size());
}

}  // namespace

void add_tokenize_command(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "Turn text into token ids with a model's tokenizer (or back, with --decode)");
  auto o = std::make_shared<TokenizeOptions>();
  cmd->add_option("-m,--model", o->model,
                  "A .gguf file, a Hugging Face folder, a tokenizer.json, or a known model name")
      ->required();
  cmd->add_option("-p,--prompt", o->prompt, "The text (or, with --decode, the ids)");
  cmd->add_option("-f,--file", o->file, "Read the text (or ids) from this file");
  cmd->add_option("--chat", o->chat,
                  "Render conversations with the chat template: a JSON file holding an array of "
                  "conversations (arrays of {role, content}); prints a JSON array of strings");
  cmd->add_flag("--json", o->json,
                "Input is a JSON array of strings (with --decode: of id arrays); output a JSON "
                "array of id arrays (of strings)");
  cmd->add_flag("--no-special", o->no_special,
                "Special-token text such as <|im_start|> stays text; with --decode, control "
                "tokens are left out");
  cmd->add_flag("--no-bos-eos", o->no_bos_eos, "Do not add the bos/eos tokens the model asks for");
  cmd->add_flag("--ids-only", o->ids_only, "Print the ids on one line, nothing else");
  cmd->add_flag("--decode", o->decode, "Input is token ids (space-separated); print their text");
  cmd->add_flag("--no-generation-prompt", o->no_generation_prompt,
                "With --chat: do not open an assistant turn at the end");
  cmd->callback([o, cmd, &exit_code] {
    o->prompt_given = cmd->count("--prompt") > 0;
    run_tokenize(*o);
    exit_code = 0;
  });
}

}  // namespace rma::cli
