// rma/config.h — runtime configuration.
// Code sets values; the environment, when set, overrides them so that an
// operator can move an unchanged program (each override is logged once):
//   RM_DEVICE       default device ("cpu", "opencl:0", "cuda:1", "auto")
//   RM_PLUGIN_PATH  extra plugin folders, ':'-separated, searched after the
//                   built-in folder
//   RM_LOG_LEVEL    trace|debug|info|warn|error|off
//   RM_NUM_THREADS  CPU threads (default: the cores available)
//   RM_CACHE_DIR    cache folder (default ~/.cache/rm_abstract)
// and, read by the compile cache (rma/compile/cache.h, docs/compile-cache.md):
//   RM_CACHE_ENABLED, RM_CACHE_STORE_URL, RM_CACHE_LIFETIME
#pragma once

#include <string>
#include <vector>

namespace rma {

struct Config {
  std::string device = "auto";
  std::vector<std::string> plugin_paths;
  std::string log_level = "info";
  int num_threads = 0;  // 0: the cores available to this process
  std::string cache_dir;  // empty: default

  // This config with environment overrides applied (and logged once).
  Config with_environment() const;
};

// Cores available to this process (affinity-aware).
int available_cores();

}  // namespace rma
