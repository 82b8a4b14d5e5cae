// File helpers shared by the .rmx writer/reader and the compile cache:
// atomic replacement of a file, read-only mappings, little-endian fields.
// Every failure is an rma::Error naming the file and the system's reason.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace rma::compile::detail {

// Creates `path` and its parents (like mkdir -p).
void make_dirs(const std::string& path);

// Writes a file so that readers see either the old file or the complete new
// one, never a part: a temp file in the same folder, fsync, rename over
// `path`, fsync of the folder. Destroyed without commit(), it removes the
// temp file (a crash leaves only a ".tmp." file, which nothing reads).
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void write_zeros(size_t size);
  void commit();

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
};

// True for names AtomicFile uses for its temp files.
bool is_temp_file_name(const std::string& file_name);

// A whole file mapped read-only (an empty file maps to nothing).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  // What fstat said of the file mapped (which version of a replaced file).
  const struct stat& status() const { return status_; }

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  struct stat status_ {};
};

// Reads exactly `size` bytes at `offset`; false when the file is shorter.
// Throws on I/O errors.
bool read_at(int fd, const std::string& path, uint64_t offset, void* out, size_t size);

std::string errno_text();  // strerror(errno)

// Little-endian fields at a byte position, independent of host byte order.
inline void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline uint32_t get_u32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(p[i]) << (8 * i);
  return v;
}
inline uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

}  // namespace rma::compile::detail
