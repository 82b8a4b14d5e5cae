// Chat templates: the model's Jinja template is recognised by its text and
// rendered by code that gives the same output as the template under Jinja
// (tests/llm/tokenizer_vs_hf.py checks it against jinja2).
//
// Families:
// - ChatML (<|im_start|>): SmolLM2, Qwen2. A default system message written
//   in the template (inserted when the first message is not a system one) is
//   read from the template text.
// - Llama 3 (<|start_header_id|>): contents trimmed; 3.1 and later (their
//   template has "Cutting Knowledge Date") always open with a system block
//   holding the knowledge cutoff and a date (the template's fallback date).
// - Llama 2 ([INST]): <<SYS>> folded into the first user turn, roles must
//   alternate user/assistant.
#include <string>
#include <string_view>
#include <vector>

#include "rma/error.h"
#include "rma/llm/tokenizer.h"
#include "rma/log.h"
#include "unicode.h"

namespace rma::llm {
namespace {

// Python's str.strip(): Unicode whitespace and the ASCII separators \x1c-\x1f.
std::string strip(std::string_view text) {
  const auto is_ws = [](uint32_t cp) {
    return unicode::is_space(cp) || (cp >= 0x1C && cp <= 0x1F);
  };
  size_t begin = 0, end = text.size();
  while (begin < end) {
    size_t length = 0;
    if (!is_ws(unicode::decode_utf8(text, begin, &length))) break;
    begin += length;
  }
  while (end > begin) {
    size_t start = end - 1;  // back to the start of the last character
    while (start > begin && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
    size_t length = 0;
    if (!is_ws(unicode::decode_utf8(text, start, &length)) || start + length != end) break;
    end = start;
  }
  return std::string(text.substr(begin, end - begin));
}

// Undoes the escapes of a Jinja string literal (\n, \t, \', \", \\).
std::string unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    const char c = text[++i];
    out += c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
  }
  return out;
}

// The system message a ChatML template writes as a literal
// ('<|im_start|>system\n...<|im_end|>' with the newline real or escaped),
// or "" when its system block only ever holds a message's content.
std::string chatml_default_system(const std::string& tmpl) {
  const std::string head = "<|im_start|>system";
  for (size_t at = tmpl.find(head); at != std::string::npos; at = tmpl.find(head, at + 1)) {
    size_t body = at + head.size();
    if (tmpl.compare(body, 2, "\\n") == 0)
      body += 2;
    else if (tmpl.compare(body, 1, "\n") == 0)
      body += 1;
    else
      continue;
    const size_t end = tmpl.find("<|im_end|>", body);
    if (end == std::string::npos) continue;
    const std::string_view text = std::string_view(tmpl).substr(body, end - body);
    // An expression (' + message['content'] + ') is no literal.
    bool literal = !text.empty();
    for (size_t i = 0; i < text.size() && literal; ++i)
      if ((text[i] == '\'' || text[i] == '"' || text[i] == '{' || text[i] == '}') &&
          (i == 0 || text[i - 1] != '\\'))
        literal = false;
    if (literal) return unescape(text);
  }
  return {};
}

// The literal in `set date_string = "..."`, or Llama 3.1's "26 Jul 2024".
std::string llama3_date(const std::string& tmpl) {
  const std::string key = "date_string = \"";
  const size_t at = tmpl.find(key);
  if (at != std::string::npos) {
    const size_t end = tmpl.find('"', at + key.size());
    if (end != std::string::npos) return tmpl.substr(at + key.size(), end - at - key.size());
  }
  return "26 Jul 2024";
}

std::string token_text(const TokenizerData& d, int32_t id) {
  return id >= 0 && id < static_cast<int32_t>(d.tokens.size()) ? d.tokens[id] : std::string();
}

std::string render_chatml(const TokenizerData& d, const std::vector<ChatMessage>& messages,
                          bool add_generation_prompt) {
  std::string out;
  const std::string fallback = chatml_default_system(d.chat_template);
  if (!messages.empty() && messages[0].role != "system" && !fallback.empty())
    out.append("<|im_start|>system\n").append(fallback).append("<|im_end|>\n");
  for (const ChatMessage& m : messages)
    out.append("<|im_start|>").append(m.role).append("\n").append(m.content).append("<|im_end|>\n");
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::string render_llama3(const TokenizerData& d, const std::vector<ChatMessage>& messages,
                          bool add_generation_prompt) {
  const auto turn = [](const std::string& role, const std::string& content) {
    std::string text = "<|start_header_id|>";
    text.append(role).append("<|end_header_id|>\n\n").append(strip(content)).append("<|eot_id|>");
    return text;
  };
  std::string out = token_text(d, d.bos_id);
  size_t first = 0;
  if (d.chat_template.find("Cutting Knowledge Date") != std::string::npos) {
    std::string system;
    if (!messages.empty() && messages[0].role == "system") {
      system = messages[0].content;
      first = 1;
    }
    // Only the system message is trimmed, not the block around it.
    out.append("<|start_header_id|>system<|end_header_id|>\n\n")
        .append("Cutting Knowledge Date: December 2023\nToday Date: ")
        .append(llama3_date(d.chat_template))
        .append("\n\n")
        .append(strip(system))
        .append("<|eot_id|>");
  }
  for (size_t i = first; i < messages.size(); ++i)
    out += turn(messages[i].role, messages[i].content);
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::string render_llama2(const TokenizerData& d, const std::vector<ChatMessage>& messages) {
  std::string system;
  size_t first = 0;
  if (!messages.empty() && messages[0].role == "system") {
    system = messages[0].content;
    first = 1;
  }
  const std::string bos = token_text(d, d.bos_id), eos = token_text(d, d.eos_id);
  std::string out;
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const bool expect_user = (i - first) % 2 == 0;
    if ((m.role == "user") != expect_user)
      throw Error(ErrorCode::kInvalidArgument,
                  "chat template (Llama 2): conversation roles must alternate "
                  "user/assistant/user/assistant/...; message " +
                      std::to_string(i) + " has role '" + m.role + "'");
    std::string content = m.content;
    if (i == first && first == 1) {
      std::string with_system = "<<SYS>>\n";
      content = with_system.append(system).append("\n<</SYS>>\n\n").append(content);
    }
    if (m.role == "user")
      out.append(bos).append("[INST] ").append(strip(content)).append(" [/INST]");
    else if (m.role == "assistant")
      out.append(" ").append(strip(content)).append(" ").append(eos);
  }
  return out;
}

}  // namespace

std::string Tokenizer::apply_chat_template(const std::vector<ChatMessage>& messages,
                                           bool add_generation_prompt) const {
  const TokenizerData& d = data();
  const std::string& tmpl = d.chat_template;
  if (tmpl.find("<|im_start|>") != std::string::npos)
    return render_chatml(d, messages, add_generation_prompt);
  if (tmpl.find("<|start_header_id|>") != std::string::npos)
    return render_llama3(d, messages, add_generation_prompt);
  if (tmpl.find("[INST]") != std::string::npos) return render_llama2(d, messages);
  log::once(log::Level::kWarn, "chat-template-fallback",
            tmpl.empty() ? "the model has no chat template; using ChatML"
                         : "the model's chat template is not one of ChatML, Llama 3, Llama 2; "
                           "using ChatML");
  TokenizerData plain;
  return render_chatml(plain, messages, add_generation_prompt);
}

}  // namespace rma::llm
