// The compile-cache entry format (see cache_store.h): encoding and checks.
#include <xxhash.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "cache_store.h"
#include "file_util.h"
#include "rma/error.h"

namespace rma::compile::detail {
namespace {

constexpr uint8_t kMagic[8] = {'R', 'M', 'A', 'C', 'A', 'C', 'H', 'E'};
constexpr size_t kVersionAt = 8;
constexpr size_t kMetaSizeAt = 12;
constexpr size_t kCreatedAt = 16;
constexpr size_t kPayloadSizeAt = 24;
constexpr size_t kKeyAt = 32;
constexpr size_t kChecksumAt = 64;

// XXH3-128 (xxHash): the checksum guards against damage, not forgery (the
// key is the SHA-256), and every hit checks the whole entry — hundreds of
// MB for a BERT — so it runs at memory speed (~20 GB/s against SHA-256's
// ~2). Stored in the first 16 bytes of the 32-byte field, zeros after.
Digest entry_checksum(std::span<const uint8_t> entry, const EntryHeader& h) {
  XXH3_state_t* state = XXH3_createState();
  if (!state) throw Error(ErrorCode::kOutOfMemory, "compile cache: no memory for a checksum");
  XXH3_128bits_reset(state);
  XXH3_128bits_update(state, entry.data(), kChecksumAt);
  XXH3_128bits_update(state, entry.data() + kEntryHeaderSize, h.total_size() - kEntryHeaderSize);
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state));
  XXH3_freeState(state);
  Digest sum{};
  std::memcpy(sum.data(), canonical.digest, sizeof(canonical.digest));
  return sum;
}

}  // namespace

bool is_key_hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::vector<uint8_t> encode_entry(const Digest& key, int64_t created_unix,
                                  const std::map<std::string, std::string>& meta,
                                  std::span<const uint8_t> payload) {
  const std::string meta_json = nlohmann::json(meta).dump();
  if (meta_json.size() > kMaxEntryMetaBytes)
    throw Error(ErrorCode::kInvalidArgument,
                "compile cache: entry metadata is " + std::to_string(meta_json.size()) +
                    " bytes, more than the " + std::to_string(kMaxEntryMetaBytes) + " allowed");
  EntryHeader h;
  h.meta_size = uint32_t(meta_json.size());
  h.payload_size = payload.size();
  std::vector<uint8_t> entry(h.total_size(), 0);
  uint8_t* p = entry.data();
  std::memcpy(p, kMagic, sizeof(kMagic));
  put_u32(p + kVersionAt, kEntryFormatVersion);
  put_u32(p + kMetaSizeAt, uint32_t(meta_json.size()));
  put_u64(p + kCreatedAt, uint64_t(created_unix));
  put_u64(p + kPayloadSizeAt, payload.size());
  std::memcpy(p + kKeyAt, key.data(), key.size());
  std::memcpy(p + kEntryHeaderSize, meta_json.data(), meta_json.size());
  if (!payload.empty()) std::memcpy(p + h.payload_offset(), payload.data(), payload.size());
  const Digest sum = entry_checksum(entry, h);
  std::memcpy(p + kChecksumAt, sum.data(), sum.size());
  return entry;
}

bool decode_entry_header(std::span<const uint8_t> bytes, EntryHeader* out, std::string* why) {
  if (bytes.size() < kEntryHeaderSize) {
    *why = "truncated: " + std::to_string(bytes.size()) + " bytes, the header alone needs " +
           std::to_string(kEntryHeaderSize);
    return false;
  }
  const uint8_t* p = bytes.data();
  if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0) {
    *why = "bad magic at offset 0 (expected \"RMACACHE\")";
    return false;
  }
  const uint32_t version = get_u32(p + kVersionAt);
  if (version != kEntryFormatVersion) {
    *why = "format version " + std::to_string(version) + " at offset 8, expected " +
           std::to_string(kEntryFormatVersion);
    return false;
  }
  out->meta_size = get_u32(p + kMetaSizeAt);
  out->created_unix = int64_t(get_u64(p + kCreatedAt));
  out->payload_size = get_u64(p + kPayloadSizeAt);
  std::memcpy(out->key.data(), p + kKeyAt, out->key.size());
  std::memcpy(out->checksum.data(), p + kChecksumAt, out->checksum.size());
  if (out->meta_size > kMaxEntryMetaBytes) {
    *why = "metadata size " + std::to_string(out->meta_size) + " at offset 12 exceeds " +
           std::to_string(kMaxEntryMetaBytes);
    return false;
  }
  if (out->payload_size > (uint64_t(1) << 48)) {
    *why = "implausible payload size " + std::to_string(out->payload_size) + " at offset 24";
    return false;
  }
  return true;
}

std::map<std::string, std::string> decode_entry_meta(std::span<const uint8_t> bytes,
                                                     const EntryHeader& header) {
  std::map<std::string, std::string> meta;
  if (bytes.size() < kEntryHeaderSize + header.meta_size) return meta;
  const auto json = nlohmann::json::parse(bytes.begin() + kEntryHeaderSize,
                                          bytes.begin() + kEntryHeaderSize + header.meta_size,
                                          nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return meta;
  for (const auto& [k, v] : json.items())
    if (v.is_string()) meta[k] = v.get<std::string>();
  return meta;
}

bool check_entry(std::span<const uint8_t> entry, const Digest& key, EntryHeader* out,
                 std::string* why) {
  if (!decode_entry_header(entry, out, why)) return false;
  if (out->key != key) {
    *why = "it holds key " + to_hex(out->key) + " (offset 32), expected " + to_hex(key);
    return false;
  }
  if (entry.size() != out->total_size()) {
    *why = std::string(entry.size() < out->total_size() ? "truncated" : "too long") + ": " +
           std::to_string(entry.size()) + " bytes, the header says " +
           std::to_string(out->total_size());
    return false;
  }
  const Digest got = entry_checksum(entry, *out);
  if (got != out->checksum) {
    *why = "checksum (XXH3-128) " + to_hex(std::span<const uint8_t>(got.data(), 16)) +
           ", expected " + to_hex(std::span<const uint8_t>(out->checksum.data(), 16)) +
           " (offset 64)";
    return false;
  }
  return true;
}

}  // namespace rma::compile::detail
