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
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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

}  // namespace

rma_status build_program(ClDevice& dev, const std::string& source_name, const std::string& source,
                         const std::string& options, cl_program* out, rma_error* err) {
  uint64_t key = fnv1a(source, 0xcbf29ce484222325ull);
  key = fnv1a(options, key);
  key = fnv1a(dev.name, key);
  key = fnv1a(dev.driver_version, key);
  const std::string root = cache_root();
  const std::string dir = root.empty() ? "" : root + "/opencl";
  const std::string path = dir.empty() ? "" : dir + "/" + hex(key) + ".bin";

  if (!path.empty()) {
    std::vector<unsigned char> payload;
    std::string why;
    if (read_entry(path, key, &payload, &why)) {
      const unsigned char* bin = payload.data();
      const size_t size = payload.size();
      cl_int bin_status = CL_SUCCESS, st = CL_SUCCESS;
      cl_program p = clCreateProgramWithBinary(dev.context, 1, &dev.id, &size, &bin, &bin_status, &st);
      if (st == CL_SUCCESS && bin_status == CL_SUCCESS &&
          clBuildProgram(p, 1, &dev.id, options.c_str(), nullptr, nullptr) == CL_SUCCESS) {
        log(RMA_LOG_DEBUG, "opencl cache hit: " + source_name + " on " + dev.name + " (" + path + ")");
        *out = p;
        return RMA_STATUS_OK;
      }
      if (p) clReleaseProgram(p);
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
  if (!path.empty()) {
    std::vector<unsigned char> binary;
    if (program_binary(dev, p, &binary))
      write_entry(dir, path, key, binary);
    else
      log(RMA_LOG_DEBUG, "opencl cache: " + dev.name + " gives no program binary; not cached");
  }
  *out = p;
  return RMA_STATUS_OK;
}

}  // namespace rma::opencl
