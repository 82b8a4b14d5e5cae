#include "rma/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <unordered_set>

namespace rma::log {
namespace {

std::shared_ptr<spdlog::logger>& logger() {
  static std::shared_ptr<spdlog::logger> l = [] {
    auto lg = spdlog::stderr_color_mt("rma");
    lg->set_pattern("[rma %^%l%$] %v");
    lg->set_level(spdlog::level::info);
    return lg;
  }();
  return l;
}

spdlog::level::level_enum to_spd(Level l) {
  switch (l) {
    case Level::kTrace: return spdlog::level::trace;
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
    case Level::kOff: return spdlog::level::off;
  }
  return spdlog::level::warn;
}

Level g_level = Level::kInfo;

}  // namespace

void set_level(Level l) {
  g_level = l;
  logger()->set_level(to_spd(l));
}

Level level() { return g_level; }

bool parse_level(std::string_view s, Level* out) {
  static const std::pair<std::string_view, Level> kNames[] = {
      {"trace", Level::kTrace}, {"debug", Level::kDebug}, {"info", Level::kInfo},
      {"warn", Level::kWarn},   {"warning", Level::kWarn}, {"error", Level::kError},
      {"off", Level::kOff}};
  for (const auto& [name, l] : kNames)
    if (s == name) {
      *out = l;
      return true;
    }
  return false;
}

void write(Level l, std::string_view message) {
  logger()->log(to_spd(l), "{}", message);
}

void once(Level l, const std::string& key, std::string_view message) {
  static std::mutex mu;
  static std::unordered_set<std::string> seen;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!seen.insert(key).second) return;
  }
  write(l, message);
}

}  // namespace rma::log
