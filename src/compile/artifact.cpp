// The .rmx container: writer and reader. The layout is described in
// include/rma/compile/artifact.h and docs/compile-cache.md.
#include "rma/compile/artifact.h"

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "file_util.h"
#include "rma/error.h"

namespace rma::compile {
namespace {

using detail::get_u32;
using detail::get_u64;
using detail::put_u32;
using detail::put_u64;
using nlohmann::json;

constexpr uint8_t kMagic[4] = {'R', 'M', 'X', '\0'};

// Preamble fields (byte offsets).
constexpr size_t kPreambleSize = 64;
constexpr size_t kVersionAt = 4;
constexpr size_t kHeaderSizeAt = 8;
constexpr size_t kSectionCountAt = 12;
constexpr size_t kCreatedAt = 16;
constexpr size_t kCreatedCheckAt = 24;
constexpr size_t kMetadataDigestAt = 32;
// The metadata digest covers the preamble up to the creation time, the header
// and the table. The creation time sits outside every digest (identical
// compiles, identical checksums) and is guarded by its complement instead.
constexpr size_t kDigestedPreambleBytes = kCreatedAt;

// Section table entry fields (byte offsets within a 96-byte entry).
constexpr size_t kEntrySize = 96;
constexpr size_t kNameBytes = 32;
constexpr size_t kOffsetAt = 32;
constexpr size_t kSizeAt = 40;
constexpr size_t kAlignmentAt = 48;
constexpr size_t kFlagsAt = 52;
constexpr size_t kSectionDigestAt = 56;
constexpr size_t kReservedAt = 88;
constexpr uint32_t kFlagMmap = 1;

constexpr uint32_t kMaxSections = 1u << 16;
constexpr size_t kMaxTargets = 16;
constexpr uint32_t kMaxAlignment = 1u << 20;

uint64_t align_up(uint64_t v, uint64_t alignment) {
  return (v + alignment - 1) / alignment * alignment;
}

bool valid_section_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxSectionNameLength) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
      return false;
  return true;
}

// Bytes from a file shown safely in a message.
std::string printable(const uint8_t* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
      s += char(p[i]);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", p[i]);
      s += buf;
    }
  }
  return s;
}

std::string hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

const char* kFieldLabels[] = {"plugin name", "plugin version", "driver version",
                              "device name", "device vendor",  "device arch"};
const char* kFieldKeys[] = {"plugin_name", "plugin_version", "driver_version",
                            "device_name", "device_vendor",  "device_arch"};

std::string c_string(const char* chars, size_t capacity) {
  return std::string(chars, strnlen(chars, capacity));
}

}  // namespace

// ------------------------------------------------------------ fingerprint
std::vector<std::pair<std::string, std::string>> Fingerprint::fields() const {
  const std::string* values[] = {&plugin_name, &plugin_version, &driver_version,
                                 &device_name, &device_vendor,  &device_arch};
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < 6; ++i) out.emplace_back(kFieldKeys[i], *values[i]);
  return out;
}

std::string Fingerprint::to_string() const {
  return plugin_name + " " + plugin_version + ", device '" + device_name + "' (vendor '" +
         device_vendor + "', arch '" + device_arch + "', driver '" + driver_version + "')";
}

Fingerprint fingerprint_of(const Device& device) {
  if (!device.valid()) throw Error(ErrorCode::kInvalidArgument, "fingerprint_of: no device");
  const rma_device_info info = device.info();
  Fingerprint f;
  f.plugin_name = device.plugin_name();
  f.plugin_version = device.api().version ? device.api().version : "";
  f.driver_version = c_string(info.driver_version, sizeof(info.driver_version));
  f.device_name = c_string(info.name, sizeof(info.name));
  f.device_vendor = c_string(info.vendor, sizeof(info.vendor));
  f.device_arch = c_string(info.arch, sizeof(info.arch));
  return f;
}

std::string compiler_version() {
  std::string v = RMA_VERSION;
  const std::string commit = RMA_GIT_COMMIT;
  if (!commit.empty()) v += "+g" + commit;
  return v;
}

// ------------------------------------------------------------ writer
ArtifactWriter::ArtifactWriter(Fingerprint target, std::string compiler_version,
                               std::map<std::string, std::string> options)
    : ArtifactWriter(std::vector<Fingerprint>{std::move(target)}, std::move(compiler_version),
                     std::move(options)) {}

ArtifactWriter::ArtifactWriter(std::vector<Fingerprint> targets, std::string compiler_version,
                               std::map<std::string, std::string> options)
    : targets_(std::move(targets)),
      compiler_version_(std::move(compiler_version)),
      options_(std::move(options)) {
  if (targets_.empty() || targets_.size() > kMaxTargets)
    throw Error(ErrorCode::kInvalidArgument, "an artifact holds 1 to " +
                                                 std::to_string(kMaxTargets) + " targets, got " +
                                                 std::to_string(targets_.size()));
}

std::string target_section(size_t target, std::string_view name) {
  if (target == 0) return std::string(name);
  std::string s = "t" + std::to_string(target);
  s += '.';
  s += name;
  return s;
}

void ArtifactWriter::add_section(const std::string& name, std::span<const uint8_t> bytes,
                                 bool mmap) {
  add_section(name, std::vector<uint8_t>(bytes.begin(), bytes.end()), mmap);
}

void ArtifactWriter::add_section(const std::string& name, std::vector<uint8_t>&& bytes, bool mmap) {
  if (!valid_section_name(name))
    throw Error(ErrorCode::kInvalidArgument, "artifact section name '" + name + "' must be 1 to " +
                                                 std::to_string(kMaxSectionNameLength) +
                                                 " characters of [A-Za-z0-9_.-]");
  for (const Section& s : sections_)
    if (s.name == name)
      throw Error(ErrorCode::kInvalidArgument, "artifact section '" + name + "' added twice");
  if (sections_.size() >= kMaxSections)
    throw Error(ErrorCode::kInvalidArgument,
                "an artifact holds at most " + std::to_string(kMaxSections) + " sections");
  sections_.push_back({name, std::move(bytes), mmap});
}

// Feeds the file's bytes in order to sink(data, size); data == nullptr
// stands for `size` zero bytes of padding.
template <typename Sink>
void ArtifactWriter::emit(Sink&& sink) const {
  const auto to_json = [](const Fingerprint& f) {
    json j;
    for (const auto& [key, value] : f.fields()) j[key] = value;
    return j;
  };
  json header_json = json{{"target", to_json(targets_[0])},
                          {"compiler_version", compiler_version_},
                          {"options", options_}};
  // Single-target artifacts keep the header they always had.
  if (targets_.size() > 1) {
    json all = json::array();
    for (const Fingerprint& f : targets_) all.push_back(to_json(f));
    header_json["targets"] = all;
  }
  const std::string header = header_json.dump();
  if (header.size() > UINT32_MAX)
    throw Error(ErrorCode::kInvalidArgument, "artifact header too large (options too long)");

  std::vector<uint8_t> table(sections_.size() * kEntrySize, 0);
  uint64_t cursor = kPreambleSize + header.size() + table.size();
  std::vector<uint64_t> offsets;
  for (size_t i = 0; i < sections_.size(); ++i) {
    const Section& s = sections_[i];
    const uint32_t alignment = s.mmap ? kMmapSectionAlignment : kDefaultSectionAlignment;
    const uint64_t offset = align_up(cursor, alignment);
    uint8_t* e = table.data() + i * kEntrySize;
    std::memcpy(e, s.name.data(), s.name.size());
    put_u64(e + kOffsetAt, offset);
    put_u64(e + kSizeAt, s.bytes.size());
    put_u32(e + kAlignmentAt, alignment);
    put_u32(e + kFlagsAt, s.mmap ? kFlagMmap : 0);
    const Digest d = sha256(std::span<const uint8_t>(s.bytes));
    std::memcpy(e + kSectionDigestAt, d.data(), d.size());
    offsets.push_back(offset);
    cursor = offset + s.bytes.size();
  }

  uint8_t preamble[kPreambleSize] = {};
  std::memcpy(preamble, kMagic, sizeof(kMagic));
  put_u32(preamble + kVersionAt, kArtifactFormatVersion);
  put_u32(preamble + kHeaderSizeAt, uint32_t(header.size()));
  put_u32(preamble + kSectionCountAt, uint32_t(sections_.size()));
  const uint64_t created = uint64_t(std::time(nullptr));
  put_u64(preamble + kCreatedAt, created);
  put_u64(preamble + kCreatedCheckAt, ~created);
  Sha256 h;
  h.update(preamble, kDigestedPreambleBytes);
  h.update(header);
  h.update(std::span<const uint8_t>(table));
  const Digest metadata = h.finish();
  std::memcpy(preamble + kMetadataDigestAt, metadata.data(), metadata.size());

  sink(preamble, kPreambleSize);
  sink(reinterpret_cast<const uint8_t*>(header.data()), header.size());
  sink(table.data(), table.size());
  cursor = kPreambleSize + header.size() + table.size();
  for (size_t i = 0; i < sections_.size(); ++i) {
    sink(nullptr, offsets[i] - cursor);
    sink(sections_[i].bytes.data(), sections_[i].bytes.size());
    cursor = offsets[i] + sections_[i].bytes.size();
  }
}

void ArtifactWriter::write(const std::string& path) const {
  detail::AtomicFile file(path);
  emit([&](const uint8_t* data, size_t size) {
    if (data)
      file.write(data, size);
    else
      file.write_zeros(size);
  });
  file.commit();
}

std::vector<uint8_t> ArtifactWriter::serialize() const {
  std::vector<uint8_t> out;
  emit([&](const uint8_t* data, size_t size) {
    if (data)
      out.insert(out.end(), data, data + size);
    else
      out.resize(out.size() + size, 0);
  });
  return out;
}

// ------------------------------------------------------------ reader
struct Artifact::Impl {
  std::string path;
  std::unique_ptr<detail::MappedFile> mapping;
  std::vector<uint8_t> owned;
  std::shared_ptr<const void> owner;  // from_view: whoever keeps `data` alive
  const uint8_t* data = nullptr;
  uint64_t size = 0;

  uint32_t version = 0;
  Fingerprint target;
  std::vector<Fingerprint> targets;
  std::string compiler_version;
  std::map<std::string, std::string> options;
  int64_t created = 0;
  std::vector<SectionInfo> sections;
  // Set once a section's SHA-256 matched. Two threads may both check a
  // section the first time; that only costs time.
  std::unique_ptr<std::atomic<bool>[]> verified;

  [[noreturn]] void fail(uint64_t offset, const std::string& what) const {
    throw Error(ErrorCode::kInvalidArgument,
                path + ": offset " + std::to_string(offset) + ": " + what);
  }

  void parse();
  void parse_header(std::string_view text);
  void parse_table(uint64_t table_at, uint32_t count);
  void verify_section(size_t i) const;
};

void Artifact::Impl::parse() {
  if (size < kPreambleSize)
    fail(size, "the file ends after " + std::to_string(size) + " bytes, but the preamble needs " +
                   std::to_string(kPreambleSize) + " (truncated, or not an .rmx artifact)");
  if (std::memcmp(data, kMagic, sizeof(kMagic)) != 0)
    fail(0, "magic is \"" + printable(data, sizeof(kMagic)) +
                "\", expected \"RMX\\x00\" (not an .rmx artifact)");
  version = get_u32(data + kVersionAt);
  if (version != kArtifactFormatVersion)
    fail(kVersionAt, "format version " + std::to_string(version) + ", expected " +
                         std::to_string(kArtifactFormatVersion) +
                         " (written by another rma release?)");
  const uint32_t header_size = get_u32(data + kHeaderSizeAt);
  const uint32_t count = get_u32(data + kSectionCountAt);
  if (count > kMaxSections)
    fail(kSectionCountAt, "section count " + std::to_string(count) + ", expected at most " +
                              std::to_string(kMaxSections));
  const uint64_t table_at = kPreambleSize + uint64_t(header_size);
  const uint64_t table_end = table_at + uint64_t(count) * kEntrySize;
  if (table_end > size)
    fail(size, "the file ends after " + std::to_string(size) + " bytes, but the header (" +
                   std::to_string(header_size) + " bytes) and section table (" +
                   std::to_string(count) + " x " + std::to_string(kEntrySize) + " bytes) end at " +
                   std::to_string(table_end) + " (truncated)");

  Sha256 h;
  h.update(data, kDigestedPreambleBytes);
  h.update(data + kPreambleSize, table_end - kPreambleSize);
  const Digest computed = h.finish();
  if (std::memcmp(computed.data(), data + kMetadataDigestAt, computed.size()) != 0)
    fail(kMetadataDigestAt,
         "metadata SHA-256 (over bytes 0-" + std::to_string(kDigestedPreambleBytes - 1) + " and " +
             std::to_string(kPreambleSize) + "-" + std::to_string(table_end - 1) + ") is " +
             to_hex(computed) + ", expected the stored " +
             to_hex(std::span<const uint8_t>(data + kMetadataDigestAt, 32)) +
             " (header or section table corrupt)");
  const uint64_t created_bits = get_u64(data + kCreatedAt);
  const uint64_t check_bits = get_u64(data + kCreatedCheckAt);
  if (check_bits != ~created_bits)
    fail(kCreatedAt, "creation time " + hex64(created_bits) + " and its check word " +
                         hex64(check_bits) + " disagree (expected the complement)");
  created = int64_t(created_bits);

  parse_header(std::string_view(reinterpret_cast<const char*>(data) + kPreambleSize, header_size));
  parse_table(table_at, count);
}

void Artifact::Impl::parse_header(std::string_view text) {
  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {
    fail(kPreambleSize, std::string("header is not valid JSON: ") + e.what());
  }
  auto string_field = [&](const json& obj, const char* key, const std::string& where) {
    const auto it = obj.find(key);
    if (it == obj.end() || !it->is_string())
      fail(kPreambleSize, "header field '" + where + key + "' is missing or not a string");
    return it->get<std::string>();
  };
  if (!header.is_object()) fail(kPreambleSize, "header is not a JSON object");
  const auto target_it = header.find("target");
  if (target_it == header.end() || !target_it->is_object())
    fail(kPreambleSize, "header field 'target' is missing or not an object");
  std::string* fields[] = {&target.plugin_name, &target.plugin_version, &target.driver_version,
                           &target.device_name, &target.device_vendor,  &target.device_arch};
  for (size_t i = 0; i < 6; ++i) *fields[i] = string_field(*target_it, kFieldKeys[i], "target.");
  targets = {target};
  if (const auto all = header.find("targets"); all != header.end()) {
    if (!all->is_array() || all->size() < 2 || all->size() > kMaxTargets)
      fail(kPreambleSize, "header field 'targets' must be an array of 2 to " +
                              std::to_string(kMaxTargets) + " fingerprints");
    targets.clear();
    for (size_t t = 0; t < all->size(); ++t) {
      const json& f = (*all)[t];
      const std::string where = "targets[" + std::to_string(t) + "].";
      if (!f.is_object()) fail(kPreambleSize, "header field '" + where + "' is not an object");
      Fingerprint fp;
      std::string* out[] = {&fp.plugin_name, &fp.plugin_version, &fp.driver_version,
                            &fp.device_name, &fp.device_vendor,  &fp.device_arch};
      for (size_t i = 0; i < 6; ++i) *out[i] = string_field(f, kFieldKeys[i], where);
      targets.push_back(std::move(fp));
    }
    if (targets[0] != target)
      fail(kPreambleSize, "header field 'targets[0]' differs from 'target'");
  }
  compiler_version = string_field(header, "compiler_version", "");
  const auto options_it = header.find("options");
  if (options_it == header.end() || !options_it->is_object())
    fail(kPreambleSize, "header field 'options' is missing or not an object");
  for (const auto& [key, value] : options_it->items()) {
    if (!value.is_string())
      fail(kPreambleSize, "header field 'options." + key + "' is not a string");
    options[key] = value.get<std::string>();
  }
}

void Artifact::Impl::parse_table(uint64_t table_at, uint32_t count) {
  uint64_t cursor = table_at + uint64_t(count) * kEntrySize;  // end of what is checked so far
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t entry_at = table_at + uint64_t(i) * kEntrySize;
    const uint8_t* e = data + entry_at;
    const std::string where = "section table entry " + std::to_string(i);
    const size_t name_length = strnlen(reinterpret_cast<const char*>(e), kNameBytes);
    SectionInfo s;
    s.name.assign(reinterpret_cast<const char*>(e), name_length);
    if (!valid_section_name(s.name))
      fail(entry_at, where + ": name \"" + printable(e, name_length) + "\" is not 1 to " +
                         std::to_string(kMaxSectionNameLength) + " characters of [A-Za-z0-9_.-]");
    for (size_t b = name_length; b < kNameBytes; ++b)
      if (e[b] != 0) fail(entry_at + b, where + ": name padding is not zero");
    for (const SectionInfo& other : sections)
      if (other.name == s.name) fail(entry_at, where + ": section '" + s.name + "' appears twice");
    s.offset = get_u64(e + kOffsetAt);
    s.size = get_u64(e + kSizeAt);
    s.alignment = get_u32(e + kAlignmentAt);
    const uint32_t flags = get_u32(e + kFlagsAt);
    s.mmap = (flags & kFlagMmap) != 0;
    std::memcpy(s.sha256.data(), e + kSectionDigestAt, s.sha256.size());
    const std::string label = where + " ('" + s.name + "')";
    if (s.alignment == 0 || (s.alignment & (s.alignment - 1)) != 0 || s.alignment > kMaxAlignment)
      fail(entry_at + kAlignmentAt, label + ": alignment " + std::to_string(s.alignment) +
                                        ", expected a power of two up to " +
                                        std::to_string(kMaxAlignment));
    if ((flags & ~kFlagMmap) != 0)
      fail(entry_at + kFlagsAt, label + ": unknown flags " + std::to_string(flags));
    if (get_u64(e + kReservedAt) != 0)
      fail(entry_at + kReservedAt, label + ": reserved field is not zero");
    if (s.offset % s.alignment != 0)
      fail(entry_at + kOffsetAt, label + ": offset " + std::to_string(s.offset) +
                                     " is not a multiple of its alignment " +
                                     std::to_string(s.alignment));
    if (s.offset < cursor)
      fail(entry_at + kOffsetAt, label + ": offset " + std::to_string(s.offset) +
                                     " overlaps what precedes it (expected at least " +
                                     std::to_string(cursor) + ")");
    if (s.offset > size || s.size > size - s.offset)
      fail(size, "the file ends after " + std::to_string(size) + " bytes, but section '" + s.name +
                     "' spans bytes " + std::to_string(s.offset) + " to " +
                     std::to_string(s.offset + s.size) + " (truncated)");
    // Padding is covered by no digest, so it must be exactly zero.
    for (uint64_t b = cursor; b < s.offset; ++b)
      if (data[b] != 0)
        fail(b, "padding byte before section '" + s.name + "' is " + std::to_string(data[b]) +
                    ", expected 0");
    cursor = s.offset + s.size;
    sections.push_back(std::move(s));
  }
  if (cursor != size)
    fail(cursor, std::to_string(size - cursor) +
                     " unexpected bytes after the last section (expected the file to end here)");
  verified = std::make_unique<std::atomic<bool>[]>(sections.size());
  for (size_t i = 0; i < sections.size(); ++i) verified[i] = false;
}

void Artifact::Impl::verify_section(size_t i) const {
  if (verified[i].load(std::memory_order_acquire)) return;
  const SectionInfo& s = sections[i];
  const Digest got = sha256(std::span<const uint8_t>(data + s.offset, s.size));
  if (got != s.sha256)
    fail(s.offset, "section '" + s.name + "' (" + std::to_string(s.size) + " bytes) has SHA-256 " +
                       to_hex(got) + ", expected " + to_hex(s.sha256) + " (corrupt)");
  verified[i].store(true, std::memory_order_release);
}

Artifact::Artifact(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Artifact::Artifact(Artifact&&) noexcept = default;
Artifact& Artifact::operator=(Artifact&&) noexcept = default;
Artifact::~Artifact() = default;

Artifact Artifact::open(const std::string& path, OpenOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->mapping = std::make_unique<detail::MappedFile>(path);
  impl->data = impl->mapping->data();
  impl->size = impl->mapping->size();
  impl->parse();
  Artifact a(std::move(impl));
  if (options.verify_all) a.verify();
  return a;
}

Artifact Artifact::from_bytes(std::vector<uint8_t> bytes, const std::string& name,
                              OpenOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->path = name;
  impl->owned = std::move(bytes);
  impl->data = impl->owned.data();
  impl->size = impl->owned.size();
  impl->parse();
  Artifact a(std::move(impl));
  if (options.verify_all) a.verify();
  return a;
}

Artifact Artifact::from_view(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes,
                             const std::string& name, OpenOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->path = name;
  impl->owner = std::move(owner);
  impl->data = bytes.data();
  impl->size = bytes.size();
  impl->parse();
  Artifact a(std::move(impl));
  if (options.verify_all) a.verify();
  return a;
}

const std::string& Artifact::path() const { return impl_->path; }
uint32_t Artifact::format_version() const { return impl_->version; }
const Fingerprint& Artifact::target() const { return impl_->target; }
const std::string& Artifact::compiler_version() const { return impl_->compiler_version; }
const std::map<std::string, std::string>& Artifact::options() const { return impl_->options; }
int64_t Artifact::created_unix() const { return impl_->created; }
const std::vector<SectionInfo>& Artifact::sections() const { return impl_->sections; }

bool Artifact::has_section(std::string_view name) const {
  for (const SectionInfo& s : impl_->sections)
    if (s.name == name) return true;
  return false;
}

std::span<const uint8_t> Artifact::section(std::string_view name) const {
  return section_bytes(name, /*verify=*/true);
}

std::span<const uint8_t> Artifact::unverified_section(std::string_view name) const {
  return section_bytes(name, /*verify=*/false);
}

std::span<const uint8_t> Artifact::section_bytes(std::string_view name, bool verify) const {
  for (size_t i = 0; i < impl_->sections.size(); ++i) {
    const SectionInfo& s = impl_->sections[i];
    if (s.name != name) continue;
    if (verify) impl_->verify_section(i);
    return {impl_->data + s.offset, s.size};
  }
  std::string present;
  for (const SectionInfo& s : impl_->sections) present += (present.empty() ? "" : ", ") + s.name;
  throw Error(ErrorCode::kNotFound, impl_->path + ": no section '" + std::string(name) +
                                        "'; sections: " + (present.empty() ? "(none)" : present));
}

void Artifact::verify() const {
  for (size_t i = 0; i < impl_->sections.size(); ++i) impl_->verify_section(i);
}

void Artifact::check_compatible(const Fingerprint& here) const { target_index(here); }

size_t Artifact::target_index(const Fingerprint& here) const {
  const auto theirs = here.fields();
  std::string all_differences;
  for (size_t t = 0; t < impl_->targets.size(); ++t) {
    const auto ours = impl_->targets[t].fields();
    std::string differences;
    for (size_t i = 0; i < ours.size(); ++i)
      if (ours[i].second != theirs[i].second)
        differences += std::string(differences.empty() ? "" : "; ") + kFieldLabels[i] +
                       ": artifact '" + ours[i].second + "', this device '" + theirs[i].second +
                       "'";
    if (differences.empty()) return t;
    if (impl_->targets.size() > 1)
      differences = "target " + std::to_string(t) + " (" + impl_->targets[t].plugin_name +
                    "): " + differences;
    all_differences += (all_differences.empty() ? "" : " | ") + differences;
  }
  throw Error(ErrorCode::kUnsupported,
              impl_->path + " was compiled for another target (recompile it for this device): " +
                  all_differences);
}

const std::vector<Fingerprint>& Artifact::targets() const { return impl_->targets; }

}  // namespace rma::compile
