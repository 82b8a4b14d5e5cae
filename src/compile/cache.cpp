// CompileCache: configuration, keys, and the rules (lifetime, checksums,
// Redis fallback) over the stores of cache_store.h.
#include "rma/compile/cache.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "cache_store.h"
#include "file_util.h"
#include "rma/error.h"
#include "rma/log.h"

namespace rma::compile {
namespace {

using detail::CacheStore;
using detail::StoreStatus;

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return (v && *v) ? v : nullptr;
}

bool parse_switch(const char* var, const std::string& v) {
  if (v == "1" || v == "true" || v == "on" || v == "yes") return true;
  if (v == "0" || v == "false" || v == "off" || v == "no") return false;
  throw Error(ErrorCode::kInvalidArgument,
              std::string(var) + "='" + v + "' is not 1 or 0 (also true/false, on/off, yes/no)");
}

int64_t parse_seconds(const char* var, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE)
    throw Error(ErrorCode::kInvalidArgument,
                std::string(var) + "='" + v +
                    "' is not a whole number of seconds (N > 0: entries expire after N; 0: always "
                    "recompile; N < 0: never expire, read-only)");
  return n;
}

void check_key(const std::string& key) {
  if (!detail::is_key_hex(key))
    throw Error(
        ErrorCode::kInvalidArgument,
        "compile cache key '" + key + "' is not 64 lowercase hex digits (use CompileCache::key)");
}

int64_t now_unix() { return int64_t(std::time(nullptr)); }

std::string short_key(const std::string& key) { return key.substr(0, 12) + "…"; }

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

std::string format_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f ms", ms);
  return buf;
}

// Length-prefixed, so ("ab","c") and ("a","bc") differ.
void add_field(Sha256& h, std::string_view s) {
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = uint8_t(uint64_t(s.size()) >> (8 * i));
  h.update(length, sizeof(length));
  h.update(s);
}

}  // namespace

// ------------------------------------------------------------ configuration
CacheConfig CacheConfig::from_environment(const Config& config) {
  CacheConfig c;
  if (const char* v = env("RM_CACHE_ENABLED")) c.enabled = parse_switch("RM_CACHE_ENABLED", v);
  std::string root = config.cache_dir;
  if (root.empty()) {
    const char* home = env("HOME");
    root = std::string(home ? home : "/tmp") + "/.cache/rm_abstract";
  }
  c.local_dir = root + "/compiler";
  if (const char* v = env("RM_CACHE_STORE_URL")) {
    const std::string url = v;
    if (url.rfind("redis://", 0) == 0) {
      detail::RedisStore check(url, "");  // a malformed URL throws here, naming the variable
      c.redis_url = url;
    } else if (url.find("://") != std::string::npos) {
      throw Error(ErrorCode::kInvalidArgument,
                  "RM_CACHE_STORE_URL='" + url.substr(0, url.find("://") + 3) +
                      "…' has an unsupported scheme; expected "
                      "redis://[[user]:password@]host[:port][/db], or a folder");
    } else {
      c.local_dir = url;  // a folder that holds the entries itself
    }
  }
  if (const char* v = env("RM_CACHE_LIFETIME"))
    c.lifetime_seconds = parse_seconds("RM_CACHE_LIFETIME", v);
  return c;
}

CacheConfig CacheConfig::from_environment() {
  return from_environment(Config{}.with_environment());
}

// ------------------------------------------------------------ keys
std::string CompileCache::key(const std::string& model_sha256, const Fingerprint& target,
                              const std::map<std::string, std::string>& options,
                              const std::string& compiler_version) {
  Digest model;
  if (!parse_digest(model_sha256, &model))
    throw Error(ErrorCode::kInvalidArgument,
                "compile cache key: model SHA-256 '" + model_sha256 + "' is not 64 hex digits");
  Sha256 h;
  add_field(h, "rma compile cache key v1");
  add_field(h, to_hex(model));  // lowercase, whatever case came in
  for (const auto& [name, value] : target.fields()) {
    add_field(h, name);
    add_field(h, value);
  }
  add_field(h, std::to_string(options.size()));
  for (const auto& [name, value] : options) {  // std::map: sorted by name
    add_field(h, name);
    add_field(h, value);
  }
  add_field(h, compiler_version);
  return to_hex(h.finish());
}

// ------------------------------------------------------------ the cache
struct CompileCache::Found {
  CacheView view;
  std::string location;
};

CompileCache::CompileCache(CacheConfig config) : config_(std::move(config)) {
  local_ = std::make_unique<detail::LocalStore>(config_.local_dir);
  if (!config_.redis_url.empty())
    redis_ = std::make_unique<detail::RedisStore>(config_.redis_url, config_.local_dir);
}

CompileCache::CompileCache() : CompileCache(CacheConfig::from_environment()) {}

CompileCache::~CompileCache() = default;

std::vector<CacheStore*> CompileCache::stores() {
  std::vector<CacheStore*> out = {local_.get()};
  if (redis_) out.push_back(redis_.get());
  return out;
}

CacheStore& CompileCache::serving_store() {
  if (redis_ && redis_->available()) return *redis_;
  return *local_;
}

std::optional<CompileCache::Found> CompileCache::find(const std::string& key) {
  Digest k;
  parse_digest(key, &k);
  // Two rounds at most: Redis, then (once Redis has failed) the local folder.
  for (int round = 0; round < 2; ++round) {
    CacheStore& store = serving_store();
    detail::StoredEntry entry;
    std::string token;
    StoreStatus status;
    try {
      status = store.read(key, &entry, &token);
    } catch (const Error& e) {
      log::warn("compile cache: " + e.message() + "; treated as a miss");
      return std::nullopt;
    }
    if (status == StoreStatus::kUnavailable) continue;
    const std::string where = store.location_of(key);
    if (status == StoreStatus::kMissing) {
      log::debug("compile cache: no entry " + where);
      return std::nullopt;
    }
    detail::EntryHeader header;
    std::string why;
    if (!detail::check_entry(entry.bytes, k, &header, &why)) {
      log::warn("compile cache: corrupt entry " + where + ": " + why +
                "; removed, it will be recompiled");
      try {
        store.remove(key, token);
      } catch (const Error& e) {
        log::warn("compile cache: " + e.message());
      }
      return std::nullopt;
    }
    const int64_t age = std::max<int64_t>(0, now_unix() - header.created_unix);
    if (config_.lifetime_seconds > 0 && age > config_.lifetime_seconds) {
      log::debug("compile cache: entry " + where + " expired (age " + std::to_string(age) +
                 " s > RM_CACHE_LIFETIME " + std::to_string(config_.lifetime_seconds) + " s)");
      return std::nullopt;
    }
    const std::span<const uint8_t> payload =
        entry.bytes.subspan(header.payload_offset(), header.payload_size);
    return Found{CacheView{std::move(entry.owner), payload}, where};
  }
  return std::nullopt;
}

std::string CompileCache::file_digest(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error(ErrorCode::kNotFound, "cannot read '" + path + "': " + std::strerror(errno));
  if (!config_.enabled || config_.read_only()) return to_hex(sha256_file(path));
  // One memo per absolute path, holding the identity it was hashed at.
  std::error_code ec;
  const std::string absolute = std::filesystem::absolute(path, ec).string();
  const std::string memo_dir = config_.local_dir + "/digests";
  const std::string memo = memo_dir + "/" + to_hex(sha256(absolute)) + ".sum";
  const std::string identity =
      std::to_string(st.st_dev) + " " + std::to_string(st.st_ino) + " " +
      std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
      std::to_string(st.st_mtim.tv_nsec) + " " + std::to_string(st.st_ctim.tv_sec) + "." +
      std::to_string(st.st_ctim.tv_nsec);
  {
    std::ifstream in(memo);
    std::string line;
    if (in && std::getline(in, line) && line.size() == identity.size() + 65 &&
        line.compare(0, identity.size(), identity) == 0 && line[identity.size()] == ' ') {
      const std::string digest = line.substr(identity.size() + 1);
      Digest parsed;
      if (parse_digest(digest, &parsed)) return digest;
    }
  }
  const std::string digest = to_hex(sha256_file(path));
  try {
    detail::make_dirs(memo_dir);
    detail::AtomicFile out(memo);
    const std::string line = identity + " " + digest + "\n";
    out.write(line.data(), line.size());
    out.commit();
  } catch (const Error& e) {
    log::debug(std::string("compile cache: cannot remember the digest of '") + path +
               "': " + e.what());
  }
  return digest;
}

std::optional<std::vector<uint8_t>> CompileCache::get(const std::string& key) {
  std::optional<CacheView> view = get_view(key);
  if (!view) return std::nullopt;
  return std::vector<uint8_t>(view->payload.begin(), view->payload.end());
}

std::optional<CacheView> CompileCache::get_view(const std::string& key) {
  check_key(key);
  if (!config_.enabled) return std::nullopt;
  std::lock_guard<std::mutex> lock(mutex_);
  std::optional<Found> found;
  if (config_.lifetime_seconds == 0)
    log::debug("compile cache: RM_CACHE_LIFETIME=0, so key " + short_key(key) + " is a miss");
  else
    found = find(key);
  serving_store().count(found.has_value());
  (found ? session_hits_ : session_misses_) += 1;
  if (!found) return std::nullopt;
  log::debug("compile cache: hit " + found->location + " (" +
             std::to_string(found->view.payload.size()) + " bytes)");
  return std::move(found->view);
}

bool CompileCache::put(const std::string& key, std::span<const uint8_t> payload,
                       const std::map<std::string, std::string>& meta) {
  check_key(key);
  if (!config_.enabled) return false;
  if (config_.read_only()) {
    log::once(log::Level::kInfo, "compile-cache-read-only",
              "compile cache is read-only (RM_CACHE_LIFETIME=" +
                  std::to_string(config_.lifetime_seconds) + " < 0): new entries are not stored");
    return false;
  }
  Digest k;
  parse_digest(key, &k);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<uint8_t> entry = detail::encode_entry(k, now_unix(), meta, payload);
  std::lock_guard<std::mutex> lock(mutex_);
  for (int round = 0; round < 2; ++round) {
    CacheStore& store = serving_store();
    StoreStatus status;
    try {
      status = store.write(key, entry, config_.lifetime_seconds);
    } catch (const Error& e) {
      log::warn("compile cache: cannot store key " + short_key(key) + ": " + e.message());
      return false;
    }
    if (status == StoreStatus::kUnavailable) continue;
    log::debug("compile cache: stored " + store.location_of(key) + " (" +
               std::to_string(payload.size()) + " bytes) in " + format_ms(ms_since(start)));
    return true;
  }
  return false;
}

std::vector<uint8_t> CompileCache::get_or_compile(
    const std::string& key, const std::function<std::vector<uint8_t>()>& compile,
    const std::map<std::string, std::string>& meta) {
  check_key(key);
  if (config_.enabled) {
    if (auto hit = get(key)) {
      log::info("compile cache hit (key " + short_key(key) + ", " + std::to_string(hit->size()) +
                " bytes)");
      return std::move(*hit);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  std::vector<uint8_t> compiled = compile();
  const std::string took = format_ms(ms_since(start));
  if (!config_.enabled) {
    log::info("compile cache off (RM_CACHE_ENABLED=0): compiled in " + took);
    return compiled;
  }
  log::info("compile cache miss (key " + short_key(key) + "): compiled in " + took);
  put(key, compiled, meta);
  return compiled;
}

// ------------------------------------------------------------ maintenance
namespace {

CacheEntryInfo describe(const detail::ListedEntry& listed, const char* store, int64_t lifetime) {
  CacheEntryInfo info;
  info.store = store;
  info.location = listed.location;
  info.key = listed.key_hex;
  info.stored_bytes = listed.stored_bytes;
  detail::EntryHeader h;
  if (!detail::decode_entry_header(listed.head, &h, &info.problem)) return info;
  if (to_hex(h.key) != listed.key_hex) {
    info.problem = "it holds key " + to_hex(h.key);
    return info;
  }
  info.size = h.payload_size;
  info.created_unix = h.created_unix;
  info.age_seconds = std::max<int64_t>(0, now_unix() - h.created_unix);
  info.expired = lifetime >= 0 && info.age_seconds > lifetime;
  info.meta = detail::decode_entry_meta(listed.head, h);
  return info;
}

}  // namespace

std::vector<CacheEntryInfo> CompileCache::ls() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<CacheEntryInfo> out;
  for (CacheStore* store : stores()) {
    std::vector<detail::ListedEntry> listed;
    if (store->list(&listed) != StoreStatus::kOk) continue;
    for (const auto& e : listed)
      out.push_back(describe(e, store->kind(), config_.lifetime_seconds));
  }
  return out;
}

CacheStats CompileCache::stat() {
  std::lock_guard<std::mutex> lock(mutex_);
  CacheStats stats;
  for (CacheStore* store : stores()) {
    StoreStats s;
    s.store = store->kind();
    s.location = store->location();
    std::vector<detail::ListedEntry> listed;
    if (store->list(&listed) != StoreStatus::kOk) {
      s.available = false;
      s.unavailable_reason = store->unavailable_reason();
      stats.stores.push_back(std::move(s));
      continue;
    }
    for (const auto& e : listed) {
      const CacheEntryInfo info = describe(e, store->kind(), config_.lifetime_seconds);
      ++s.entries;
      s.bytes += info.stored_bytes;
      if (info.expired) ++s.expired;
    }
    store->counters(&s.hits, &s.misses);
    stats.stores.push_back(std::move(s));
  }
  stats.session_hits = session_hits_;
  stats.session_misses = session_misses_;
  return stats;
}

uint64_t CompileCache::clear(bool expired_only) {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t removed = 0;
  for (CacheStore* store : stores()) {
    std::vector<detail::ListedEntry> listed;
    if (store->list(&listed) != StoreStatus::kOk) continue;
    for (const auto& e : listed) {
      const CacheEntryInfo info = describe(e, store->kind(), config_.lifetime_seconds);
      // An entry whose header is unreadable can never be served: it goes too.
      if (expired_only && !info.expired && info.problem.empty()) continue;
      if (store->remove(e.key_hex, "") == StoreStatus::kOk) ++removed;
    }
    if (!expired_only) store->clear_extras();
  }
  return removed;
}

CacheVerifyReport CompileCache::verify() {
  std::lock_guard<std::mutex> lock(mutex_);
  CacheVerifyReport report;
  for (CacheStore* store : stores()) {
    std::vector<detail::ListedEntry> listed;
    if (store->list(&listed) != StoreStatus::kOk) continue;
    for (const auto& e : listed) {
      detail::StoredEntry entry;
      std::string token;
      if (store->read(e.key_hex, &entry, &token) != StoreStatus::kOk) continue;
      ++report.checked;
      Digest k;
      parse_digest(e.key_hex, &k);
      detail::EntryHeader header;
      std::string why;
      if (detail::check_entry(entry.bytes, k, &header, &why)) continue;
      log::warn("compile cache: corrupt entry " + e.location + ": " + why + "; removed");
      store->remove(e.key_hex, token);
      report.bad.emplace_back(e.location, why);
    }
  }
  return report;
}

}  // namespace rma::compile
