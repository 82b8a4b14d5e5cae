// Kernel binaries in compiled models: a static model compiled for opencl:0
// carries its program binaries in a "kernels.opencl" section, so `rma run`
// on it with an empty kernel cache builds no OpenCL program; and the
// plugin's blob parser turns damage into an Error naming the byte.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "rma/compile/artifact.h"
#include "rma/compile/compiler.h"
#include "rma/error.h"
#include "rma/graph/builder.h"
#include "rma/graph/interpreter.h"
#include "rma/npy.h"

namespace rma::compile {
namespace {

namespace fs = std::filesystem;
using graph::Dim;
using graph::GraphBuilder;
using graph::Var;

Device cpu() { return Runtime::get().device("cpu"); }

std::optional<Device> opencl_device() {
  for (const Device& d : Runtime::get().devices())
    if (d.plugin_name() == "opencl") return d;
  return std::nullopt;
}

Tensor random_f32(const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(numel(s));
  for (float& x : v) x = u(rng);
  return Tensor::from_vector(v, s, DType::kF32, cpu());
}

// x [2, 16] -> layer_norm -> linear [8] -> softmax: static, three programs.
graph::Graph small_model() {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::of(2), Dim::of(16)});
  const Var ln = b.layer_norm(x, b.constant("ln_w", random_f32({16}, 1)),
                              b.constant("ln_b", random_f32({16}, 2)), 1e-5f);
  const Var y =
      b.linear(ln, b.constant("w", random_f32({8, 16}, 3)), b.constant("b", random_f32({8}, 4)));
  b.output(b.softmax(y), "probs");
  return b.build();
}

class KernelBinariesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    opencl_ = opencl_device();
    if (!opencl_) GTEST_SKIP() << "no OpenCL device";
    if (!opencl_->supports_kernel_export()) GTEST_SKIP() << "the plugin exports no kernels";
    char pattern[] = "/tmp/rma_kernel_binaries_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // Compiles small_model() for the OpenCL device (which builds its kernels).
  CompiledModel compile_small() const {
    CompileOptions o;
    o.target = opencl_->name();
    return CompiledModel::compile(small_model(), o);
  }

  std::optional<Device> opencl_;
  std::string dir_;
};

// Runs `command` through the shell; returns its exit code and output.
int run_command(const std::string& command, std::string* out) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(KernelBinariesTest, RmxRunsWithAnEmptyCacheWithoutBuilding) {
  const std::string rma = std::string(RMA_BINARY_DIR) + "/bin/rma";
  if (::access(rma.c_str(), X_OK) != 0) GTEST_SKIP() << rma << " not built";
  const CompiledModel m = compile_small();
  ASSERT_TRUE(m.is_static());
  m.save(path("m.rmx"));
  EXPECT_TRUE(Artifact::open(path("m.rmx")).has_section("kernels.opencl"));

  // The control: the same artifact without the section builds its programs.
  {
    const Artifact full = Artifact::open(path("m.rmx"));
    ArtifactWriter w(full.target(), full.compiler_version(), full.options());
    w.add_section("plan", full.section("plan"));
    w.add_section("weights", full.section("weights"), /*mmap=*/true);
    w.write(path("bare.rmx"));
  }

  const Tensor x = random_f32({2, 16}, 5);
  save_npy(path("x.npy"), x);
  // `rma run` with an empty kernel cache (a fresh folder per run).
  const auto run_rmx = [&](const std::string& model, std::string* out) {
    const std::string cache = path("cache-" + model);
    fs::create_directories(cache);
    return run_command("env RM_CACHE_DIR='" + cache +
                           "' RM_CACHE_ENABLED= POCL_KERNEL_CACHE=0 RM_LOG_LEVEL=debug " + rma +
                           " run '" + path(model) + "' --device " + opencl_->name() +
                           " --input x='" + path("x.npy") + "' --output-dir '" + path("out") + "'",
                       out);
  };
  std::string out;
  ASSERT_EQ(run_rmx("bare.rmx", &out), 0) << out;
  EXPECT_NE(out.find("opencl cache miss"), std::string::npos) << out;
  out.clear();
  ASSERT_EQ(run_rmx("m.rmx", &out), 0) << out;
  EXPECT_EQ(out.find("opencl cache miss"), std::string::npos) << out;
  EXPECT_NE(out.find("opencl cache hit"), std::string::npos) << out;

  const std::vector<float> got = load_npy(path("out/probs.npy")).to_vector<float>();
  const std::vector<float> want =
      graph::specialize_and_run(small_model(), cpu(), {x})[0].to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4f) << "element " << i;
}

// Reloading keeps the section, and the loaded model's device imports it.
TEST_F(KernelBinariesTest, SectionSurvivesLoadAndSave) {
  compile_small().save(path("a.rmx"));
  const CompiledModel loaded = CompiledModel::load(path("a.rmx"), *opencl_);
  loaded.save(path("b.rmx"));
  const Artifact a = Artifact::open(path("a.rmx")), b = Artifact::open(path("b.rmx"));
  EXPECT_TRUE(std::ranges::equal(a.section("kernels.opencl"), b.section("kernels.opencl")));
}

TEST_F(KernelBinariesTest, DamagedBlobIsAnErrorNamingTheByte) {
  compile_small().serialize();  // the first serialization builds the plan's kernels
  const std::vector<uint8_t> blob = opencl_->export_kernels();
  ASSERT_GT(blob.size(), 24u);
  uint32_t entries = 0;
  std::memcpy(&entries, blob.data() + 12, sizeof(entries));  // header: magic, version, count
  ASSERT_GT(entries, 0u);
  opencl_->import_kernels(blob);  // its own blob imports cleanly

  const auto expect_error = [&](std::vector<uint8_t> bytes, const std::string& what) {
    try {
      opencl_->import_kernels(bytes);
      ADD_FAILURE() << what << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("byte "), std::string::npos) << what << ": " << e.what();
    }
  };
  std::vector<uint8_t> bad = blob;
  bad[0] ^= 0xff;
  expect_error(bad, "magic");
  expect_error(std::vector<uint8_t>(blob.begin(), blob.end() - 1), "truncated");
  bad = blob;
  bad.push_back(0);
  expect_error(bad, "trailing byte");
  bad = blob;
  bad.back() ^= 0xff;
  expect_error(bad, "payload byte");
  expect_error({}, "empty");

  // A blob for another device (its name changed) is skipped, not an error.
  bad = blob;
  bad[24] ^= 0x01;  // the device name's first byte, after the 24-byte header
  EXPECT_NO_THROW(opencl_->import_kernels(bad));
}

}  // namespace
}  // namespace rma::compile
