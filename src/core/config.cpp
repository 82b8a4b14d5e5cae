#include "rma/config.h"

#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>

#include "rma/error.h"
#include "rma/log.h"

namespace rma {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return (v && *v) ? v : nullptr;
}

void note_override(const char* var, const std::string& value, const std::string& was) {
  log::once(log::Level::kInfo, std::string("override:") + var,
            std::string(var) + "=" + value + " overrides '" + was + "' set in code");
}

}  // namespace

Config Config::with_environment() const {
  Config c = *this;
  if (const char* v = env("RM_LOG_LEVEL")) {
    log::Level l;
    if (!log::parse_level(v, &l))
      throw Error(ErrorCode::kInvalidArgument,
                  std::string("RM_LOG_LEVEL='") + v +
                      "' is not one of trace, debug, info, warn, error, off");
    c.log_level = v;
  }
  log::Level l;
  if (!log::parse_level(c.log_level, &l))
    throw Error(ErrorCode::kInvalidArgument,
                "log level '" + c.log_level + "' is not one of trace, debug, info, warn, error, off");
  log::set_level(l);

  if (const char* v = env("RM_DEVICE")) {
    if (c.device != v) note_override("RM_DEVICE", v, c.device);
    c.device = v;
  }
  if (const char* v = env("RM_PLUGIN_PATH")) {
    std::stringstream ss(v);
    std::string dir;
    while (std::getline(ss, dir, ':'))
      if (!dir.empty()) c.plugin_paths.push_back(dir);
  }
  if (const char* v = env("RM_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (!end || *end != '\0' || n < 1 || n > 4096)
      throw Error(ErrorCode::kInvalidArgument,
                  std::string("RM_NUM_THREADS='") + v + "' is not a positive thread count");
    if (c.num_threads != 0 && c.num_threads != n)
      note_override("RM_NUM_THREADS", v, std::to_string(c.num_threads));
    c.num_threads = static_cast<int>(n);
  }
  if (c.num_threads <= 0) c.num_threads = available_cores();
  if (const char* v = env("RM_CACHE_DIR")) {
    if (!c.cache_dir.empty() && c.cache_dir != v) note_override("RM_CACHE_DIR", v, c.cache_dir);
    c.cache_dir = v;
  }
  if (c.cache_dir.empty()) {
    const char* home = env("HOME");
    c.cache_dir = std::string(home ? home : "/tmp") + "/.cache/rm_abstract";
  }
  return c;
}

}  // namespace rma
