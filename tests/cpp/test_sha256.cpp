// SHA-256 against the FIPS 180-4 examples, padding boundaries, streaming in
// pieces of every size, files, and hex parsing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "rma/compile/sha256.h"
#include "rma/error.h"

namespace rma::compile {
namespace {

std::string hex_of(std::string_view text) { return to_hex(sha256(text)); }

TEST(Sha256, Fips180Examples) {
  EXPECT_EQ(hex_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex_of("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnop"
                   "qklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(hex_of(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Lengths around the 56-byte padding boundary and the 64-byte block.
TEST(Sha256, PaddingBoundaries) {
  const std::pair<size_t, const char*> cases[] = {
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
      {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
  };
  for (const auto& [n, want] : cases) EXPECT_EQ(hex_of(std::string(n, 'a')), want) << n << " bytes";
}

TEST(Sha256, StreamingInAnyPiecesMatchesOneShot) {
  std::mt19937 rng(7);
  std::vector<uint8_t> data(1000);
  for (auto& b : data) b = uint8_t(rng());
  const Digest whole = sha256(std::span<const uint8_t>(data));
  for (size_t piece = 1; piece <= 130; ++piece) {
    Sha256 h;
    for (size_t at = 0; at < data.size(); at += piece)
      h.update(data.data() + at, std::min(piece, data.size() - at));
    EXPECT_EQ(h.finish(), whole) << "pieces of " << piece;
  }
  // finish() resets: the object hashes the next message from scratch.
  Sha256 h;
  h.update("junk");
  h.finish();
  h.update("abc");
  EXPECT_EQ(to_hex(h.finish()), hex_of("abc"));
}

TEST(Sha256, FileMatchesMemoryAndMissingFileIsAnError) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("rma_sha256_" + std::to_string(::getpid())))
          .string();
  std::string text(3 << 20, 'x');  // several read buffers
  for (size_t i = 0; i < text.size(); i += 97) text[i] = char('a' + i % 26);
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  EXPECT_EQ(sha256_file(path), sha256(text));
  std::filesystem::remove(path);
  try {
    sha256_file(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(Sha256, HexRoundTripAndRejects) {
  const Digest d = sha256(std::string_view("abc"));
  Digest back{};
  ASSERT_TRUE(parse_digest(to_hex(d), &back));
  EXPECT_EQ(back, d);
  std::string upper = to_hex(d);
  for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_TRUE(parse_digest(upper, &back));
  EXPECT_EQ(back, d);
  EXPECT_FALSE(parse_digest(to_hex(d).substr(1), &back));
  EXPECT_FALSE(parse_digest(std::string(63, '0') + "g", &back));
}

}  // namespace
}  // namespace rma::compile
