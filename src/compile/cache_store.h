// Internals of the compile cache: the entry format and the two stores (a
// local folder, Redis) behind one interface. CompileCache (cache.cpp) holds
// the rules (lifetime, checksums, fallback); a store only moves bytes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rma/compile/cache.h"
#include "rma/compile/sha256.h"

struct redisContext;  // hiredis

namespace rma::compile::detail {

// ------------------------------------------------------------ entry format
// Header (96 bytes, little-endian), then metadata (JSON), zero padding to a
// multiple of 64, then the payload:
//   0  magic "RMACACHE"     8  format version (u32)   12  metadata size (u32)
//  16  created, unix s (u64)  24  payload size (u64)
//  32  key (32 bytes)      64  XXH3-128 over bytes 0-63 and everything after
//                              the header (16 bytes, then 16 zero bytes)
// The padding keeps a mapped entry's payload (an .rmx whose weights are used
// in place) 64-byte aligned.
constexpr size_t kEntryHeaderSize = 96;
constexpr size_t kPayloadAlignment = 64;
// 3: payload padded to 64 bytes; 2: XXH3-128 checksum; 1: SHA-256. Entries
// of another version are reported and recompiled like damaged ones.
constexpr uint32_t kEntryFormatVersion = 3;
constexpr uint32_t kMaxEntryMetaBytes = 1u << 20;

struct EntryHeader {
  uint32_t meta_size = 0;
  int64_t created_unix = 0;
  uint64_t payload_size = 0;
  Digest key{};
  Digest checksum{};
  uint64_t payload_offset() const {
    return (kEntryHeaderSize + meta_size + kPayloadAlignment - 1) / kPayloadAlignment *
           kPayloadAlignment;
  }
  uint64_t total_size() const { return payload_offset() + payload_size; }
};

// An entry's bytes as a store hands them over: a mapped file (the local
// folder) or a buffer (Redis); `owner` keeps them alive.
struct StoredEntry {
  std::shared_ptr<const void> owner;
  std::span<const uint8_t> bytes;
};

std::vector<uint8_t> encode_entry(const Digest& key, int64_t created_unix,
                                  const std::map<std::string, std::string>& meta,
                                  std::span<const uint8_t> payload);
// The header at the start of `bytes`; false with `why` when it is not one.
bool decode_entry_header(std::span<const uint8_t> bytes, EntryHeader* out, std::string* why);
// The metadata that follows the header (empty when unreadable).
std::map<std::string, std::string> decode_entry_meta(std::span<const uint8_t> bytes,
                                                     const EntryHeader& header);
// A whole entry: its header, that it is `key`'s, its size and its SHA-256.
bool check_entry(std::span<const uint8_t> entry, const Digest& key, EntryHeader* out,
                 std::string* why);

// True for 64 lowercase hex digits (what keys look like in names).
bool is_key_hex(const std::string& s);

// ------------------------------------------------------------ stores
enum class StoreStatus { kOk, kMissing, kUnavailable };

// One stored entry, listed with its header and metadata but not its payload.
struct ListedEntry {
  std::string key_hex;
  std::string location;
  uint64_t stored_bytes = 0;
  std::vector<uint8_t> head;  // up to header + metadata bytes, as stored
};

class CacheStore {
 public:
  virtual ~CacheStore() = default;
  virtual const char* kind() const = 0;  // "local", "redis"
  virtual std::string location() const = 0;
  virtual std::string location_of(const std::string& key_hex) const = 0;
  // Redis: connects on first use; false once it has failed.
  virtual bool available() { return true; }
  virtual std::string unavailable_reason() const { return {}; }

  // `token` names the version read, so remove() takes out only that one
  // (not a good entry another process wrote meanwhile).
  virtual StoreStatus read(const std::string& key_hex, StoredEntry* entry, std::string* token) = 0;
  virtual StoreStatus write(const std::string& key_hex, std::span<const uint8_t> entry,
                            int64_t lifetime_seconds) = 0;
  virtual StoreStatus remove(const std::string& key_hex, const std::string& token) = 0;
  virtual StoreStatus list(std::vector<ListedEntry>* out) = 0;

  // Persistent hit/miss counters; best effort (a read-only folder keeps none).
  virtual void count(bool hit) = 0;
  virtual void counters(uint64_t* hits, uint64_t* misses) = 0;
  // After a full clear: the counters and anything else left behind.
  virtual void clear_extras() = 0;
};

// One file per entry, <dir>/<key>.rmc. Throws Error for I/O failures.
class LocalStore final : public CacheStore {
 public:
  explicit LocalStore(std::string dir) : dir_(std::move(dir)) {}
  const char* kind() const override { return "local"; }
  std::string location() const override { return dir_; }
  std::string location_of(const std::string& key_hex) const override;
  StoreStatus read(const std::string& key_hex, StoredEntry* entry, std::string* token) override;
  StoreStatus write(const std::string& key_hex, std::span<const uint8_t> entry,
                    int64_t lifetime_seconds) override;
  StoreStatus remove(const std::string& key_hex, const std::string& token) override;
  StoreStatus list(std::vector<ListedEntry>* out) override;
  void count(bool hit) override;
  void counters(uint64_t* hits, uint64_t* misses) override;
  void clear_extras() override;

 private:
  std::string dir_;
};

// Entries under "rma:compile:entry:<key>", counters in "rma:compile:counters".
// Any connection or command failure marks the store unavailable for good
// (with one warning), and every call then returns kUnavailable.
class RedisStore final : public CacheStore {
 public:
  // Throws Error for a malformed URL; connects on first use. `fallback`
  // names the store that serves when Redis cannot (for the warning).
  RedisStore(const std::string& url, std::string fallback);
  ~RedisStore() override;
  const char* kind() const override { return "redis"; }
  std::string location() const override;  // the URL without its password
  std::string location_of(const std::string& key_hex) const override;
  bool available() override;
  std::string unavailable_reason() const override { return failure_; }
  StoreStatus read(const std::string& key_hex, StoredEntry* entry, std::string* token) override;
  StoreStatus write(const std::string& key_hex, std::span<const uint8_t> entry,
                    int64_t lifetime_seconds) override;
  StoreStatus remove(const std::string& key_hex, const std::string& token) override;
  StoreStatus list(std::vector<ListedEntry>* out) override;
  void count(bool hit) override;
  void counters(uint64_t* hits, uint64_t* misses) override;
  void clear_extras() override;

 private:
  bool connect();
  void mark_unavailable(const std::string& reason);

  std::string user_, password_, host_;
  int port_ = 6379;
  int db_ = 0;
  redisContext* context_ = nullptr;
  std::string fallback_;
  bool tried_ = false;
  std::string failure_;  // non-empty once unavailable
};

}  // namespace rma::compile::detail
