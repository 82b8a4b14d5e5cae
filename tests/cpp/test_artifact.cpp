// The .rmx container: round trip, alignment, determinism, atomic writes,
// lazy and eager checksums, target compatibility, and corruption (a cut at
// every byte, a changed byte at every position) always an rma::Error naming
// the file and an offset.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "rma/compile/artifact.h"
#include "rma/device.h"
#include "rma/error.h"

namespace rma::compile {
namespace {

namespace fs = std::filesystem;

class ArtifactTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/rma_artifact_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static Fingerprint target() {
    return {"cpu", "0.1.0", "n/a", "Test CPU", "TestVendor", "x86_64 avx2"};
  }
  static std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 31 + (i >> 8));
    return v;
  }
  static ArtifactWriter sample_writer() {
    ArtifactWriter w(target(), "0.1.0+gtest", {{"batch_size", "1"}, {"opt_level", "2"}});
    w.add_section("plan", pattern(300, 1));
    w.add_section("weights", pattern(5000, 2), /*mmap=*/true);
    w.add_section("empty", std::vector<uint8_t>{});
    w.add_section("kernels.cl-bin", pattern(77, 3));
    return w;
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  static std::vector<uint8_t> read_all(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  }
  static void write_all(const std::string& p, const std::vector<uint8_t>& bytes) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }

  std::string dir_;
};

// The message of the Error that `fn` throws ("" when it does not throw).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST_F(ArtifactTest, WritesAndReadsBackEveryField) {
  const std::string file = path("model.rmx");
  sample_writer().write(file);
  Artifact a = Artifact::open(file);
  EXPECT_EQ(a.path(), file);
  EXPECT_EQ(a.format_version(), kArtifactFormatVersion);
  EXPECT_EQ(a.target(), target());
  EXPECT_EQ(a.compiler_version(), "0.1.0+gtest");
  EXPECT_EQ(a.options().at("opt_level"), "2");
  EXPECT_EQ(a.options().size(), 2u);
  EXPECT_LE(std::abs(a.created_unix() - int64_t(std::time(nullptr))), 60);

  ASSERT_EQ(a.sections().size(), 4u);
  EXPECT_EQ(a.sections()[1].name, "weights");
  EXPECT_TRUE(a.sections()[1].mmap);
  EXPECT_EQ(a.sections()[1].alignment, kMmapSectionAlignment);
  EXPECT_EQ(a.sections()[0].alignment, kDefaultSectionAlignment);
  for (const SectionInfo& s : a.sections()) EXPECT_EQ(s.offset % s.alignment, 0u) << s.name;

  const auto plan = a.section("plan");
  EXPECT_EQ(std::vector<uint8_t>(plan.begin(), plan.end()), pattern(300, 1));
  const auto weights = a.section("weights");
  EXPECT_EQ(std::vector<uint8_t>(weights.begin(), weights.end()), pattern(5000, 2));
  // Mapped in place: the file offset's alignment is the address's.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(weights.data()) % kMmapSectionAlignment, 0u);
  EXPECT_EQ(a.section("empty").size(), 0u);
  EXPECT_TRUE(a.has_section("kernels.cl-bin"));
  EXPECT_FALSE(a.has_section("nope"));
  a.verify();

  // Moving keeps the mapping (spans stay valid).
  Artifact moved = std::move(a);
  EXPECT_EQ(moved.section("weights").data(), weights.data());
}

TEST_F(ArtifactTest, SameInputsGiveSameBytesApartFromCreationTime) {
  const std::vector<uint8_t> one = sample_writer().serialize();
  const std::string file = path("a.rmx");
  sample_writer().write(file);
  std::vector<uint8_t> two = read_all(file);
  ASSERT_EQ(one.size(), two.size());
  // Bytes 16-31: the creation time and its complement, outside every digest.
  for (size_t i = 16; i < 32; ++i) two[i] = one[i];
  EXPECT_EQ(one, two);
  const Artifact from_memory = Artifact::from_bytes(one, "in-memory.rmx");
  EXPECT_EQ(from_memory.sections()[1].sha256, Artifact::open(file).sections()[1].sha256);
}

TEST_F(ArtifactTest, AnArtifactWithoutSectionsIsValid) {
  ArtifactWriter w(target(), "v", {});
  const Artifact a = Artifact::from_bytes(w.serialize(), "bare.rmx", {.verify_all = true});
  EXPECT_TRUE(a.sections().empty());
  EXPECT_TRUE(a.options().empty());
}

TEST_F(ArtifactTest, WriteReplacesAtomicallyAndLeavesNoTempFiles) {
  const std::string file = path("m.rmx");
  write_all(file, {1, 2, 3});
  sample_writer().write(file);
  Artifact::open(file, {.verify_all = true});
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(e.path().filename(), "m.rmx");
  }
  EXPECT_EQ(files, 1u);
  const std::string bad = path("no/such/folder/m.rmx");
  const std::string msg = error_of([&] { sample_writer().write(bad); });
  EXPECT_NE(msg.find("no/such/folder"), std::string::npos) << msg;
}

TEST_F(ArtifactTest, WriterRejectsBadAndDuplicateNames) {
  ArtifactWriter w(target(), "v", {});
  w.add_section("plan", std::vector<uint8_t>{1});
  EXPECT_NE(error_of([&] { w.add_section("plan", std::vector<uint8_t>{2}); }).find("twice"),
            std::string::npos);
  EXPECT_NE(error_of([&] { w.add_section("", std::vector<uint8_t>{}); }), "");
  EXPECT_NE(error_of([&] { w.add_section(std::string(32, 'a'), std::vector<uint8_t>{}); }), "");
  EXPECT_NE(error_of([&] { w.add_section("a/b", std::vector<uint8_t>{}); }), "");
}

TEST_F(ArtifactTest, MissingSectionListsThePresentOnes) {
  const Artifact a = Artifact::from_bytes(sample_writer().serialize(), "x.rmx");
  try {
    a.section("tuning");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("'tuning'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("plan, weights, empty, kernels.cl-bin"), std::string::npos)
        << e.what();
  }
}

TEST_F(ArtifactTest, TruncationAtEveryByteIsAnErrorNamingFileAndOffset) {
  const std::vector<uint8_t> bytes = sample_writer().serialize();
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    const std::vector<uint8_t> part(bytes.begin(), bytes.begin() + cut);
    const std::string msg = error_of([&] { Artifact::from_bytes(part, "cut.rmx"); });
    ASSERT_NE(msg, "") << "cut at " << cut << " was accepted";
    ASSERT_EQ(msg.rfind("cut.rmx: offset ", 0), 0u) << msg;
  }
  // And from files, mapped: a few positions, including an empty file.
  for (size_t cut : {size_t(0), size_t(3), size_t(63), size_t(64), size_t(200), bytes.size() - 1}) {
    const std::string file = path("cut" + std::to_string(cut) + ".rmx");
    write_all(file, std::vector<uint8_t>(bytes.begin(), bytes.begin() + cut));
    const std::string msg = error_of([&] { Artifact::open(file); });
    EXPECT_EQ(msg.rfind(file + ": offset ", 0), 0u) << "cut at " << cut << ": " << msg;
  }
  const std::string msg = error_of(
      [&] { Artifact::from_bytes(std::vector<uint8_t>(bytes.begin(), bytes.end() - 1), "t.rmx"); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("kernels.cl-bin"), std::string::npos) << msg;
}

TEST_F(ArtifactTest, ChangedByteAtEveryPositionIsCaught) {
  const std::vector<uint8_t> bytes = sample_writer().serialize();
  for (size_t at = 0; at < bytes.size(); ++at) {
    for (uint8_t flip : {uint8_t(0x01), uint8_t(0x80)}) {
      std::vector<uint8_t> bad = bytes;
      bad[at] ^= flip;
      // Caught at open (preamble, header, table, padding) or by the section
      // checksums.
      const std::string msg = error_of([&] {
        const Artifact a = Artifact::from_bytes(std::move(bad), "flip.rmx");
        a.verify();
      });
      ASSERT_NE(msg, "") << "byte " << at << " ^ " << int(flip) << " went unnoticed";
      ASSERT_EQ(msg.rfind("flip.rmx: offset ", 0), 0u) << msg;
    }
  }
  // Trailing bytes are corruption too.
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  EXPECT_NE(error_of([&] { Artifact::from_bytes(longer, "long.rmx"); }).find("unexpected bytes"),
            std::string::npos);
}

TEST_F(ArtifactTest, MessagesSayWhatWasExpected) {
  const std::vector<uint8_t> bytes = sample_writer().serialize();
  std::vector<uint8_t> not_rmx = bytes;
  not_rmx[0] = 'G';
  EXPECT_NE(error_of([&] {
              Artifact::from_bytes(not_rmx, "m.rmx");
            }).find("m.rmx: offset 0: magic is \"GMX\\x00\", expected \"RMX\\x00\""),
            std::string::npos);
  std::vector<uint8_t> future = bytes;
  future[4] = 9;
  EXPECT_NE(error_of([&] {
              Artifact::from_bytes(future, "m.rmx");
            }).find("m.rmx: offset 4: format version 9, expected 1"),
            std::string::npos);
  std::vector<uint8_t> table = bytes;
  table[200] ^= 0x20;
  EXPECT_NE(error_of([&] { Artifact::from_bytes(table, "m.rmx"); }).find("metadata SHA-256"),
            std::string::npos);
}

TEST_F(ArtifactTest, SectionChecksumsAreLazyUnlessAskedAndNameTheSection) {
  const std::string file = path("m.rmx");
  std::vector<uint8_t> bytes = sample_writer().serialize();
  const Artifact good = Artifact::from_bytes(bytes, "good.rmx");
  const SectionInfo weights = good.sections()[1];
  bytes[weights.offset + 10] ^= 0xff;
  write_all(file, bytes);

  const Artifact a = Artifact::open(file);  // opens: sections not read yet
  EXPECT_EQ(a.section("plan").size(), 300u);
  const std::string msg = error_of([&] { a.section("weights"); });
  EXPECT_EQ(
      msg.rfind(file + ": offset " + std::to_string(weights.offset) + ": section 'weights'", 0), 0u)
      << msg;
  EXPECT_NE(msg.find("expected " + to_hex(weights.sha256)), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { a.section("weights"); }), "");  // every time, never served
  EXPECT_NE(error_of([&] { a.verify(); }), "");
  EXPECT_NE(error_of([&] { Artifact::open(file, {.verify_all = true}); }), "");
}

TEST_F(ArtifactTest, ConcurrentFirstAccessIsSafe) {
  const Artifact a = Artifact::from_bytes(sample_writer().serialize(), "t.rmx");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      if (a.section("weights").size() == 5000 && a.section("plan").size() == 300) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 4);
}

TEST_F(ArtifactTest, IncompatibleTargetNamesEveryDifferingFieldWithBothSides) {
  const Artifact a = Artifact::from_bytes(sample_writer().serialize(), "m.rmx");
  a.check_compatible(target());
  Fingerprint here = target();
  here.plugin_version = "0.2.0";
  here.device_arch = "x86_64 avx512";
  try {
    a.check_compatible(here);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(msg.find("m.rmx"), std::string::npos) << msg;
    EXPECT_NE(msg.find("plugin version: artifact '0.1.0', this device '0.2.0'"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("device arch: artifact 'x86_64 avx2', this device 'x86_64 avx512'"),
              std::string::npos)
        << msg;
    EXPECT_EQ(msg.find("device name"), std::string::npos) << msg;  // equal fields are not listed
  }
}

TEST_F(ArtifactTest, FingerprintOfTheCpuDevice) {
  const Device cpu = Runtime::get().device("cpu");
  const Fingerprint f = fingerprint_of(cpu);
  EXPECT_EQ(f.plugin_name, "cpu");
  EXPECT_FALSE(f.plugin_version.empty());
  EXPECT_EQ(f.device_arch, std::string(cpu.info().arch));
  EXPECT_EQ(f.device_name, std::string(cpu.info().name));
  EXPECT_EQ(fingerprint_of(cpu), f);  // nothing volatile (memory figures stay out)
  EXPECT_FALSE(compiler_version().empty());
  EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(compiler_version()[0])));
}

}  // namespace
}  // namespace rma::compile
