// The compile cache: keys, configuration from the environment, the local
// folder (round trip, lifetime rules, corrupt entries, concurrent processes,
// kill -9 during a write), Redis against a private redis-server (a hit
// across processes, expiry, lifetime 0, fallback when it dies), and the
// `rma cache` command line.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "rma/compile/cache.h"
#include "rma/compile/sha256.h"
#include "rma/error.h"

extern char** environ;

namespace rma::compile {
namespace {

namespace fs = std::filesystem;
using Meta = std::map<std::string, std::string>;

// A payload a reader can check on its own: the writer's id in 8 bytes, then
// a pattern derived from it. A torn or mixed entry fails the check.
std::vector<uint8_t> payload_of(uint64_t id, size_t size) {
  std::vector<uint8_t> p(size);
  for (size_t i = 0; i < 8 && i < size; ++i) p[i] = uint8_t(id >> (8 * i));
  for (size_t i = 8; i < size; ++i) p[i] = uint8_t(id * 131 + i * 7 + (i >> 9));
  return p;
}

bool is_whole_payload(const std::vector<uint8_t>& p, size_t size) {
  if (p.size() != size || size < 8) return false;
  uint64_t id = 0;
  for (size_t i = 0; i < 8; ++i) id |= uint64_t(p[i]) << (8 * i);
  return p == payload_of(id, size);
}

std::string key_for(const std::string& name) { return to_hex(sha256(name)); }

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// ------------------------------------------------------------ child processes
// The multi-process tests run rma_tests again with RMA_CACHE_TEST_CHILD set;
// such a run does its part here, during static initialization, and exits
// before GoogleTest starts. The cache comes from the RM_CACHE_* variables.
int run_child(const std::string& role) {
  CompileCache cache;
  const std::string key = std::getenv("RMA_CHILD_KEY");
  const size_t size = std::stoul(std::getenv("RMA_CHILD_SIZE"));
  const uint64_t id = std::stoull(std::getenv("RMA_CHILD_ID"));
  if (role == "hammer") {  // write and read one key, racing the others
    for (int i = 0; i < 20; ++i) {
      if (!cache.put(key, payload_of(id, size))) return 2;
      const auto got = cache.get(key);
      if (got && !is_whole_payload(*got, size)) return 1;
    }
    return 0;
  }
  if (role == "writer") {  // writes until killed
    for (uint64_t i = 0;; ++i) cache.put(key, payload_of(id + i, size));
  }
  if (role == "get") {
    const auto got = cache.get(key);
    if (!got) return 3;
    return *got == payload_of(id, size) ? 0 : 4;
  }
  return 5;
}

[[maybe_unused]] const bool kChildRan = [] {
  const char* role = std::getenv("RMA_CACHE_TEST_CHILD");
  if (!role) return false;
  int code = 6;
  try {
    code = run_child(role);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cache test child: %s\n", e.what());
  }
  std::fflush(nullptr);
  std::_Exit(code);
}();

// Starts rma_tests as a child with the caller's environment minus RM_CACHE_*,
// plus `vars`.
pid_t spawn_child(const std::map<std::string, std::string>& vars) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::string(*e).rfind("RM_CACHE_", 0) != 0) env.emplace_back(*e);
  for (const auto& [k, v] : vars) env.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  char exe[] = "/proc/self/exe";
  char filter[] = "--gtest_filter=-*";
  char* argv[] = {exe, filter, nullptr};
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, exe, nullptr, nullptr, argv, envp.data()), 0);
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Saves the RM_CACHE_* variables, clears them, and restores them at the end.
class CacheEnvironment {
 public:
  CacheEnvironment() {
    for (const char* var : kVars) {
      if (const char* v = std::getenv(var)) saved_[var] = v;
      unsetenv(var);
    }
  }
  ~CacheEnvironment() {
    for (const char* var : kVars) {
      unsetenv(var);
      if (saved_.count(var)) setenv(var, saved_[var].c_str(), 1);
    }
  }

 private:
  static constexpr const char* kVars[] = {"RM_CACHE_ENABLED", "RM_CACHE_DIR", "RM_CACHE_STORE_URL",
                                          "RM_CACHE_LIFETIME"};
  std::map<std::string, std::string> saved_;
};

class CompileCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/rma_cache_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }

  CacheConfig local_config(int64_t lifetime = kDefaultCacheLifetimeSeconds) const {
    CacheConfig c;
    c.local_dir = root_ + "/compiler";
    c.lifetime_seconds = lifetime;
    return c;
  }
  std::string entry_path(const std::string& key) const {
    return root_ + "/compiler/" + key + ".rmc";
  }
  std::vector<std::string> files_in(const std::string& dir) const {
    std::vector<std::string> names;
    if (fs::exists(dir))
      for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  CacheEnvironment env_;
  std::string root_;
};

// ------------------------------------------------------------ keys
TEST(CompileCacheKey, CoversEveryInputAndNothingElse) {
  const Fingerprint target{"cpu", "0.1.0", "n/a", "CPU", "Vendor", "x86_64 avx2"};
  const std::string model = key_for("model bytes");
  const Meta options = {{"batch_size", "1"}, {"opt_level", "2"}};
  const std::string key = CompileCache::key(model, target, options, "0.1.0+gabc");
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key, CompileCache::key(model, target, options, "0.1.0+gabc"));  // stable
  std::string upper = model;
  for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(key, CompileCache::key(upper, target, options, "0.1.0+gabc"));

  std::vector<std::string> variants = {
      CompileCache::key(key_for("other model"), target, options, "0.1.0+gabc"),
      CompileCache::key(model, target, options, "0.1.0+gdef"),
      CompileCache::key(model, target, {{"batch_size", "1"}, {"opt_level", "3"}}, "0.1.0+gabc"),
      CompileCache::key(model, target, {{"batch_size", "1"}}, "0.1.0+gabc"),
      CompileCache::key(model, target, {{"batch_size", "1"}, {"opt_level2", ""}}, "0.1.0+gabc"),
      // Field boundaries matter: ("opt_level", "2") is not ("opt_leve", "l2").
      CompileCache::key(model, target, {{"batch_size", "1"}, {"opt_leve", "l2"}}, "0.1.0+gabc"),
  };
  for (size_t field = 0; field < 6; ++field) {
    Fingerprint other = target;
    std::string* values[] = {&other.plugin_name, &other.plugin_version, &other.driver_version,
                             &other.device_name, &other.device_vendor,  &other.device_arch};
    *values[field] += "x";
    variants.push_back(CompileCache::key(model, other, options, "0.1.0+gabc"));
  }
  for (size_t i = 0; i < variants.size(); ++i) EXPECT_NE(variants[i], key) << "variant " << i;
  EXPECT_THROW(CompileCache::key("not a digest", target, options, "v"), Error);
}

// ------------------------------------------------------------ configuration
TEST_F(CompileCacheTest, ConfigurationFromTheEnvironment) {
  setenv("RM_CACHE_DIR", (root_ + "/root").c_str(), 1);
  CacheConfig c = CacheConfig::from_environment();
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.local_dir, root_ + "/root/compiler");
  EXPECT_EQ(c.redis_url, "");
  EXPECT_EQ(c.lifetime_seconds, 259200);

  Config code;
  code.cache_dir = "/from/code";
  unsetenv("RM_CACHE_DIR");
  EXPECT_EQ(CacheConfig::from_environment(code).local_dir, "/from/code/compiler");

  setenv("RM_CACHE_ENABLED", "0", 1);
  setenv("RM_CACHE_LIFETIME", "-1", 1);
  setenv("RM_CACHE_STORE_URL", (root_ + "/shared").c_str(), 1);
  c = CacheConfig::from_environment();
  EXPECT_FALSE(c.enabled);
  EXPECT_TRUE(c.read_only());
  EXPECT_EQ(c.local_dir, root_ + "/shared");  // a folder named by the URL holds entries itself

  setenv("RM_CACHE_STORE_URL", "redis://:pw@cache.example:6380/2", 1);
  EXPECT_EQ(CacheConfig::from_environment().redis_url, "redis://:pw@cache.example:6380/2");
}

TEST_F(CompileCacheTest, MalformedSettingsAreErrorsNamingTheVariable) {
  const std::pair<const char*, const char*> bad[] = {
      {"RM_CACHE_ENABLED", "maybe"},
      {"RM_CACHE_LIFETIME", "3 days"},
      {"RM_CACHE_STORE_URL", "redis://host:99999"},
      {"RM_CACHE_STORE_URL", "redis://host:6379/zero"},
      {"RM_CACHE_STORE_URL", "redis://password@host"},
      {"RM_CACHE_STORE_URL", "redis://"},
      {"RM_CACHE_STORE_URL", "memcached://host:11211"},
  };
  for (const auto& [var, value] : bad) {
    setenv(var, value, 1);
    try {
      CacheConfig::from_environment();
      ADD_FAILURE() << var << "=" << value << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(var), std::string::npos) << e.what();
    }
    unsetenv(var);
  }
}

// ------------------------------------------------------------ local folder
TEST_F(CompileCacheTest, PutThenGetAndListAndCount) {
  CompileCache cache(local_config());
  const std::string key = key_for("a");
  EXPECT_FALSE(cache.get(key));
  const auto payload = payload_of(7, 1000);
  ASSERT_TRUE(cache.put(key, payload, {{"model", "tiny.onnx"}, {"target", "cpu"}}));
  EXPECT_EQ(cache.get(key), payload);
  EXPECT_EQ(files_in(root_ + "/compiler"), (std::vector<std::string>{key + ".rmc", "counters"}));

  const auto entries = cache.ls();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].key, key);
  EXPECT_EQ(entries[0].store, "local");
  EXPECT_EQ(entries[0].location, entry_path(key));
  EXPECT_EQ(entries[0].size, 1000u);
  EXPECT_GT(entries[0].stored_bytes, 1000u);
  EXPECT_LE(entries[0].age_seconds, 60);
  EXPECT_FALSE(entries[0].expired);
  EXPECT_EQ(entries[0].meta.at("model"), "tiny.onnx");
  EXPECT_EQ(entries[0].problem, "");

  const CacheStats stats = cache.stat();
  ASSERT_EQ(stats.stores.size(), 1u);
  EXPECT_EQ(stats.stores[0].entries, 1u);
  EXPECT_EQ(stats.stores[0].bytes, entries[0].stored_bytes);
  EXPECT_EQ(stats.stores[0].hits, 1u);  // persistent: another CompileCache sees them
  EXPECT_EQ(stats.stores[0].misses, 1u);
  EXPECT_EQ(stats.session_hits, 1u);
  EXPECT_EQ(CompileCache(local_config()).stat().stores[0].hits, 1u);

  EXPECT_EQ(cache.verify().checked, 1u);
  EXPECT_EQ(cache.clear(), 1u);
  EXPECT_TRUE(cache.ls().empty());
  EXPECT_EQ(cache.stat().stores[0].hits, 0u);
  EXPECT_THROW(cache.get("ABC"), Error);
  EXPECT_THROW(cache.put(std::string(64, 'G'), payload), Error);
}

// A local hit is the mapped entry: the payload in place, 64-byte aligned
// (an .rmx's weights are used from it), alive as long as the view is.
TEST_F(CompileCacheTest, GetViewMapsTheEntryInPlace) {
  CompileCache cache(local_config());
  const std::string key = key_for("view");
  const auto payload = payload_of(3, 100000);
  ASSERT_TRUE(cache.put(key, payload, {{"model", "a-name-of-odd-length.onnx"}}));
  std::optional<CacheView> view = cache.get_view(key);
  ASSERT_TRUE(view);
  EXPECT_TRUE(
      std::equal(view->payload.begin(), view->payload.end(), payload.begin(), payload.end()));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(view->payload.data()) % 64, 0u);
  // Removing the entry file leaves the mapping readable.
  cache.clear();
  EXPECT_FALSE(cache.get_view(key));
  EXPECT_EQ(view->payload[0], payload[0]);
  EXPECT_EQ(view->payload.back(), payload.back());
}

// A model's digest is remembered by the file's identity: the same answer
// without hashing again, and a changed file (or a damaged memo) hashes anew.
TEST_F(CompileCacheTest, FileDigestIsRememberedUntilTheFileChanges) {
  CompileCache cache(local_config());
  const std::string model = root_ + "/model.onnx";
  std::ofstream(model, std::ios::binary) << "first version";
  const std::string first = cache.file_digest(model);
  EXPECT_EQ(first, to_hex(sha256_file(model)));
  const std::vector<std::string> memos = files_in(root_ + "/compiler/digests");
  ASSERT_EQ(memos.size(), 1u);
  EXPECT_EQ(cache.file_digest(model), first);
  // The memo is what answers: a forged digest for the same identity is
  // served (so an unchanged file is never read), ...
  const std::string memo = root_ + "/compiler/digests/" + memos[0];
  std::string line;
  std::getline(std::ifstream(memo), line);
  const std::string forged = std::string(64, 'a');
  std::ofstream(memo) << line.substr(0, line.size() - 64) << forged << "\n";
  EXPECT_EQ(cache.file_digest(model), forged);
  // ... but any change to the file hashes it again.
  std::ofstream(model, std::ios::binary | std::ios::app) << " and more";
  const std::string second = cache.file_digest(model);
  EXPECT_EQ(second, to_hex(sha256_file(model)));
  EXPECT_NE(second, first);
  // A damaged memo is ignored.
  std::ofstream(memo) << "garbage\n";
  EXPECT_EQ(cache.file_digest(model), second);
  // Clearing the cache forgets the digests; a missing file is an error.
  cache.clear();
  EXPECT_FALSE(fs::exists(root_ + "/compiler/digests"));
  EXPECT_THROW(cache.file_digest(root_ + "/missing.onnx"), Error);
  // With the cache off nothing is written.
  CacheConfig off = local_config();
  off.enabled = false;
  EXPECT_EQ(CompileCache(off).file_digest(model), second);
  EXPECT_FALSE(fs::exists(root_ + "/compiler/digests"));
}

TEST_F(CompileCacheTest, GetOrCompileCompilesOnceAndLogs) {
  CompileCache cache(local_config());
  const std::string key = key_for("b");
  int compiles = 0;
  auto compile = [&] {
    ++compiles;
    return payload_of(3, 500);
  };
  testing::internal::CaptureStderr();
  EXPECT_EQ(cache.get_or_compile(key, compile), payload_of(3, 500));
  EXPECT_EQ(cache.get_or_compile(key, compile), payload_of(3, 500));
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(compiles, 1);
  EXPECT_NE(log.find("compile cache miss (key " + key.substr(0, 12)), std::string::npos) << log;
  EXPECT_NE(log.find("compiled in "), std::string::npos) << log;
  EXPECT_NE(log.find("compile cache hit (key " + key.substr(0, 12)), std::string::npos) << log;

  // A failing compile propagates and stores nothing.
  const std::string other = key_for("c");
  EXPECT_THROW(cache.get_or_compile(other,
                                    []() -> std::vector<uint8_t> {
                                      throw Error(ErrorCode::kUnsupported, "no such op");
                                    }),
               Error);
  EXPECT_FALSE(fs::exists(entry_path(other)));
}

TEST_F(CompileCacheTest, DisabledCacheNeitherReadsNorWrites) {
  CacheConfig c = local_config();
  CompileCache(c).put(key_for("d"), payload_of(1, 100));
  c.enabled = false;
  CompileCache cache(c);
  EXPECT_FALSE(cache.get(key_for("d")));
  EXPECT_FALSE(cache.put(key_for("e"), payload_of(1, 100)));
  int compiles = 0;
  cache.get_or_compile(key_for("d"), [&] {
    ++compiles;
    return payload_of(2, 10);
  });
  EXPECT_EQ(compiles, 1);
  EXPECT_FALSE(fs::exists(entry_path(key_for("e"))));
}

TEST_F(CompileCacheTest, LifetimeRules) {
  const std::string key = key_for("f");
  CompileCache(local_config()).put(key, payload_of(1, 100));
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));  // the entry is now 2 s old

  // N > 0: older than N is a miss, listed as expired, replaced by put.
  CompileCache short_lived(local_config(1));
  EXPECT_FALSE(short_lived.get(key));
  ASSERT_EQ(short_lived.ls().size(), 1u);
  EXPECT_TRUE(short_lived.ls()[0].expired);
  EXPECT_EQ(CompileCache(local_config(100)).get(key), payload_of(1, 100));
  EXPECT_EQ(short_lived.clear(/*expired_only=*/true), 1u);
  EXPECT_FALSE(fs::exists(entry_path(key)));
  ASSERT_TRUE(short_lived.put(key, payload_of(2, 100)));
  EXPECT_EQ(short_lived.get(key), payload_of(2, 100));

  // 0: always a miss; put still replaces.
  CompileCache always(local_config(0));
  EXPECT_FALSE(always.get(key));
  ASSERT_TRUE(always.put(key, payload_of(3, 100)));
  EXPECT_FALSE(always.get(key));
  EXPECT_EQ(CompileCache(local_config()).get(key), payload_of(3, 100));

  // N < 0: never expires, read-only: put is refused with one info line.
  CompileCache read_only(local_config(-1));
  EXPECT_EQ(read_only.get(key), payload_of(3, 100));
  testing::internal::CaptureStderr();
  EXPECT_FALSE(read_only.put(key, payload_of(4, 100)));
  EXPECT_FALSE(read_only.put(key_for("g"), payload_of(4, 100)));
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_LE(count_of(log, "read-only"), 1u) << log;
  EXPECT_EQ(read_only.get(key), payload_of(3, 100));
  EXPECT_FALSE(fs::exists(entry_path(key_for("g"))));
}

// Each kind of damage: reported naming the file, removed, a miss.
TEST_F(CompileCacheTest, CorruptEntriesAreReportedRemovedAndNeverServed) {
  CompileCache cache(local_config());
  const std::string key = key_for("h");
  const std::string path = entry_path(key);
  using Damage = std::function<void(std::vector<uint8_t>&)>;
  const std::vector<std::pair<std::string, Damage>> damages = {
      {"magic", [](auto& b) { b[0] ^= 1; }},
      {"created time", [](auto& b) { b[17] ^= 1; }},
      {"payload size", [](auto& b) { b[24] ^= 1; }},
      {"checksum", [](auto& b) { b[70] ^= 1; }},
      {"metadata", [](auto& b) { b[100] ^= 1; }},
      {"payload", [](auto& b) { b[b.size() / 2] ^= 0x40; }},
      {"last byte", [](auto& b) { b.back() ^= 1; }},
      {"truncated", [](auto& b) { b.resize(b.size() - 1); }},
      {"truncated header", [](auto& b) { b.resize(50); }},
      {"empty", [](auto& b) { b.clear(); }},
      {"appended", [](auto& b) { b.push_back(0); }},
      {"another key's entry", [](auto& b) { b[40] ^= 1; }},  // inside the stored key
  };
  for (const auto& [what, damage] : damages) {
    ASSERT_TRUE(cache.put(key, payload_of(5, 4000), {{"model", "m"}}));
    std::vector<uint8_t> bytes;
    {
      std::ifstream in(path, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    damage(bytes);
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    }
    testing::internal::CaptureStderr();
    const auto got = cache.get(key);
    const std::string log = testing::internal::GetCapturedStderr();
    EXPECT_FALSE(got) << what << " was served";
    EXPECT_NE(log.find("corrupt entry " + path), std::string::npos) << what << ": " << log;
    EXPECT_FALSE(fs::exists(path)) << what << ": not removed";
  }
  // verify() finds and removes corrupt entries too.
  ASSERT_TRUE(cache.put(key, payload_of(5, 4000)));
  ASSERT_TRUE(cache.put(key_for("i"), payload_of(6, 10)));
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(200);
    f.put('\x7f');
  }
  testing::internal::CaptureStderr();
  const CacheVerifyReport report = cache.verify();
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(report.checked, 2u);
  ASSERT_EQ(report.bad.size(), 1u);
  EXPECT_EQ(report.bad[0].first, path);
  EXPECT_NE(report.bad[0].second.find("checksum"), std::string::npos) << report.bad[0].second;
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(CompileCacheTest, ConcurrentProcessesWritingAndReadingOneKey) {
  const std::string key = key_for("j");
  const size_t size = 256 << 10;
  std::vector<pid_t> children;
  for (int id = 1; id <= 4; ++id)
    children.push_back(spawn_child({{"RMA_CACHE_TEST_CHILD", "hammer"},
                                    {"RM_CACHE_DIR", root_},
                                    {"RMA_CHILD_KEY", key},
                                    {"RMA_CHILD_SIZE", std::to_string(size)},
                                    {"RMA_CHILD_ID", std::to_string(id)}}));
  for (pid_t pid : children) EXPECT_EQ(wait_for(pid), 0) << "a child saw a torn or foreign entry";
  CompileCache cache(local_config());
  const auto got = cache.get(key);
  ASSERT_TRUE(got);
  EXPECT_TRUE(is_whole_payload(*got, size));
  EXPECT_TRUE(cache.verify().bad.empty());
  EXPECT_EQ(cache.stat().stores[0].hits + cache.stat().stores[0].misses, 4u * 20 + 1);
  for (const std::string& name : files_in(root_ + "/compiler"))
    EXPECT_TRUE(name == key + ".rmc" || name == "counters") << "left behind: " << name;
}

// The writer is killed as soon as its temp file appears, so the kill lands
// in the middle of replacing an entry: the old entry (or, if the rename won
// the race, the new one) is served whole; the temp file never is.
TEST_F(CompileCacheTest, KillNineDuringWritesNeverLeavesAServedBadEntry) {
  const std::string key = key_for("k");
  const std::string dir = root_ + "/compiler";
  const size_t size = 8 << 20;
  CompileCache cache(local_config());
  auto temp_files = [&] {
    std::vector<std::string> temps;
    for (const std::string& name : files_in(dir))
      if (name[0] == '.' && name.find(".tmp.") != std::string::npos) temps.push_back(name);
    return temps;
  };
  ASSERT_TRUE(cache.put(key, payload_of(77, size)));
  int killed_mid_write = 0;
  for (int round = 0; round < 4; ++round) {
    const size_t temps_before = temp_files().size();
    const pid_t pid = spawn_child({{"RMA_CACHE_TEST_CHILD", "writer"},
                                   {"RM_CACHE_DIR", root_},
                                   {"RMA_CHILD_KEY", key},
                                   {"RMA_CHILD_SIZE", std::to_string(size)},
                                   {"RMA_CHILD_ID", std::to_string(round * 1000)}});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (temp_files().size() == temps_before && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    ::kill(pid, SIGKILL);
    EXPECT_EQ(wait_for(pid), 128 + SIGKILL);
    if (temp_files().size() > temps_before) ++killed_mid_write;

    const auto got = cache.get(key);
    ASSERT_TRUE(got);
    EXPECT_TRUE(is_whole_payload(*got, size));
    EXPECT_TRUE(cache.verify().bad.empty());
    EXPECT_EQ(cache.ls().size(), 1u);  // temp files are never listed
  }
  EXPECT_GT(killed_mid_write, 0) << "no kill landed during a write";
}

// ------------------------------------------------------------ Redis
std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool port_accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(uint16_t(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// A private redis-server on a free loopback port, data in `dir`, no disk
// persistence; killed at the end.
class RedisServer {
 public:
  RedisServer(const std::string& dir, const std::string& password = "") : password_(password) {
    port_ = free_port();
    std::vector<std::string> args = {find_program("redis-server"),
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--dir",
                                     dir,
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--logfile",
                                     dir + "/redis.log"};
    if (!password.empty()) {
      args.push_back("--requirepass");
      args.push_back(password);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
    for (int i = 0; i < 200 && pid_ > 0 && !port_accepts(port_); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ~RedisServer() { kill(); }

  bool running() const { return pid_ > 0 && port_accepts(port_); }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    wait_for(pid_);
    pid_ = -1;
  }
  std::string url(int db = 0) const {
    return "redis://" + (password_.empty() ? "" : ":" + password_ + "@") +
           "127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
  }
  int port() const { return port_; }
  // redis-cli's output for `args` (db 0).
  std::string cli(const std::string& args) const {
    const std::string command = "redis-cli -p " + std::to_string(port_) +
                                (password_.empty() ? "" : " --no-auth-warning -a " + password_) +
                                " " + args + " 2>&1";
    std::string out;
    if (FILE* p = ::popen(command.c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
      ::pclose(p);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }

 private:
  std::string password_;
  int port_ = 0;
  pid_t pid_ = -1;
};

class CompileCacheRedisTest : public CompileCacheTest {
 protected:
  void SetUp() override {
    CompileCacheTest::SetUp();
    if (!redis_supported()) GTEST_SKIP() << "built without hiredis: Redis tests skipped";
    if (find_program("redis-server").empty() || find_program("redis-cli").empty())
      GTEST_SKIP() << "redis-server/redis-cli not found: Redis tests skipped "
                      "(apt-get install redis-server)";
    server_ = std::make_unique<RedisServer>(root_);
    ASSERT_TRUE(server_->running()) << "redis-server did not start; see " << root_ << "/redis.log";
  }
  void TearDown() override {
    server_.reset();
    CompileCacheTest::TearDown();
  }
  CacheConfig redis_config(int64_t lifetime = kDefaultCacheLifetimeSeconds) const {
    CacheConfig c = local_config(lifetime);
    c.redis_url = server_->url();
    return c;
  }

  std::unique_ptr<RedisServer> server_;
};

TEST_F(CompileCacheRedisTest, HitAcrossTwoProcessesFromRedisNotTheFolder) {
  const std::string key = key_for("redis-a");
  CompileCache cache(redis_config());
  EXPECT_FALSE(cache.get(key));
  ASSERT_TRUE(cache.put(key, payload_of(9, 5000), {{"model", "m.onnx"}}));
  EXPECT_EQ(server_->cli("EXISTS rma:compile:entry:" + key), "1");
  EXPECT_FALSE(fs::exists(entry_path(key)));  // Redis holds it, not the local folder

  // Another process, with a local folder of its own.
  const pid_t pid = spawn_child({{"RMA_CACHE_TEST_CHILD", "get"},
                                 {"RM_CACHE_DIR", root_ + "/other"},
                                 {"RM_CACHE_STORE_URL", server_->url()},
                                 {"RMA_CHILD_KEY", key},
                                 {"RMA_CHILD_SIZE", "5000"},
                                 {"RMA_CHILD_ID", "9"}});
  EXPECT_EQ(wait_for(pid), 0) << "3: a miss, 4: wrong bytes";
  EXPECT_FALSE(fs::exists(root_ + "/other/compiler/" + key + ".rmc"));

  const auto entries = cache.ls();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].store, "redis");
  EXPECT_EQ(entries[0].size, 5000u);
  EXPECT_EQ(entries[0].meta.at("model"), "m.onnx");
  const CacheStats stats = cache.stat();
  ASSERT_EQ(stats.stores.size(), 2u);
  EXPECT_EQ(stats.stores[1].store, "redis");
  EXPECT_EQ(stats.stores[1].entries, 1u);
  EXPECT_EQ(stats.stores[1].hits, 1u);  // the child's
  EXPECT_EQ(stats.stores[1].misses, 1u);
  EXPECT_EQ(cache.verify().checked, 1u);
  EXPECT_EQ(cache.clear(), 1u);
  EXPECT_EQ(server_->cli("EXISTS rma:compile:entry:" + key), "0");
}

TEST_F(CompileCacheRedisTest, LifetimeExpiryZeroAndReadOnly) {
  const std::string key = key_for("redis-b");
  CompileCache short_lived(redis_config(1));
  ASSERT_TRUE(short_lived.put(key, payload_of(1, 100)));
  const int ttl = std::atoi(server_->cli("TTL rma:compile:entry:" + key).c_str());
  EXPECT_TRUE(ttl == 0 || ttl == 1) << "TTL " << ttl;
  EXPECT_EQ(short_lived.get(key), payload_of(1, 100));
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  EXPECT_FALSE(short_lived.get(key));

  CompileCache always(redis_config(0));
  ASSERT_TRUE(always.put(key, payload_of(2, 100)));
  EXPECT_EQ(server_->cli("TTL rma:compile:entry:" + key), "-1");  // no EXPIRE for 0
  EXPECT_FALSE(always.get(key));
  ASSERT_TRUE(always.put(key, payload_of(3, 100)));
  EXPECT_EQ(CompileCache(redis_config()).get(key), payload_of(3, 100));

  CompileCache read_only(redis_config(-1));
  EXPECT_EQ(read_only.get(key), payload_of(3, 100));
  EXPECT_FALSE(read_only.put(key, payload_of(4, 100)));
  EXPECT_EQ(read_only.get(key), payload_of(3, 100));
}

TEST_F(CompileCacheRedisTest, CorruptValueIsRemovedNotServed) {
  const std::string key = key_for("redis-c");
  CompileCache cache(redis_config());
  ASSERT_TRUE(cache.put(key, payload_of(1, 100)));
  server_->cli("SETRANGE rma:compile:entry:" + key + " 150 X");
  testing::internal::CaptureStderr();
  EXPECT_FALSE(cache.get(key));
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("corrupt entry redis://127.0.0.1:" + std::to_string(server_->port())),
            std::string::npos)
      << log;
  EXPECT_EQ(server_->cli("EXISTS rma:compile:entry:" + key), "0");
  server_->cli("SET rma:compile:entry:" + key + " garbage");
  testing::internal::CaptureStderr();
  const CacheVerifyReport report = cache.verify();
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(report.bad.size(), 1u);
}

TEST_F(CompileCacheRedisTest, KilledMidRunFallsBackToTheFolderWithOneWarning) {
  CompileCache cache(redis_config());
  const std::string before = key_for("redis-d");
  ASSERT_TRUE(cache.put(before, payload_of(1, 100)));
  EXPECT_EQ(cache.get(before), payload_of(1, 100));
  server_->kill();

  testing::internal::CaptureStderr();
  const std::string key = key_for("redis-e");
  int compiles = 0;
  auto compile = [&] {
    ++compiles;
    return payload_of(2, 300);
  };
  EXPECT_EQ(cache.get_or_compile(key, compile), payload_of(2, 300));  // no failed compile
  EXPECT_EQ(cache.get_or_compile(key, compile), payload_of(2, 300));  // the folder serves
  EXPECT_FALSE(cache.get(before));
  cache.stat();
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(compiles, 1);
  EXPECT_TRUE(fs::exists(entry_path(key)));
  EXPECT_EQ(count_of(log, "is unavailable"), 1u) << log;
  EXPECT_NE(log.find("the local folder " + root_ + "/compiler serves instead"), std::string::npos)
      << log;
}

TEST_F(CompileCacheRedisTest, UnreachableFromTheStartOneWarningAndTheFolderServes) {
  CacheConfig c = local_config();
  c.redis_url = "redis://127.0.0.1:" + std::to_string(free_port());
  CompileCache cache(c);
  testing::internal::CaptureStderr();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(cache.get(key_for("x")));
  EXPECT_TRUE(cache.put(key_for("x"), payload_of(1, 10)));
  EXPECT_EQ(cache.get(key_for("x")), payload_of(1, 10));
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(count_of(log, "is unavailable"), 1u) << log;
  const CacheStats stats = cache.stat();
  ASSERT_EQ(stats.stores.size(), 2u);
  EXPECT_FALSE(stats.stores[1].available);
  EXPECT_NE(stats.stores[1].unavailable_reason.find("connect"), std::string::npos);
}

TEST_F(CompileCacheRedisTest, PasswordAndDatabaseFromTheUrl) {
  server_.reset();
  server_ = std::make_unique<RedisServer>(root_, "pw-zebra42");
  ASSERT_TRUE(server_->running());
  CacheConfig c = local_config();
  c.redis_url = server_->url(3);
  CompileCache cache(c);
  const std::string key = key_for("redis-f");
  ASSERT_TRUE(cache.put(key, payload_of(4, 64)));
  EXPECT_EQ(cache.get(key), payload_of(4, 64));
  EXPECT_EQ(server_->cli("-n 3 EXISTS rma:compile:entry:" + key), "1");
  EXPECT_EQ(server_->cli("EXISTS rma:compile:entry:" + key), "0");  // not db 0

  c.redis_url = "redis://:not-zebra@127.0.0.1:" + std::to_string(server_->port());
  CompileCache wrong(c);
  testing::internal::CaptureStderr();
  EXPECT_FALSE(wrong.get(key));
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("is unavailable (AUTH failed"), std::string::npos) << log;
  EXPECT_EQ(log.find("zebra"), std::string::npos) << "the password leaked: " << log;
}

// ------------------------------------------------------------ rma cache
struct CliResult {
  int code;
  std::string out;
};

class CompileCacheCliTest : public CompileCacheTest {
 protected:
  void SetUp() override {
    CompileCacheTest::SetUp();
    rma_ = std::string(RMA_BINARY_DIR) + "/bin/rma";
    if (::access(rma_.c_str(), X_OK) != 0) GTEST_SKIP() << rma_ << " not built";
  }
  CliResult rma(const std::string& args, const std::string& env = "") const {
    const std::string command =
        "env RM_CACHE_DIR='" + root_ +
        "' RM_CACHE_STORE_URL= RM_CACHE_ENABLED= RM_CACHE_LIFETIME= " + env + " " + rma_ + " " +
        args + " 2>&1";
    CliResult r{-1, ""};
    if (FILE* p = ::popen(command.c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
      const int status = ::pclose(p);
      r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    return r;
  }
  std::string rma_;
};

TEST_F(CompileCacheCliTest, LsStatVerifyClear) {
  CompileCache cache(local_config());
  const std::string a = key_for("cli-a"), b = key_for("cli-b");
  ASSERT_TRUE(cache.put(a, payload_of(1, 2048), {{"model", "a.onnx"}}));
  ASSERT_TRUE(cache.put(b, payload_of(2, 10)));
  cache.get(a);

  CliResult r = rma("cache ls");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(a.substr(0, 16)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model=a.onnx"), std::string::npos) << r.out;

  r = rma("cache ls --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto ls = nlohmann::json::parse(r.out);
  ASSERT_EQ(ls["entries"].size(), 2u);
  EXPECT_EQ(ls["entries"][0]["key"], std::min(a, b));
  EXPECT_EQ(ls["entries"][0]["store"], "local");

  r = rma("cache stat --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto stat = nlohmann::json::parse(r.out);
  EXPECT_EQ(stat["stores"][0]["entries"], 2);
  EXPECT_EQ(stat["stores"][0]["hits"], 1);
  EXPECT_EQ(stat["lifetime_seconds"], 259200);
  r = rma("cache stat", "RM_CACHE_LIFETIME=-5");
  EXPECT_NE(r.out.find("2 entries"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("read-only"), std::string::npos) << r.out;

  EXPECT_EQ(rma("cache verify").out.find("checked 2 entries: all good") != std::string::npos, true);
  {
    std::fstream f(entry_path(b), std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(-1, std::ios::end);
    f.put('\x55');
  }
  r = rma("cache verify");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("corrupt: " + entry_path(b)), std::string::npos) << r.out;

  r = rma("cache clear");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("removed 1 entry"), std::string::npos) << r.out;
  EXPECT_NE(rma("cache ls").out.find("no entries"), std::string::npos);

  r = rma("cache ls", "RM_CACHE_LIFETIME=soon");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("rma: error: RM_CACHE_LIFETIME='soon'"), std::string::npos) << r.out;
  EXPECT_EQ(rma("cache").code, 2);
}

}  // namespace
}  // namespace rma::compile
