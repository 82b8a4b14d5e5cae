#include "file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "rma/error.h"

namespace rma::compile::detail {
namespace {

constexpr char kTempMarker[] = ".tmp.";

std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string errno_text() { return std::strerror(errno); }

void make_dirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if ((i == path.size() || path[i] == '/') && !cur.empty() && ::mkdir(cur.c_str(), 0755) != 0 &&
        errno != EEXIST)
      throw Error(ErrorCode::kInvalidArgument,
                  "cannot create folder '" + cur + "': " + errno_text());
    if (i < path.size()) cur += path[i];
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw Error(ErrorCode::kInvalidArgument, "'" + path + "' is not a folder");
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  // pid + a process-wide counter: unique among concurrent writers of the
  // same file, whether they are threads or processes.
  static std::atomic<uint64_t> counter{0};
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path_.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  temp_path_ = dir + "." + base + kTempMarker + std::to_string(::getpid()) + "." +
               std::to_string(counter.fetch_add(1));
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw Error(ErrorCode::kInvalidArgument,
                "cannot create '" + temp_path_ + "' to write '" + path_ + "': " + errno_text());
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFile::write(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw Error(ErrorCode::kInvalidArgument,
                  "cannot write '" + temp_path_ + "' (for '" + path_ + "'): " + errno_text());
    p += n;
    size -= size_t(n);
  }
}

void AtomicFile::write_zeros(size_t size) {
  static const uint8_t kZeros[4096] = {};
  while (size > 0) {
    const size_t n = std::min(size, sizeof(kZeros));
    write(kZeros, n);
    size -= n;
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0)
    throw Error(ErrorCode::kInvalidArgument,
                "cannot flush '" + temp_path_ + "' to disk: " + errno_text());
  ::close(fd_);
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0)
    throw Error(ErrorCode::kInvalidArgument,
                "cannot rename '" + temp_path_ + "' to '" + path_ + "': " + errno_text());
  temp_path_.clear();
  // The rename itself is durable only once the folder is synced.
  const int dir_fd = ::open(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

bool is_temp_file_name(const std::string& file_name) {
  return !file_name.empty() && file_name[0] == '.' &&
         file_name.find(kTempMarker) != std::string::npos;
}

MappedFile::MappedFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInvalidArgument,
                "cannot open '" + path + "': " + errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string why = errno_text();
    ::close(fd);
    throw Error(ErrorCode::kInvalidArgument, "cannot stat '" + path + "': " + why);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::kInvalidArgument, "'" + path + "' is not a regular file");
  }
  status_ = st;
  size_ = uint64_t(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const std::string why = errno_text();
      ::close(fd);
      throw Error(ErrorCode::kInvalidArgument, "cannot map '" + path + "': " + why);
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

bool read_at(int fd, const std::string& path, uint64_t offset, void* out, size_t size) {
  auto* p = static_cast<uint8_t*>(out);
  while (size > 0) {
    const ssize_t n = ::pread(fd, p, size, off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw Error(ErrorCode::kInvalidArgument, "cannot read '" + path + "': " + errno_text());
    if (n == 0) return false;
    p += n;
    offset += uint64_t(n);
    size -= size_t(n);
  }
  return true;
}

}  // namespace rma::compile::detail
