// The compile cache's local folder: <dir>/<key>.rmc per entry, written
// atomically (AtomicFile), and <dir>/counters for the hit/miss counts.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "cache_store.h"
#include "file_util.h"
#include "rma/error.h"

namespace rma::compile::detail {
namespace {

constexpr char kEntrySuffix[] = ".rmc";
constexpr char kCountersFile[] = "counters";
// A temp file this old belongs to a writer that died (kill -9, power loss):
// live writers finish in far less.
constexpr int64_t kStaleTempSeconds = 600;

// What identifies one version of a file: a rename over it changes the inode.
std::string file_token(const struct stat& st) {
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

// The file's bytes up to its end (at most `limit`).
std::vector<uint8_t> read_prefix(int fd, const std::string& path, uint64_t limit) {
  // Large entries: mapped and copied once (no zero-filling of the buffer
  // first, which cost as much as the read).
  constexpr uint64_t kMapAbove = uint64_t{1} << 20;
  if (limit > kMapAbove) {
    void* m = ::mmap(nullptr, limit, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (m != MAP_FAILED) {
      const auto* b = static_cast<const uint8_t*>(m);
      std::vector<uint8_t> out(b, b + limit);
      ::munmap(m, limit);
      return out;
    }
  }
  std::vector<uint8_t> out(limit);
  uint64_t got = 0;
  while (got < limit) {
    const ssize_t n = ::pread(fd, out.data() + got, limit - got, off_t(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw Error(ErrorCode::kInvalidArgument, "cannot read '" + path + "': " + errno_text());
    if (n == 0) break;
    got += uint64_t(n);
  }
  out.resize(got);
  return out;
}

struct Counts {
  uint64_t hits = 0, misses = 0;
};

Counts parse_counts(const std::string& text) {
  Counts c;
  unsigned long long hits = 0, misses = 0;
  if (std::sscanf(text.c_str(), "hits %llu misses %llu", &hits, &misses) == 2) {
    c.hits = hits;
    c.misses = misses;
  }
  return c;
}

std::string read_fd_text(int fd) {
  std::string text;
  char buf[256];
  off_t at = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof(buf), at);
    if (n <= 0) break;
    text.append(buf, size_t(n));
    at += n;
  }
  return text;
}

}  // namespace

std::string LocalStore::location_of(const std::string& key_hex) const {
  return dir_ + "/" + key_hex + kEntrySuffix;
}

StoreStatus LocalStore::read(const std::string& key_hex, StoredEntry* entry, std::string* token) {
  const std::string path = location_of(key_hex);
  // Mapped, not copied: a hit's .rmx is used in place (its weights too). A
  // writer replaces the file by rename, so this mapping stays what it was.
  std::shared_ptr<MappedFile> mapped;
  try {
    mapped = std::make_shared<MappedFile>(path);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) return StoreStatus::kMissing;
    throw;
  }
  *token = file_token(mapped->status());
  entry->bytes = std::span<const uint8_t>(mapped->data(), mapped->size());
  entry->owner = std::move(mapped);
  return StoreStatus::kOk;
}

StoreStatus LocalStore::write(const std::string& key_hex, std::span<const uint8_t> entry,
                              int64_t /*lifetime_seconds: expiry is judged on read*/) {
  make_dirs(dir_);
  AtomicFile file(location_of(key_hex));
  file.write(entry.data(), entry.size());
  file.commit();
  return StoreStatus::kOk;
}

StoreStatus LocalStore::remove(const std::string& key_hex, const std::string& token) {
  const std::string path = location_of(key_hex);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return StoreStatus::kMissing;
  // Another process may have replaced the file since it was read; leave its
  // (good) entry alone.
  if (!token.empty() && file_token(st) != token) return StoreStatus::kOk;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw Error(ErrorCode::kInvalidArgument, "cannot remove '" + path + "': " + errno_text());
  return StoreStatus::kOk;
}

StoreStatus LocalStore::list(std::vector<ListedEntry>* out) {
  DIR* dir = ::opendir(dir_.c_str());
  if (!dir) {
    if (errno == ENOENT) return StoreStatus::kOk;  // nothing cached yet
    throw Error(ErrorCode::kInvalidArgument, "cannot list '" + dir_ + "': " + errno_text());
  }
  std::vector<std::string> keys;
  while (const dirent* d = ::readdir(dir)) {
    const std::string name = d->d_name;
    const size_t suffix = sizeof(kEntrySuffix) - 1;
    if (name.size() <= suffix || name.compare(name.size() - suffix, suffix, kEntrySuffix) != 0)
      continue;
    const std::string key = name.substr(0, name.size() - suffix);
    if (is_key_hex(key)) keys.push_back(key);
  }
  ::closedir(dir);
  std::sort(keys.begin(), keys.end());

  for (const std::string& key : keys) {
    ListedEntry e;
    e.key_hex = key;
    e.location = location_of(key);
    const int fd = ::open(e.location.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // removed meanwhile
    struct stat st {};
    if (::fstat(fd, &st) == 0) {
      e.stored_bytes = uint64_t(st.st_size);
      e.head = read_prefix(fd, e.location, kEntryHeaderSize);
      EntryHeader h;
      std::string why;
      if (decode_entry_header(e.head, &h, &why)) {
        std::vector<uint8_t> rest = read_prefix(fd, e.location, kEntryHeaderSize + h.meta_size);
        e.head = std::move(rest);
      }
    }
    ::close(fd);
    out->push_back(std::move(e));
  }
  return StoreStatus::kOk;
}

void LocalStore::count(bool hit) {
  // Best effort: a folder this process cannot write keeps no counts.
  try {
    make_dirs(dir_);
  } catch (const Error&) {
    return;
  }
  const std::string path = dir_ + "/" + kCountersFile;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (::flock(fd, LOCK_EX) == 0) {
    Counts c = parse_counts(read_fd_text(fd));
    (hit ? c.hits : c.misses) += 1;
    const std::string text =
        "hits " + std::to_string(c.hits) + "\nmisses " + std::to_string(c.misses) + "\n";
    if (::pwrite(fd, text.data(), text.size(), 0) == ssize_t(text.size()))
      (void)::ftruncate(fd, off_t(text.size()));
  }
  ::close(fd);  // releases the lock
}

void LocalStore::counters(uint64_t* hits, uint64_t* misses) {
  *hits = *misses = 0;
  const int fd = ::open((dir_ + "/" + kCountersFile).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (::flock(fd, LOCK_SH) == 0) {
    const Counts c = parse_counts(read_fd_text(fd));
    *hits = c.hits;
    *misses = c.misses;
  }
  ::close(fd);
}

void LocalStore::clear_extras() {
  ::unlink((dir_ + "/" + kCountersFile).c_str());
  // The model digests CompileCache::file_digest remembers.
  std::error_code ec;
  std::filesystem::remove_all(dir_ + "/digests", ec);
  DIR* dir = ::opendir(dir_.c_str());
  if (!dir) return;
  const int64_t now = std::time(nullptr);
  std::vector<std::string> stale;
  while (const dirent* d = ::readdir(dir)) {
    const std::string name = d->d_name;
    if (!is_temp_file_name(name)) continue;
    struct stat st {};
    const std::string path = dir_ + "/" + name;
    if (::stat(path.c_str(), &st) == 0 && now - int64_t(st.st_mtim.tv_sec) > kStaleTempSeconds)
      stale.push_back(path);
  }
  ::closedir(dir);
  for (const std::string& path : stale) ::unlink(path.c_str());
}

}  // namespace rma::compile::detail
