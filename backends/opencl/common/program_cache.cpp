// Runtime kernel compilation with an on-disk program binary cache under
// <cache_dir>/opencl/. Compiling OpenCL C costs far more than loading a
// binary (PoCL runs LLVM), so warm starts load binaries instead.
//
// Entry file: <key as 16 hex digits>.bin =
//   header { magic "RMAOCLB\0", format version, key, payload size,
//            payload checksum } + the device's program binary.
// The key hashes everything the binary depends on: kernel source, build
// options, device name and driver version. A corrupt or mismatching entry is
// logged and rebuilt, never used. Writes go to a temp file that is fsynced
// and renamed, so readers never see half an entry.
//
// Every binary built or loaded is also kept in memory (ClDevice::binaries),
// where kernels_export reads it and kernels_import adds to it: a compiled
// model carries its kernels so a machine with an empty cache compiles none.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "common/cl_device.h"

namespace rma::opencl {
namespace {

constexpr char kMagic[8] = {'R', 'M', 'A', 'O', 'C', 'L', 'B', '\0'};
constexpr uint32_t kFormatVersion = 1;

struct EntryHeader {
  char magic[8];
  uint32_t format_version;
  uint32_t reserved;
  uint64_t key;
  uint64_t payload_size;
  uint64_t payload_checksum;
};

// FNV-1a 64: small, stable across runs and platforms; collisions are
// harmless beyond a rebuild because the header repeats the full key.
uint64_t fnv1a(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}
uint64_t fnv1a(const std::string& s, uint64_t h) {
  h = fnv1a(s.data(), s.size(), h);
  return fnv1a("\x1f", 1, h);  // separator: ("ab","c") != ("a","bc")
}

std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

bool make_dirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return false;
    }
    if (i < path.size()) cur += path[i];
  }
  return true;
}

// Reads and validates an entry; returns the payload or explains why not.
bool read_entry(const std::string& path, uint64_t key, std::vector<unsigned char>* payload,
                std::string* why) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;  // a plain miss: nothing logged
  EntryHeader h{};
  if (!f.read(reinterpret_cast<char*>(&h), sizeof(h))) {
    *why = "truncated header";
    return false;
  }
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) {
    *why = "bad magic";
    return false;
  }
  if (h.format_version != kFormatVersion) {
    *why = "format version " + std::to_string(h.format_version) + ", expected " +
           std::to_string(kFormatVersion);
    return false;
  }
  if (h.key != key) {
    *why = "key " + hex(h.key) + " does not match " + hex(key);
    return false;
  }
  if (h.payload_size == 0 || h.payload_size > (1ull << 30)) {
    *why = "implausible payload size " + std::to_string(h.payload_size);
    return false;
  }
  payload->resize(h.payload_size);
  if (!f.read(reinterpret_cast<char*>(payload->data()), std::streamsize(h.payload_size))) {
    *why = "truncated payload";
    return false;
  }
  if (fnv1a(payload->data(), payload->size()) != h.payload_checksum) {
    *why = "payload checksum mismatch";
    return false;
  }
  return true;
}

bool write_all(int fd, const void* data, size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= size_t(w);
  }
  return true;
}

void write_entry(const std::string& dir, const std::string& path, uint64_t key,
                 const std::vector<unsigned char>& payload) {
  if (!make_dirs(dir)) {
    log(RMA_LOG_WARN, "opencl cache: cannot create " + dir + ": " + std::strerror(errno));
    return;
  }
  EntryHeader h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.format_version = kFormatVersion;
  h.key = key;
  h.payload_size = payload.size();
  h.payload_checksum = fnv1a(payload.data(), payload.size());
  // Unique temp name per process and thread-agnostic call: pid + address.
  const std::string tmp = path + ".tmp." + std::to_string(getpid()) + "." +
                          hex(reinterpret_cast<uintptr_t>(&payload));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    log(RMA_LOG_WARN, "opencl cache: cannot write " + tmp + ": " + std::strerror(errno));
    return;
  }
  const bool ok = write_all(fd, &h, sizeof(h)) && write_all(fd, payload.data(), payload.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    log(RMA_LOG_WARN, "opencl cache: cannot store " + path + ": " + std::strerror(errno));
    ::unlink(tmp.c_str());
  }
}

std::string build_log(const ClDevice& dev, cl_program p) {
  size_t n = 0;
  if (clGetProgramBuildInfo(p, dev.id, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n) != CL_SUCCESS)
    return "(no build log)";
  std::string s(n, '\0');
  clGetProgramBuildInfo(p, dev.id, CL_PROGRAM_BUILD_LOG, n, s.data(), nullptr);
  while (!s.empty() && (s.back() == '\0' || s.back() == '\n')) s.pop_back();
  return s.empty() ? "(empty build log)" : s;
}

bool program_binary(const ClDevice& dev, cl_program p, std::vector<unsigned char>* out) {
  size_t size = 0;
  if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof(size), &size, nullptr) != CL_SUCCESS ||
      size == 0)
    return false;
  out->resize(size);
  unsigned char* ptr = out->data();
  return clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof(ptr), &ptr, nullptr) == CL_SUCCESS;
}

// A built program from `binary`, or nullptr-and-false when the driver
// rejects it.
bool program_from_binary(ClDevice& dev, const std::vector<unsigned char>& binary,
                         const std::string& options, cl_program* out) {
  const unsigned char* bin = binary.data();
  const size_t size = binary.size();
  cl_int bin_status = CL_SUCCESS, st = CL_SUCCESS;
  cl_program p = clCreateProgramWithBinary(dev.context, 1, &dev.id, &size, &bin, &bin_status, &st);
  if (st == CL_SUCCESS && bin_status == CL_SUCCESS &&
      clBuildProgram(p, 1, &dev.id, options.c_str(), nullptr, nullptr) == CL_SUCCESS) {
    *out = p;
    return true;
  }
  if (p) clReleaseProgram(p);
  return false;
}

}  // namespace

rma_status build_program(ClDevice& dev, const std::string& source_name, const std::string& source,
                         const std::string& options, cl_program* out, rma_error* err) {
  uint64_t key = fnv1a(source, 0xcbf29ce484222325ull);
  key = fnv1a(options, key);
  key = fnv1a(dev.name, key);
  key = fnv1a(dev.driver_version, key);

  // Binaries this process already holds: imported from a compiled model, or
  // built or loaded before (a second context of one program).
  if (auto known = dev.binaries.find(key); known != dev.binaries.end()) {
    if (program_from_binary(dev, known->second, options, out)) {
      log(RMA_LOG_DEBUG, "opencl cache hit: " + source_name + " on " + dev.name + " (in memory)");
      return RMA_STATUS_OK;
    }
    log(RMA_LOG_WARN, "opencl cache: the driver rejected the in-memory binary of " + source_name +
                          "; rebuilding");
    dev.binaries.erase(known);
  }

  const std::string root = cache_root();
  const std::string dir = root.empty() ? "" : root + "/opencl";
  const std::string path = dir.empty() ? "" : dir + "/" + hex(key) + ".bin";

  if (!path.empty()) {
    std::vector<unsigned char> payload;
    std::string why;
    if (read_entry(path, key, &payload, &why)) {
      if (program_from_binary(dev, payload, options, out)) {
        log(RMA_LOG_DEBUG,
            "opencl cache hit: " + source_name + " on " + dev.name + " (" + path + ")");
        dev.binaries[key] = std::move(payload);
        return RMA_STATUS_OK;
      }
      why = "the driver rejected the cached binary";
    }
    if (!why.empty())
      log(RMA_LOG_WARN, "opencl cache: ignoring entry " + path + " (" + why + "); rebuilding");
    log(RMA_LOG_DEBUG, "opencl cache miss: " + source_name + " on " + dev.name + "; compiling");
  }

  const char* src = source.c_str();
  const size_t len = source.size();
  cl_int st = CL_SUCCESS;
  cl_program p = clCreateProgramWithSource(dev.context, 1, &src, &len, &st);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl: clCreateProgramWithSource(%s) on %s: %s",
                source_name.c_str(), dev.name.c_str(), cl_error_name(st));
  st = clBuildProgram(p, 1, &dev.id, options.c_str(), nullptr, nullptr);
  if (st != CL_SUCCESS) {
    const std::string blog = build_log(dev, p);
    clReleaseProgram(p);
    return fail(err, RMA_STATUS_DEVICE_ERROR,
                "opencl: kernel program '%s' failed to build on %s (%s), options '%s':\n%s",
                source_name.c_str(), dev.name.c_str(), cl_error_name(st), options.c_str(),
                blog.c_str());
  }
  std::vector<unsigned char> binary;
  if (program_binary(dev, p, &binary)) {
    if (!path.empty()) write_entry(dir, path, key, binary);
    dev.binaries[key] = std::move(binary);
  } else {
    log(RMA_LOG_DEBUG, "opencl cache: " + dev.name + " gives no program binary; not cached");
  }
  *out = p;
  return RMA_STATUS_OK;
}

// ------------------------------------------------------- kernels_export/import
// Blob: header { magic "RMAOCLK\0", format version (u32), entry count (u32),
// device name length (u32), driver version length (u32) }, the device name,
// the driver version, then per entry the on-disk entry layout (EntryHeader +
// program binary). The device name and driver version decide whether the
// blob applies; each entry's key hashes them too.
namespace {

constexpr char kBlobMagic[8] = {'R', 'M', 'A', 'O', 'C', 'L', 'K', '\0'};
constexpr uint32_t kBlobFormatVersion = 1;

struct BlobHeader {
  char magic[8];
  uint32_t format_version;
  uint32_t entry_count;
  uint32_t device_name_size;
  uint32_t driver_version_size;
};

template <typename T>
void append(std::vector<unsigned char>& out, const T& value) {
  const auto* p = reinterpret_cast<const unsigned char*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

}  // namespace

rma_status export_binaries(ClDevice& dev, rma_blob* out, rma_error* err) {
  if (!out || out->struct_size < sizeof(rma_blob))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "opencl: kernels_export: bad rma_blob");
  std::vector<unsigned char> bytes;
  {
    std::lock_guard<std::mutex> lock(dev.mu);
    BlobHeader h{};
    std::memcpy(h.magic, kBlobMagic, sizeof(kBlobMagic));
    h.format_version = kBlobFormatVersion;
    h.entry_count = uint32_t(dev.binaries.size());
    h.device_name_size = uint32_t(dev.name.size());
    h.driver_version_size = uint32_t(dev.driver_version.size());
    append(bytes, h);
    bytes.insert(bytes.end(), dev.name.begin(), dev.name.end());
    bytes.insert(bytes.end(), dev.driver_version.begin(), dev.driver_version.end());
    for (const auto& [key, binary] : dev.binaries) {
      EntryHeader e{};
      std::memcpy(e.magic, kMagic, sizeof(kMagic));
      e.format_version = kFormatVersion;
      e.key = key;
      e.payload_size = binary.size();
      e.payload_checksum = fnv1a(binary.data(), binary.size());
      append(bytes, e);
      bytes.insert(bytes.end(), binary.begin(), binary.end());
    }
  }
  auto* data = static_cast<unsigned char*>(std::malloc(bytes.size()));
  if (!data)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, "opencl: kernels_export: %zu bytes", bytes.size());
  std::memcpy(data, bytes.data(), bytes.size());
  out->data = data;
  out->size = bytes.size();
  return RMA_STATUS_OK;
}

rma_status import_binaries(ClDevice& dev, const void* data, uint64_t size, rma_error* err) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  uint64_t at = 0;
  // Copies `n` bytes at `at` into `dst`, or says the blob ends first.
  const auto take = [&](void* dst, uint64_t n) {
    if (size - at < n) return false;
    std::memcpy(dst, bytes + at, n);
    at += n;
    return true;
  };
  const auto corrupt = [&](const char* what, uint64_t offset) {
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "opencl: kernel binaries blob (%llu bytes), byte %llu: %s",
                (unsigned long long)size, (unsigned long long)offset, what);
  };
  if (!bytes && size) return corrupt("no data", 0);

  BlobHeader h{};
  if (!take(&h, sizeof(h))) return corrupt("truncated header", at);
  if (std::memcmp(h.magic, kBlobMagic, sizeof(kBlobMagic)) != 0)
    return corrupt("bad magic (\"RMAOCLK\" expected)", 0);
  if (h.format_version != kBlobFormatVersion)
    return corrupt(("format version " + std::to_string(h.format_version) + ", expected " +
                    std::to_string(kBlobFormatVersion))
                       .c_str(),
                   offsetof(BlobHeader, format_version));
  std::string name(h.device_name_size, '\0'), driver(h.driver_version_size, '\0');
  if (!take(name.data(), name.size()) || !take(driver.data(), driver.size()))
    return corrupt("truncated device name or driver version", at);

  // Parse everything before storing anything: a corrupt blob changes nothing.
  std::vector<std::pair<uint64_t, std::vector<unsigned char>>> entries;
  for (uint32_t i = 0; i < h.entry_count; ++i) {
    const uint64_t entry_at = at;
    EntryHeader e{};
    if (!take(&e, sizeof(e))) return corrupt("truncated entry header", entry_at);
    if (std::memcmp(e.magic, kMagic, sizeof(kMagic)) != 0 || e.format_version != kFormatVersion)
      return corrupt("bad entry magic or format version", entry_at);
    if (e.payload_size == 0 || e.payload_size > size - at)
      return corrupt(("entry payload size " + std::to_string(e.payload_size) + ", " +
                      std::to_string(size - at) + " bytes left")
                         .c_str(),
                     entry_at + offsetof(EntryHeader, payload_size));
    std::vector<unsigned char> binary(bytes + at, bytes + at + e.payload_size);
    at += e.payload_size;
    if (fnv1a(binary.data(), binary.size()) != e.payload_checksum)
      return corrupt("entry payload checksum mismatch", entry_at);
    entries.emplace_back(e.key, std::move(binary));
  }
  if (at != size)
    return corrupt((std::to_string(size - at) + " unexpected bytes after the last entry").c_str(),
                   at);

  if (name != dev.name || driver != dev.driver_version) {
    log(RMA_LOG_DEBUG, "opencl: skipping kernel binaries for '" + name + "' (driver " + driver +
                           "); this is '" + dev.name + "' (driver " + dev.driver_version + ")");
    return RMA_STATUS_OK;
  }
  std::lock_guard<std::mutex> lock(dev.mu);
  for (auto& [key, binary] : entries) dev.binaries.emplace(key, std::move(binary));
  log(RMA_LOG_DEBUG,
      "opencl: imported " + std::to_string(entries.size()) + " kernel binaries for " + dev.name);
  return RMA_STATUS_OK;
}

void free_blob(rma_blob* blob) {
  if (!blob) return;
  std::free(blob->data);
  blob->data = nullptr;
  blob->size = 0;
}

}  // namespace rma::opencl
