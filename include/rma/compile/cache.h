// rma/compile/cache.h — the compile cache: compiled artifacts by key, in a
// local folder or in Redis, with the same rules for the CLI, C++ and Python.
//
// Configuration (CacheConfig::from_environment):
//   RM_CACHE_ENABLED    1 (default) or 0: 0 turns get/put off
//   RM_CACHE_DIR        cache root (default ~/.cache/rm_abstract); entries
//                       live in <root>/compiler
//   RM_CACHE_STORE_URL  redis://[[user]:password@]host[:port][/db] for a Redis
//                       store, or a folder that holds the entries itself
//   RM_CACHE_LIFETIME   seconds, default 259200 (72 h). N > 0: entries older
//                       than N are misses (and replaced by the next put);
//                       0: every get misses, put replaces; N < 0: entries
//                       never expire and the cache is read-only (put refused)
//
// An entry is a small header (magic, format version, key, sizes, creation
// time, SHA-256 over header fields, metadata and payload) + metadata (JSON)
// + payload. The local folder holds one file per entry, written atomically
// (temp file, fsync, rename), so concurrent processes see whole entries
// only. Every read checks the SHA-256: a corrupt entry is reported (a warning
// naming it), removed and treated as a miss, never served. With Redis,
// entries go to and come from Redis only while it works; an unreachable or
// failing server gives one warning and the local folder serves for the rest
// of the CompileCache's life.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rma/compile/artifact.h"
#include "rma/config.h"

namespace rma::compile {

namespace detail {
class CacheStore;
class LocalStore;
class RedisStore;
}  // namespace detail

constexpr int64_t kDefaultCacheLifetimeSeconds = 259200;

struct CacheConfig {
  bool enabled = true;
  std::string local_dir;  // the folder store (always present: Redis falls back to it)
  std::string redis_url;  // empty: no Redis store
  int64_t lifetime_seconds = kDefaultCacheLifetimeSeconds;

  // From the RM_CACHE_* variables; the cache root from `config` (environment
  // applied). Throws Error naming the variable for a malformed value.
  static CacheConfig from_environment(const Config& config);
  static CacheConfig from_environment();  // Config{}.with_environment()

  bool read_only() const { return lifetime_seconds < 0; }
};

// Whether this build can talk to Redis (hiredis was found when it was built).
bool redis_supported();

struct CacheEntryInfo {
  std::string store;          // "local" or "redis"
  std::string location;       // the file, or the Redis key
  std::string key;            // 64 hex digits
  uint64_t size = 0;          // payload bytes
  uint64_t stored_bytes = 0;  // header + metadata + payload
  int64_t created_unix = 0;
  int64_t age_seconds = 0;
  bool expired = false;  // under the configured lifetime
  std::map<std::string, std::string> meta;
  std::string problem;  // why the entry header is unreadable; empty when fine
};

struct StoreStats {
  std::string store;     // "local" or "redis"
  std::string location;  // the folder, or the URL without its password
  bool available = true;
  std::string unavailable_reason;
  uint64_t entries = 0;
  uint64_t bytes = 0;  // stored bytes
  uint64_t expired = 0;
  uint64_t hits = 0;  // persistent counters, since the last clear()
  uint64_t misses = 0;
};

struct CacheStats {
  std::vector<StoreStats> stores;  // local first, then Redis when configured
  uint64_t session_hits = 0;       // this CompileCache's own get() results
  uint64_t session_misses = 0;
};

struct CacheVerifyReport {
  uint64_t checked = 0;
  // Location and reason of each corrupt entry found (and removed).
  std::vector<std::pair<std::string, std::string>> bad;
};

// A hit's payload where the store keeps it: in the mapped entry file (the
// local folder) or a buffer (Redis); `owner` keeps the bytes alive.
struct CacheView {
  std::shared_ptr<const void> owner;
  std::span<const uint8_t> payload;
};

class CompileCache {
 public:
  explicit CompileCache(CacheConfig config);
  CompileCache();  // CacheConfig::from_environment()
  ~CompileCache();
  CompileCache(const CompileCache&) = delete;
  CompileCache& operator=(const CompileCache&) = delete;

  // SHA-256 (64 hex digits) of a canonical, length-prefixed serialization of
  // everything a compiled artifact depends on: the model's bytes (by their
  // SHA-256), the target, the options and the compiler version. Nothing
  // volatile (times, paths, process ids) goes in.
  static std::string key(const std::string& model_sha256, const Fingerprint& target,
                         const std::map<std::string, std::string>& options,
                         const std::string& compiler_version);

  // SHA-256 (hex) of the file at `path`, remembered in the local folder
  // ("digests/") by the file's identity — device, inode, size, modification
  // and status-change times to the nanosecond — so an unchanged model is not
  // hashed again on each open (a BERT's .onnx is ~90 MB). Any change to
  // those hashes it again. With the cache off or read-only it just hashes.
  // Throws Error naming the file when it cannot be read.
  std::string file_digest(const std::string& path);

  // The payload stored under `key`, or nullopt on a miss (absent, expired,
  // corrupt, lifetime 0, cache disabled). Throws Error only for a malformed
  // key; store failures are logged and count as misses.
  std::optional<std::vector<uint8_t>> get(const std::string& key);
  // The same without copying the payload: a local hit is the mapped entry
  // file (its checksum verified over the mapping), so an .rmx payload loads
  // with CompiledModel::from_view in place.
  std::optional<CacheView> get_view(const std::string& key);
  // Stores `payload` (replacing what is there). False when nothing was
  // stored: cache disabled, read-only (lifetime < 0), or a store failure
  // (logged as a warning).
  bool put(const std::string& key, std::span<const uint8_t> payload,
           const std::map<std::string, std::string>& meta = {});
  // get(key), or else compile(), put() and return it; logs the hit or the
  // miss and the compile time. Errors from compile() propagate.
  std::vector<uint8_t> get_or_compile(const std::string& key,
                                      const std::function<std::vector<uint8_t>()>& compile,
                                      const std::map<std::string, std::string>& meta = {});

  // Maintenance, for `rma cache`: these work on the stores whether or not
  // the cache is enabled.
  std::vector<CacheEntryInfo> ls();
  CacheStats stat();
  // Removes every entry (or only the expired ones) and, for a full clear,
  // the hit/miss counters and stale temp files. Returns entries removed.
  uint64_t clear(bool expired_only = false);
  // Reads every entry in full and checks it; corrupt ones are removed.
  CacheVerifyReport verify();

  const CacheConfig& config() const { return config_; }

 private:
  struct Found;
  std::optional<Found> find(const std::string& key);
  std::vector<detail::CacheStore*> stores();  // local, then Redis when configured
  detail::CacheStore& serving_store();        // Redis while it works, else local

  CacheConfig config_;
  std::unique_ptr<detail::LocalStore> local_;
  std::unique_ptr<detail::RedisStore> redis_;
  std::mutex mutex_;  // one Redis connection; serializes store access
  std::atomic<uint64_t> session_hits_{0};
  std::atomic<uint64_t> session_misses_{0};
};

}  // namespace rma::compile
