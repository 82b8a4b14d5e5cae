// `rma cache ls|stat|clear|verify`: the compile cache (local folder and,
// with RM_CACHE_STORE_URL=redis://..., Redis), configured by the same
// RM_CACHE_* variables as the library. Loads no plugins.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "rma/compile/cache.h"

namespace rma::cli {
namespace {

using compile::CacheConfig;
using compile::CompileCache;
using nlohmann::json;

std::string format_age(int64_t seconds) {
  char buf[32];
  if (seconds < 120)
    std::snprintf(buf, sizeof(buf), "%lld s", static_cast<long long>(seconds));
  else if (seconds < 7200)
    std::snprintf(buf, sizeof(buf), "%lld min", static_cast<long long>(seconds / 60));
  else if (seconds < 2 * 86400)
    std::snprintf(buf, sizeof(buf), "%.1f h", seconds / 3600.0);
  else
    std::snprintf(buf, sizeof(buf), "%.1f d", seconds / 86400.0);
  return buf;
}

std::string describe_lifetime(int64_t lifetime) {
  if (lifetime == 0) return "0 (every lookup misses; entries are replaced)";
  if (lifetime < 0) return std::to_string(lifetime) + " (entries never expire; read-only)";
  return std::to_string(lifetime) + " s (" + format_age(lifetime) + ")";
}

std::string status_of(const compile::CacheEntryInfo& e) {
  if (!e.problem.empty()) return "unreadable: " + e.problem;
  return e.expired ? "expired" : "ok";
}

void ls(bool as_json) {
  CompileCache cache;
  const auto entries = cache.ls();
  if (as_json) {
    json out = {{"entries", json::array()}};
    for (const auto& e : entries)
      out["entries"].push_back({{"store", e.store},
                                {"location", e.location},
                                {"key", e.key},
                                {"size", e.size},
                                {"stored_bytes", e.stored_bytes},
                                {"created_unix", e.created_unix},
                                {"age_seconds", e.age_seconds},
                                {"expired", e.expired},
                                {"meta", e.meta},
                                {"problem", e.problem}});
    std::cout << out.dump(2) << "\n";
    return;
  }
  if (entries.empty()) {
    std::printf("no entries in %s%s\n", cache.config().local_dir.c_str(),
                cache.config().redis_url.empty() ? "" : " or Redis");
    return;
  }
  std::printf("%-16s  %-5s  %10s  %8s  %-8s  %s\n", "KEY", "STORE", "SIZE", "AGE", "STATUS",
              "META");
  for (const auto& e : entries) {
    std::string meta;
    for (const auto& [k, v] : e.meta) meta += (meta.empty() ? "" : " ") + k + "=" + v;
    std::printf("%-16s  %-5s  %10s  %8s  %-8s  %s\n", e.key.substr(0, 16).c_str(), e.store.c_str(),
                format_bytes(e.size).c_str(), format_age(e.age_seconds).c_str(),
                status_of(e).c_str(), meta.c_str());
  }
}

void stat(bool as_json) {
  CompileCache cache;
  const compile::CacheStats stats = cache.stat();
  const CacheConfig& config = cache.config();
  if (as_json) {
    json out = {{"enabled", config.enabled},
                {"lifetime_seconds", config.lifetime_seconds},
                {"read_only", config.read_only()},
                {"stores", json::array()}};
    for (const auto& s : stats.stores)
      out["stores"].push_back({{"store", s.store},
                               {"location", s.location},
                               {"available", s.available},
                               {"unavailable_reason", s.unavailable_reason},
                               {"entries", s.entries},
                               {"bytes", s.bytes},
                               {"expired", s.expired},
                               {"hits", s.hits},
                               {"misses", s.misses}});
    std::cout << out.dump(2) << "\n";
    return;
  }
  for (const auto& s : stats.stores) {
    if (!s.available) {
      std::printf("%-5s  %s: unavailable (%s)\n", s.store.c_str(), s.location.c_str(),
                  s.unavailable_reason.c_str());
      continue;
    }
    std::printf("%-5s  %s: %llu entries, %s (%llu expired); %llu hits, %llu misses\n",
                s.store.c_str(), s.location.c_str(), static_cast<unsigned long long>(s.entries),
                format_bytes(s.bytes).c_str(), static_cast<unsigned long long>(s.expired),
                static_cast<unsigned long long>(s.hits), static_cast<unsigned long long>(s.misses));
  }
  std::printf("enabled %s, lifetime %s\n", config.enabled ? "yes" : "no (RM_CACHE_ENABLED=0)",
              describe_lifetime(config.lifetime_seconds).c_str());
}

}  // namespace

void add_cache_command(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "cache",
      "List, summarize, clear or verify the compile cache (RM_CACHE_DIR, RM_CACHE_STORE_URL, "
      "RM_CACHE_LIFETIME)");
  cmd->require_subcommand(1);

  auto ls_json = std::make_shared<bool>(false);
  CLI::App* ls_cmd = cmd->add_subcommand("ls", "List the entries: key, store, size, age, status");
  ls_cmd->add_flag("--json", *ls_json, "Print as JSON (full keys and metadata)");
  ls_cmd->callback([ls_json, &exit_code] {
    ls(*ls_json);
    exit_code = 0;
  });

  auto stat_json = std::make_shared<bool>(false);
  CLI::App* stat_cmd =
      cmd->add_subcommand("stat", "Entries, bytes and hit/miss counts per store, and the settings");
  stat_cmd->add_flag("--json", *stat_json, "Print as JSON");
  stat_cmd->callback([stat_json, &exit_code] {
    stat(*stat_json);
    exit_code = 0;
  });

  auto expired_only = std::make_shared<bool>(false);
  CLI::App* clear_cmd = cmd->add_subcommand("clear", "Remove every entry and the hit/miss counts");
  clear_cmd->add_flag("--expired", *expired_only,
                      "Remove only entries older than RM_CACHE_LIFETIME (and unreadable ones)");
  clear_cmd->callback([expired_only, &exit_code] {
    CompileCache cache;
    const uint64_t removed = cache.clear(*expired_only);
    std::printf("removed %llu %sentr%s from %s%s\n", static_cast<unsigned long long>(removed),
                *expired_only ? "expired " : "", removed == 1 ? "y" : "ies",
                cache.config().local_dir.c_str(),
                cache.config().redis_url.empty() ? "" : " and Redis");
    exit_code = 0;
  });

  CLI::App* verify_cmd = cmd->add_subcommand(
      "verify", "Read every entry and check its SHA-256; corrupt ones are removed (exit code 1)");
  verify_cmd->callback([&exit_code] {
    CompileCache cache;
    const compile::CacheVerifyReport report = cache.verify();
    for (const auto& [location, why] : report.bad)
      std::printf("corrupt: %s: %s (removed)\n", location.c_str(), why.c_str());
    std::printf("checked %llu entries: %s\n", static_cast<unsigned long long>(report.checked),
                report.bad.empty()
                    ? "all good"
                    : (std::to_string(report.bad.size()) + " corrupt, removed").c_str());
    exit_code = report.bad.empty() ? 0 : 1;
  });
}

}  // namespace rma::cli
