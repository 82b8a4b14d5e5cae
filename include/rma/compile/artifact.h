// rma/compile/artifact.h — the `.rmx` compiled-artifact container.
//
// A generic container of named byte sections (the compiler decides what they
// hold: "plan", "weights", kernel binaries, ...) with the target it was
// compiled for, the compiler version and the compile options. Layout (all
// integers little-endian; docs/compile-cache.md has the table):
//
//   preamble (64 B)  magic "RMX\0", format version, header size, section
//                    count, creation time (+ its complement), metadata SHA-256
//   header           JSON: target fingerprint, compiler version, options
//   section table    96 B per section: name, offset, size, alignment, flags,
//                    SHA-256 of the section's bytes
//   sections         each aligned (64 B, or 4096 B when flagged for mmap),
//                    zero padding between them; the file ends with the last
//
// The creation time is kept out of every digest, so compiling the same model
// twice gives identical checksums. Every corruption the reader can see
// (truncation, a changed byte anywhere, a bad version) is an rma::Error
// naming the file, the byte offset and what was expected.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rma/compile/sha256.h"
#include "rma/device.h"

namespace rma::compile {

constexpr uint32_t kArtifactFormatVersion = 1;
constexpr uint32_t kDefaultSectionAlignment = 64;
constexpr uint32_t kMmapSectionAlignment = 4096;
constexpr size_t kMaxSectionNameLength = 31;

// What a compiled artifact depends on: the backend and the device it targets.
struct Fingerprint {
  std::string plugin_name;     // "cpu", "opencl"
  std::string plugin_version;  // the plugin's own version string
  std::string driver_version;  // driver / SDK version the device reports
  std::string device_name;     // the device's model name
  std::string device_vendor;
  std::string device_arch;  // "x86_64 avx512", "sm_90"

  bool operator==(const Fingerprint&) const = default;
  // Field name and value pairs, in a fixed order (for keys and messages).
  std::vector<std::pair<std::string, std::string>> fields() const;
  std::string to_string() const;  // "cpu 0.1.0, device 'x' (vendor 'y', arch 'z', driver 'w')"
};

// The fingerprint of `device` from its plugin and rma_device_info.
Fingerprint fingerprint_of(const Device& device);

// The name under which target `target` of a multi-target artifact keeps
// section `name`: the first target (0) uses the plain name, target i > 0
// "t<i>.<name>" (a plan for each target, one shared "weights" section).
std::string target_section(size_t target, std::string_view name);

// This build's compiler version: RMA_VERSION, plus "+g<commit>" when the
// source tree was a git checkout at configure time.
std::string compiler_version();

// Builds an artifact in memory and writes it.
class ArtifactWriter {
 public:
  ArtifactWriter(Fingerprint target, std::string compiler_version,
                 std::map<std::string, std::string> options = {});
  // A multi-target artifact: targets[0] is the header's "target", and all of
  // them are listed in "targets" (at least one; at most 16).
  ArtifactWriter(std::vector<Fingerprint> targets, std::string compiler_version,
                 std::map<std::string, std::string> options = {});

  // Adds a section (names: 1..31 characters of [A-Za-z0-9_.-], unique).
  // `mmap`: align it to 4096 bytes so a reader can map it in place.
  void add_section(const std::string& name, std::span<const uint8_t> bytes, bool mmap = false);
  void add_section(const std::string& name, std::vector<uint8_t>&& bytes, bool mmap = false);

  // Writes atomically (temp file in the same folder, fsync, rename): readers
  // see the old file or the new one, never a part.
  void write(const std::string& path) const;
  // The same bytes in memory (e.g. for the compile cache).
  std::vector<uint8_t> serialize() const;

 private:
  struct Section {
    std::string name;
    std::vector<uint8_t> bytes;
    bool mmap;
  };
  template <typename Sink>
  void emit(Sink&& sink) const;

  std::vector<Fingerprint> targets_;
  std::string compiler_version_;
  std::map<std::string, std::string> options_;
  std::vector<Section> sections_;
};

struct SectionInfo {
  std::string name;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t alignment = 0;
  bool mmap = false;
  Digest sha256{};
};

// A read-only artifact: a mapped file, or bytes in memory.
class Artifact {
 public:
  struct OpenOptions {
    // Check every section's SHA-256 at open instead of on first access.
    bool verify_all = false;
  };

  // Maps `path` and checks the preamble, header, section table and padding
  // (and every section with verify_all).
  static Artifact open(const std::string& path, OpenOptions options);
  static Artifact open(const std::string& path) { return open(path, OpenOptions{}); }
  // The same from bytes; `name` stands for the file in messages.
  static Artifact from_bytes(std::vector<uint8_t> bytes, const std::string& name,
                             OpenOptions options);
  static Artifact from_bytes(std::vector<uint8_t> bytes, const std::string& name) {
    return from_bytes(std::move(bytes), name, OpenOptions{});
  }
  // Over bytes another owner keeps (a mapped compile-cache entry): `owner`
  // lives as long as the artifact and every view of it.
  static Artifact from_view(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes,
                            const std::string& name, OpenOptions options);
  static Artifact from_view(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes,
                            const std::string& name) {
    return from_view(std::move(owner), bytes, name, OpenOptions{});
  }

  Artifact(Artifact&&) noexcept;
  Artifact& operator=(Artifact&&) noexcept;
  ~Artifact();

  const std::string& path() const;
  uint32_t format_version() const;
  const Fingerprint& target() const;  // the first target
  // Every target it holds plans for (one unless compiled for several).
  const std::vector<Fingerprint>& targets() const;
  const std::string& compiler_version() const;
  const std::map<std::string, std::string>& options() const;
  int64_t created_unix() const;  // seconds since the epoch
  const std::vector<SectionInfo>& sections() const;
  bool has_section(std::string_view name) const;

  // A section's bytes, valid while this Artifact lives (moves included). Its
  // SHA-256 is checked on first access (once). Throws Error(kNotFound)
  // listing the sections present when there is no such section.
  std::span<const uint8_t> section(std::string_view name) const;
  // The same without the SHA-256 check, for bytes the caller verified
  // otherwise (a compile-cache entry is checksummed as a whole on read).
  std::span<const uint8_t> unverified_section(std::string_view name) const;
  // Checks every section's SHA-256 (those not checked yet).
  void verify() const;

  // Throws Error naming, for every differing field, the artifact's value and
  // `here`'s when no target of this artifact is `here`.
  void check_compatible(const Fingerprint& here) const;
  // The index of the target that is `here` (the same Error otherwise).
  size_t target_index(const Fingerprint& here) const;

 private:
  struct Impl;
  explicit Artifact(std::unique_ptr<Impl> impl);
  std::span<const uint8_t> section_bytes(std::string_view name, bool verify) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rma::compile
