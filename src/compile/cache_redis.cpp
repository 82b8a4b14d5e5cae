// The compile cache's Redis store, through hiredis when the build found it.
// The URL is parsed the same way in every build, so a malformed
// RM_CACHE_STORE_URL is an error everywhere; a build without hiredis treats
// Redis as unavailable (one warning, the local folder serves).
#include <pthread.h>
#include <sys/time.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include "cache_store.h"
#include "rma/error.h"
#include "rma/log.h"

#ifdef RMA_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

namespace rma::compile::detail {
namespace {

constexpr char kEntryPrefix[] = "rma:compile:entry:";
constexpr char kCountersKey[] = "rma:compile:counters";
constexpr int kConnectTimeoutMs = 1000;
constexpr int kCommandTimeoutMs = 10000;

[[noreturn]] void bad_url(const std::string& why) {
  throw Error(ErrorCode::kInvalidArgument,
              "RM_CACHE_STORE_URL: " + why +
                  " (expected redis://[[user]:password@]host[:port][/db], or a folder)");
}

bool parse_uint(const std::string& s, long max, long* out) {
  if (s.empty() || s.size() > 10) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  *out = std::strtol(s.c_str(), nullptr, 10);
  return *out <= max;
}

// %XX escapes, as in any URL's user-info part.
std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += char(std::strtol(s.substr(i + 1, 2).c_str(), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

RedisStore::RedisStore(const std::string& url, std::string fallback)
    : fallback_(std::move(fallback)) {
  const std::string scheme = "redis://";
  if (url.rfind(scheme, 0) != 0) bad_url("'" + url + "' does not start with redis://");
  std::string rest = url.substr(scheme.size());
  if (rest.find_first_of("?#") != std::string::npos)
    bad_url("query strings and fragments are not supported");
  const size_t at = rest.rfind('@');
  if (at != std::string::npos) {
    const std::string user_info = rest.substr(0, at);
    const size_t colon = user_info.find(':');
    if (colon == std::string::npos) bad_url("the part before '@' must be [user]:password");
    user_ = percent_decode(user_info.substr(0, colon));
    password_ = percent_decode(user_info.substr(colon + 1));
    if (password_.empty()) bad_url("empty password before '@'");
    rest = rest.substr(at + 1);
  }
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    const std::string db = rest.substr(slash + 1);
    long n = 0;
    if (!db.empty()) {
      if (!parse_uint(db, 1 << 30, &n)) bad_url("database '" + db + "' is not a number");
      db_ = int(n);
    }
    rest = rest.substr(0, slash);
  }
  std::string port;
  if (!rest.empty() && rest[0] == '[') {  // [IPv6]:port
    const size_t close = rest.find(']');
    if (close == std::string::npos) bad_url("unclosed '[' in the host");
    host_ = rest.substr(1, close - 1);
    const std::string after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') bad_url("unexpected '" + after + "' after the host");
      port = after.substr(1);
    }
  } else {
    const size_t colon = rest.rfind(':');
    host_ = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (host_.empty()) bad_url("no host");
  if (!port.empty()) {
    long n = 0;
    if (!parse_uint(port, 65535, &n) || n == 0) bad_url("port '" + port + "' is not 1 to 65535");
    port_ = int(n);
  }
}

std::string RedisStore::location() const {
  const std::string host = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
  return "redis://" + (user_.empty() ? "" : user_ + "@") + host + ":" + std::to_string(port_) +
         "/" + std::to_string(db_);
}

std::string RedisStore::location_of(const std::string& key_hex) const {
  return location() + " " + kEntryPrefix + key_hex;
}

void RedisStore::mark_unavailable(const std::string& reason) {
  if (failure_.empty()) failure_ = reason;
#ifdef RMA_HAVE_HIREDIS
  if (context_) {
    redisFree(context_);
    context_ = nullptr;
  }
#endif
  log::once(log::Level::kWarn, "compile-cache-redis-down:" + location(),
            "compile cache: Redis at " + location() + " is unavailable (" + failure_ +
                "); the local folder " + fallback_ + " serves instead");
}

bool RedisStore::available() {
  if (!tried_) {
    tried_ = true;
    connect();
  }
  return failure_.empty();
}

#ifdef RMA_HAVE_HIREDIS

namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

timeval to_timeval(int ms) { return timeval{ms / 1000, (ms % 1000) * 1000}; }

// hiredis writes with write(2): a server that went away would raise SIGPIPE
// and kill the process. Blocks SIGPIPE in this thread for one command and
// swallows one the command raised, leaving the process's handlers alone.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_, &previous_) == 0;
  }
  ~SigpipeGuard() {
    if (!blocked_) return;
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec no_wait{0, 0};
        sigtimedwait(&pipe_, nullptr, &no_wait);
      }
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_, previous_;
  bool was_pending_ = false;
  bool blocked_ = false;
};

}  // namespace

namespace {

// One command; nullptr after marking the store unavailable on any failure
// (I/O error, timeout, or an error reply such as NOAUTH).
Reply run(redisContext* ctx, const std::vector<std::string_view>& args, std::string* failure) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  SigpipeGuard no_sigpipe;
  Reply reply(static_cast<redisReply*>(
      redisCommandArgv(ctx, int(argv.size()), argv.data(), lengths.data())));
  if (!reply) {
    *failure = ctx->errstr[0] ? ctx->errstr : "connection lost";
    return nullptr;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    *failure = std::string(args[0]) + " failed: " + std::string(reply->str, reply->len);
    return nullptr;
  }
  return reply;
}

}  // namespace

bool RedisStore::connect() {
  redisContext* ctx = redisConnectWithTimeout(host_.c_str(), port_, to_timeval(kConnectTimeoutMs));
  if (!ctx || ctx->err) {
    const std::string why = ctx ? ctx->errstr : "out of memory";
    if (ctx) redisFree(ctx);
    mark_unavailable("cannot connect: " + why);
    return false;
  }
  context_ = ctx;
  redisSetTimeout(ctx, to_timeval(kCommandTimeoutMs));
  std::string failure;
  if (!password_.empty()) {
    std::vector<std::string_view> auth = {"AUTH"};
    if (!user_.empty()) auth.push_back(user_);
    auth.push_back(password_);
    if (!run(ctx, auth, &failure)) {
      mark_unavailable(failure);
      return false;
    }
  }
  if (db_ != 0) {
    const std::string db = std::to_string(db_);
    if (!run(ctx, {"SELECT", db}, &failure)) {
      mark_unavailable(failure);
      return false;
    }
  }
  log::debug("compile cache: connected to Redis at " + location());
  return true;
}

RedisStore::~RedisStore() {
  if (context_) redisFree(context_);
}

StoreStatus RedisStore::read(const std::string& key_hex, StoredEntry* entry, std::string* token) {
  if (!available()) return StoreStatus::kUnavailable;
  std::string failure;
  const std::string key = kEntryPrefix + key_hex;
  Reply r = run(context_, {"GET", key}, &failure);
  if (!r) {
    mark_unavailable(failure);
    return StoreStatus::kUnavailable;
  }
  if (r->type == REDIS_REPLY_NIL) return StoreStatus::kMissing;
  if (r->type != REDIS_REPLY_STRING) {
    mark_unavailable("GET " + key + " returned a reply of type " + std::to_string(r->type));
    return StoreStatus::kUnavailable;
  }
  // Copied into a buffer 64-byte aligned like a mapped file, so the payload
  // (at a 64-byte offset) keeps the alignment its .rmx sections assume.
  const size_t len = size_t(r->len);
  std::shared_ptr<uint8_t> buffer(
      static_cast<uint8_t*>(std::aligned_alloc(64, (std::max<size_t>(len, 1) + 63) / 64 * 64)),
      [](uint8_t* b) { std::free(b); });
  if (!buffer)
    throw Error(ErrorCode::kOutOfMemory,
                "compile cache: no memory for a " + std::to_string(len) + "-byte Redis entry");
  std::memcpy(buffer.get(), r->str, len);
  entry->bytes = std::span<const uint8_t>(buffer.get(), len);
  entry->owner = std::move(buffer);
  token->clear();
  return StoreStatus::kOk;
}

StoreStatus RedisStore::write(const std::string& key_hex, std::span<const uint8_t> entry,
                              int64_t lifetime_seconds) {
  if (!available()) return StoreStatus::kUnavailable;
  std::string failure;
  const std::string key = kEntryPrefix + key_hex;
  const std::string_view value(reinterpret_cast<const char*>(entry.data()), entry.size());
  // SET replaces the whole value at once: readers get the old or the new.
  std::vector<std::string_view> args = {"SET", key, value};
  const std::string seconds = std::to_string(lifetime_seconds);
  if (lifetime_seconds > 0) {
    args.push_back("EX");
    args.push_back(seconds);
  }
  if (!run(context_, args, &failure)) {
    mark_unavailable(failure);
    return StoreStatus::kUnavailable;
  }
  return StoreStatus::kOk;
}

StoreStatus RedisStore::remove(const std::string& key_hex, const std::string& /*token*/) {
  if (!available()) return StoreStatus::kUnavailable;
  std::string failure;
  if (!run(context_, {"DEL", kEntryPrefix + key_hex}, &failure)) {
    mark_unavailable(failure);
    return StoreStatus::kUnavailable;
  }
  return StoreStatus::kOk;
}

StoreStatus RedisStore::list(std::vector<ListedEntry>* out) {
  if (!available()) return StoreStatus::kUnavailable;
  std::string failure;
  const std::string pattern = std::string(kEntryPrefix) + "*";
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    Reply r = run(context_, {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}, &failure);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
      mark_unavailable(r ? "SCAN returned an unexpected reply" : failure);
      return StoreStatus::kUnavailable;
    }
    cursor.assign(r->element[0]->str, r->element[0]->len);
    for (size_t i = 0; i < r->element[1]->elements; ++i)
      keys.emplace_back(r->element[1]->element[i]->str, r->element[1]->element[i]->len);
  } while (cursor != "0");
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());  // SCAN may repeat keys

  const size_t prefix = sizeof(kEntryPrefix) - 1;
  for (const std::string& key : keys) {
    ListedEntry e;
    e.key_hex = key.substr(prefix);
    if (!is_key_hex(e.key_hex)) continue;
    e.location = location_of(e.key_hex);
    Reply size = run(context_, {"STRLEN", key}, &failure);
    Reply head =
        size ? run(context_, {"GETRANGE", key, "0", std::to_string(kEntryHeaderSize - 1)}, &failure)
             : nullptr;
    if (!size || !head) {
      mark_unavailable(failure);
      return StoreStatus::kUnavailable;
    }
    if (size->integer == 0) continue;  // expired or removed meanwhile
    e.stored_bytes = uint64_t(size->integer);
    e.head.assign(head->str, head->str + head->len);
    EntryHeader h;
    std::string why;
    if (decode_entry_header(e.head, &h, &why) && h.meta_size > 0) {
      Reply all =
          run(context_, {"GETRANGE", key, "0", std::to_string(kEntryHeaderSize + h.meta_size - 1)},
              &failure);
      if (!all) {
        mark_unavailable(failure);
        return StoreStatus::kUnavailable;
      }
      e.head.assign(all->str, all->str + all->len);
    }
    out->push_back(std::move(e));
  }
  return StoreStatus::kOk;
}

void RedisStore::count(bool hit) {
  if (!available()) return;
  std::string failure;
  if (!run(context_, {"HINCRBY", kCountersKey, hit ? "hits" : "misses", "1"}, &failure))
    mark_unavailable(failure);
}

void RedisStore::counters(uint64_t* hits, uint64_t* misses) {
  *hits = *misses = 0;
  if (!available()) return;
  std::string failure;
  Reply r = run(context_, {"HMGET", kCountersKey, "hits", "misses"}, &failure);
  if (!r) {
    mark_unavailable(failure);
    return;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) return;
  auto value = [](const redisReply* e) -> uint64_t {
    return e->type == REDIS_REPLY_STRING ? std::strtoull(e->str, nullptr, 10) : 0;
  };
  *hits = value(r->element[0]);
  *misses = value(r->element[1]);
}

void RedisStore::clear_extras() {
  if (!available()) return;
  std::string failure;
  if (!run(context_, {"DEL", kCountersKey}, &failure)) mark_unavailable(failure);
}

#else  // no hiredis in this build

bool RedisStore::connect() {
  mark_unavailable("this build has no Redis support: hiredis was not found when it was built");
  return false;
}

RedisStore::~RedisStore() = default;

StoreStatus RedisStore::read(const std::string&, StoredEntry*, std::string*) {
  available();
  return StoreStatus::kUnavailable;
}
StoreStatus RedisStore::write(const std::string&, std::span<const uint8_t>, int64_t) {
  available();
  return StoreStatus::kUnavailable;
}
StoreStatus RedisStore::remove(const std::string&, const std::string&) {
  return StoreStatus::kUnavailable;
}
StoreStatus RedisStore::list(std::vector<ListedEntry>*) {
  available();
  return StoreStatus::kUnavailable;
}
void RedisStore::count(bool) {}
void RedisStore::counters(uint64_t* hits, uint64_t* misses) { *hits = *misses = 0; }
void RedisStore::clear_extras() {}

#endif

}  // namespace rma::compile::detail

namespace rma::compile {

bool redis_supported() {
#ifdef RMA_HAVE_HIREDIS
  return true;
#else
  return false;
#endif
}

}  // namespace rma::compile
