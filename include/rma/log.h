// rma/log.h — process-wide logging (spdlog underneath).
// Level from Config / RM_LOG_LEVEL: trace, debug, info, warn, error, off.
// Thread safe. log_once() prints a given key only the first time.
#pragma once

#include <string>
#include <string_view>

namespace rma::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kOff };

void set_level(Level level);
Level level();
bool parse_level(std::string_view s, Level* out);

void write(Level level, std::string_view message);
inline void trace(std::string_view m) { write(Level::kTrace, m); }
inline void debug(std::string_view m) { write(Level::kDebug, m); }
inline void info(std::string_view m) { write(Level::kInfo, m); }
inline void warn(std::string_view m) { write(Level::kWarn, m); }
inline void error(std::string_view m) { write(Level::kError, m); }

// Writes `message` only the first time `key` is seen in this process.
void once(Level level, const std::string& key, std::string_view message);

}  // namespace rma::log
