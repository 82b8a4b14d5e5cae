// The compiler and compiled models: static and dynamic compiles of an MLP
// and a LayerNorm + attention block, save -> load -> run equal to the
// source graph, zero-copy weights, fingerprint mismatches, damaged plans
// (every byte changed, every cut: an Error, never a crash), reproducible
// bytes and progress stages.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "rma/compile/artifact.h"
#include "rma/compile/compiler.h"
#include "rma/error.h"
#include "rma/graph/builder.h"
#include "rma/graph/executor.h"
#include "rma/graph/interpreter.h"
#include "rma/graph/ir.h"
#include "rma/session.h"
#if defined(RMA_HAVE_ONNX)
#include "rma/graph/onnx.h"
#include "rma_onnx.pb.h"
#endif

namespace rma::compile {
namespace {

namespace fs = std::filesystem;
using graph::Dim;
using graph::Graph;
using graph::GraphBuilder;
using graph::Var;

Device cpu() { return Runtime::get().device("cpu"); }

Tensor random_f32(const Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(numel(s));
  for (float& x : v) x = u(rng);
  return Tensor::from_vector(v, s, DType::kF32, cpu());
}

void expect_close(const std::vector<Tensor>& got, const std::vector<Tensor>& want, float tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].shape(), want[i].shape()) << "output " << i;
    const std::vector<float> g = got[i].to_vector<float>();
    const std::vector<float> w = want[i].to_vector<float>();
    for (size_t k = 0; k < g.size(); ++k)
      ASSERT_NEAR(g[k], w[k], tol * (1 + std::fabs(w[k]))) << "output " << i << " element " << k;
  }
}

// x [batch, 16] -> linear+gelu [32] -> linear [8] -> softmax.
Graph mlp() {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::of(16)});
  const Var h = b.linear(x, b.constant("w1", random_f32({32, 16}, 1)),
                         b.constant("b1", random_f32({32}, 2)), Activation::kGelu);
  const Var y =
      b.linear(h, b.constant("w2", random_f32({8, 32}, 3)), b.constant("b2", random_f32({8}, 4)));
  b.output(b.softmax(y), "probs");
  return b.build();
}

// LayerNorm as exported (mean, sub, pow, mean, add, sqrt, div, mul, add),
// then self-attention over [batch, 8, 16] with 2 heads as exported (matmul
// projections, reshape, transposes, q·kᵀ/√d, softmax, ·v) and a residual:
// the passes fuse it into layer_norm, linears and prefill_attention.
Graph attention_block() {
  const int64_t s = 8, e = 16, h = 2, d = e / h;
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::of(s), Dim::of(e)});
  const Var mean = b.reduce_mean(x, {-1});
  const Var centered = b.sub(x, mean);
  const Var var = b.reduce_mean(b.pow(centered, b.scalar(2)), {-1});
  const Var normed = b.div(centered, b.sqrt(b.add(var, b.scalar(1e-5))));
  const Var ln = b.add(b.mul(normed, b.constant("ln_w", random_f32({e}, 10, 0.5f, 1.5f))),
                       b.constant("ln_b", random_f32({e}, 11)));
  const auto proj = [&](uint32_t seed) {
    const Var p =
        b.add(b.matmul(ln, b.constant("w" + std::to_string(seed), random_f32({e, e}, seed))),
              b.constant("b" + std::to_string(seed), random_f32({e}, seed + 100)));
    return b.transpose(b.reshape(p, {0, 0, h, d}), {0, 2, 1, 3});
  };
  const Var q = proj(20), k = proj(21), v = proj(22);
  const Var scores =
      b.div(b.matmul(q, b.transpose(k, {0, 1, 3, 2})), b.scalar(std::sqrt(double(d))));
  const Var o = b.matmul(b.softmax(scores), v);
  const Var merged = b.reshape(b.transpose(o, {0, 2, 1, 3}), {0, 0, e});
  b.output(b.add(b.matmul(merged, b.constant("wo", random_f32({e, e}, 23))), x), "y");
  return b.build();
}

int count_op(const Graph& g, rma_op op) {
  int n = 0;
  for (const graph::Node& node : g.nodes()) n += node.op == graph::OpKind(op);
  return n;
}

CompileOptions cpu_options() {
  CompileOptions o;
  o.target = "cpu";
  return o;
}

// Runs a compiled model: its plan when static, else specialized for `inputs`.
std::vector<Tensor> run_model(const CompiledModel& m, const std::vector<Tensor>& inputs) {
  if (m.is_static()) return m.build_plan().run(inputs);
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  return graph::Plan::create(m.graph().specialize(shapes), {m.device()}).run(inputs);
}

// The address range of `path`'s mappings in this process.
std::vector<std::pair<uintptr_t, uintptr_t>> mappings_of(const std::string& path) {
  std::vector<std::pair<uintptr_t, uintptr_t>> out;
  std::ifstream maps("/proc/self/maps");
  const std::string canonical = fs::canonical(path).string();
  for (std::string line; std::getline(maps, line);) {
    if (line.size() < canonical.size() ||
        line.compare(line.size() - canonical.size(), canonical.size(), canonical) != 0)
      continue;
    uintptr_t lo = 0, hi = 0;
    std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi);
    out.emplace_back(lo, hi);
  }
  return out;
}

// An artifact with `plan` as its plan section (valid checksums), everything
// else as in `original`.
std::vector<uint8_t> with_plan(const Artifact& original, std::span<const uint8_t> plan) {
  ArtifactWriter w(original.target(), original.compiler_version(), original.options());
  w.add_section("plan", plan);
  w.add_section("weights", original.section("weights"), /*mmap=*/true);
  return w.serialize();
}

class CompilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/rma_compiler_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
};

TEST_F(CompilerTest, StaticMlpRoundTrip) {
  const Graph g = mlp();
  CompileOptions o = cpu_options();
  o.batch_size = 4;
  const CompiledModel m = CompiledModel::compile(g, o);
  ASSERT_TRUE(m.is_static());
  ASSERT_NE(m.placement(), nullptr);
  ASSERT_NE(m.memory_plan(), nullptr);
  EXPECT_EQ(m.graph().value(m.graph().inputs()[0]).shape, graph::sym_shape({4, 16}));
  EXPECT_EQ(m.options().at("batch_size"), "4");
  EXPECT_EQ(m.target(), fingerprint_of(cpu()));

  const std::vector<Tensor> x{random_f32({4, 16}, 99)};
  const std::vector<Tensor> want = graph::specialize_and_run(g, cpu(), x);
  expect_close(run_model(m, x), want, 1e-5f);

  m.save(path("mlp.rmx"));
  const CompiledModel loaded = CompiledModel::load(path("mlp.rmx"), cpu());
  ASSERT_TRUE(loaded.is_static());
  EXPECT_EQ(loaded.options(), m.options());
  EXPECT_EQ(loaded.compiler_version(), compiler_version());
  EXPECT_EQ(loaded.placement()->to_json(), m.placement()->to_json());
  EXPECT_EQ(loaded.memory_plan()->to_json(), m.memory_plan()->to_json());
  EXPECT_EQ(loaded.specialized()->summary(), m.specialized()->summary());
  EXPECT_EQ(loaded.graph().summary(), m.graph().summary());
  expect_close(run_model(loaded, x), want, 1e-5f);

  // The specialized graph shares the weights of the graph after passes.
  const size_t static_weights =
      Artifact::from_bytes(m.serialize(), "s.rmx").section("weights").size();
  const size_t dynamic_weights =
      Artifact::from_bytes(CompiledModel::compile(g, cpu_options()).serialize(), "d.rmx")
          .section("weights")
          .size();
  EXPECT_EQ(static_weights, dynamic_weights);

  // A wrong batch is an Error naming the input.
  try {
    loaded.build_plan().run({random_f32({3, 16}, 5)});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos) << e.what();
  }
}

TEST_F(CompilerTest, DynamicMlpRoundTrip) {
  const Graph g = mlp();
  const CompiledModel m = CompiledModel::compile(g, cpu_options());
  EXPECT_FALSE(m.is_static());
  EXPECT_EQ(m.specialized(), nullptr);
  EXPECT_EQ(m.placement(), nullptr);
  EXPECT_THROW(m.build_plan(), Error);
  const CompiledModel loaded = CompiledModel::from_bytes(m.serialize(), "mlp.rmx", cpu());
  EXPECT_FALSE(loaded.is_static());
  EXPECT_EQ(loaded.graph().value(loaded.graph().inputs()[0]).shape[0], Dim::sym("batch"));
  for (int64_t batch : {1, 3, 7}) {
    const std::vector<Tensor> x{random_f32({batch, 16}, 50 + uint32_t(batch))};
    expect_close(run_model(loaded, x), graph::specialize_and_run(g, cpu(), x), 1e-5f);
  }
}

TEST_F(CompilerTest, AttentionBlockStaticAndDynamic) {
  const Graph g = attention_block();
  const std::vector<Tensor> x2{random_f32({2, 8, 16}, 70)};
  const std::vector<Tensor> x3{random_f32({3, 8, 16}, 71)};

  const CompiledModel dynamic = CompiledModel::compile(g, cpu_options());
  ASSERT_FALSE(dynamic.is_static());
  EXPECT_EQ(count_op(dynamic.graph(), RMA_OP_LAYER_NORM), 1) << dynamic.graph().summary();
  EXPECT_EQ(count_op(dynamic.graph(), RMA_OP_PREFILL_ATTENTION), 1) << dynamic.graph().summary();
  dynamic.save(path("block.rmx"));
  const CompiledModel dynamic_loaded = CompiledModel::load(path("block.rmx"), cpu());
  EXPECT_EQ(dynamic_loaded.graph().summary(), dynamic.graph().summary());
  for (const auto& x : {x2, x3})
    expect_close(run_model(dynamic_loaded, x), graph::specialize_and_run(g, cpu(), x), 1e-4f);

  CompileOptions o = cpu_options();
  o.dims = {{"batch", 2}};
  const CompiledModel fixed = CompiledModel::compile(g, o);
  ASSERT_TRUE(fixed.is_static());
  fixed.save(path("block2.rmx"));
  const CompiledModel fixed_loaded = CompiledModel::load(path("block2.rmx"), cpu());
  ASSERT_TRUE(fixed_loaded.is_static());
  expect_close(run_model(fixed_loaded, x2), graph::specialize_and_run(g, cpu(), x2), 1e-4f);
}

TEST_F(CompilerTest, BadDimsAreErrors) {
  const Graph g = mlp();
  CompileOptions o = cpu_options();
  o.dims = {{"seq", 4}};
  try {
    CompiledModel::compile(g, o);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'seq'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("batch"), std::string::npos) << e.what();
  }
  o.dims = {{"batch", 2}};
  o.batch_size = 3;
  EXPECT_THROW(CompiledModel::compile(g, o), Error);
  o.dims.clear();
  o.batch_size = 0;
  EXPECT_THROW(CompiledModel::compile(g, o), Error);
  o.batch_size.reset();
  o.opt_level = 7;
  EXPECT_THROW(CompiledModel::compile(g, o), Error);
  o.opt_level = 2;
  o.target = "nosuchdevice:3";
  EXPECT_THROW(CompiledModel::compile(g, o), Error);

  // A model whose batch is fixed has nothing for batch_size to bind.
  GraphBuilder b;
  b.output(b.relu(b.input("x", DType::kF32, {Dim::of(1), Dim::of(4)})), "y");
  CompileOptions fixed = cpu_options();
  fixed.batch_size = 8;
  EXPECT_THROW(CompiledModel::compile(b.build(), fixed), Error);
}

TEST_F(CompilerTest, WeightsAreViewsOfTheMapping) {
  CompileOptions o = cpu_options();
  o.batch_size = 2;
  CompiledModel::compile(mlp(), o).save(path("mlp.rmx"));
  std::vector<Tensor> constants;
  {
    const CompiledModel m = CompiledModel::load(path("mlp.rmx"), cpu());
    const auto ranges = mappings_of(path("mlp.rmx"));
    ASSERT_FALSE(ranges.empty());
    int checked = 0;
    for (const Graph* g : {&m.graph(), m.specialized()})
      for (const graph::Value& v : g->values()) {
        if (!v.constant) continue;
        const auto address = reinterpret_cast<uintptr_t>(v.constant->host_data());
        EXPECT_EQ(address % 64, 0u) << v.name;
        bool inside = false;
        for (const auto& [lo, hi] : ranges) inside |= address >= lo && address < hi;
        EXPECT_TRUE(inside) << v.name << " is not a view of the mapped file";
        constants.push_back(*v.constant);
        ++checked;
      }
    EXPECT_GE(checked, 4);
  }
  // The tensors keep the mapping alive after the model is gone.
  EXPECT_FALSE(mappings_of(path("mlp.rmx")).empty());
  const std::vector<float> w1 = constants.front().to_vector<float>();
  EXPECT_FALSE(w1.empty());
  constants.clear();
  EXPECT_TRUE(mappings_of(path("mlp.rmx")).empty());
}

TEST_F(CompilerTest, FingerprintMismatchNamesBothSides) {
  const CompiledModel m = CompiledModel::compile(mlp(), cpu_options());
  const Artifact a = Artifact::from_bytes(m.serialize(), "mlp.rmx");
  Fingerprint other = a.target();
  other.device_arch = "riscv64 rvv";
  other.plugin_version = "9.9.9";
  ArtifactWriter w(other, a.compiler_version(), a.options());
  w.add_section("plan", a.section("plan"));
  w.add_section("weights", a.section("weights"), true);
  try {
    CompiledModel::from_bytes(w.serialize(), "other.rmx", cpu());
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(what.find("other.rmx"), std::string::npos) << what;
    EXPECT_NE(what.find("riscv64 rvv"), std::string::npos) << what;
    EXPECT_NE(what.find(a.target().device_arch), std::string::npos) << what;
    EXPECT_NE(what.find("9.9.9"), std::string::npos) << what;
  }
}

TEST_F(CompilerTest, ReproducibleBytes) {
  CompileOptions o = cpu_options();
  o.batch_size = 2;
  const std::vector<uint8_t> a = CompiledModel::compile(attention_block(), o).serialize();
  const std::vector<uint8_t> b = CompiledModel::compile(attention_block(), o).serialize();
  ASSERT_EQ(a.size(), b.size());
  // Bytes 16-31 hold the creation time and its complement; nothing else may differ.
  for (size_t i = 0; i < a.size(); ++i)
    if (i < 16 || i >= 32) {
      ASSERT_EQ(a[i], b[i]) << "byte " << i;
    }
  // A loaded model saves the same bytes again.
  const std::vector<uint8_t> again = CompiledModel::from_bytes(a, "a.rmx", cpu()).serialize();
  ASSERT_EQ(again.size(), a.size());
  for (size_t i = 32; i < a.size(); ++i) ASSERT_EQ(again[i], a[i]) << "byte " << i;
}

TEST_F(CompilerTest, ProgressStages) {
  std::vector<std::pair<std::string, double>> seen;
  CompileOptions o = cpu_options();
  o.on_progress = [&](const std::string& stage, double f) { seen.emplace_back(stage, f); };
  CompiledModel::compile(mlp(), o);
  std::vector<std::string> stages;
  for (const auto& [s, f] : seen) stages.push_back(s);
  EXPECT_EQ(stages, (std::vector<std::string>{"passes", "serialize", "serialize"}));

  seen.clear();
  o.batch_size = 1;
  CompiledModel::compile(mlp(), o);
  stages.clear();
  for (size_t i = 0; i < seen.size(); ++i) {
    stages.push_back(seen[i].first);
    EXPECT_GE(seen[i].second, 0.0);
    EXPECT_LE(seen[i].second, 1.0);
    if (i) {
      EXPECT_GE(seen[i].second, seen[i - 1].second);
    }
  }
  EXPECT_EQ(stages, (std::vector<std::string>{"passes", "specialize", "partition", "memory plan",
                                              "serialize", "serialize"}));
  EXPECT_EQ(seen.back().second, 1.0);
  // The progress callback is no option that changes the result.
  EXPECT_EQ(o.canonical().count("on_progress"), 0u);
}

TEST_F(CompilerTest, DamagedFileIsAnError) {
  CompileOptions o = cpu_options();
  o.batch_size = 2;
  const std::vector<uint8_t> bytes = CompiledModel::compile(mlp(), o).serialize();
  const Artifact a = Artifact::from_bytes(bytes, "mlp.rmx");
  const SectionInfo* plan = nullptr;
  for (const SectionInfo& s : a.sections())
    if (s.name == "plan") plan = &s;
  ASSERT_NE(plan, nullptr);
  // A changed plan byte: the section checksum names the section and offset.
  std::vector<uint8_t> flipped = bytes;
  flipped[plan->offset + plan->size / 2] ^= 0x5a;
  try {
    CompiledModel::from_bytes(flipped, "mlp.rmx", cpu());
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'plan'"), std::string::npos) << e.what();
  }
  // A changed weight byte: the weights checksum, unless the caller verified
  // the bytes otherwise and turned the check off.
  const SectionInfo* weights = nullptr;
  for (const SectionInfo& s : a.sections())
    if (s.name == "weights") weights = &s;
  ASSERT_NE(weights, nullptr);
  std::vector<uint8_t> heavier = bytes;
  heavier[weights->offset + 5] ^= 0x01;
  try {
    CompiledModel::from_bytes(heavier, "mlp.rmx", cpu());
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'weights'"), std::string::npos) << e.what();
  }
  LoadOptions trusted;
  trusted.verify_weights = false;
  EXPECT_TRUE(CompiledModel::from_bytes(heavier, "mlp.rmx", cpu(), trusted).is_static());

  // Truncated files.
  for (size_t cut : {size_t(10), size_t(plan->offset + 3), bytes.size() - 1}) {
    std::vector<uint8_t> cut_bytes(bytes.begin(), bytes.begin() + cut);
    EXPECT_THROW(CompiledModel::from_bytes(cut_bytes, "mlp.rmx", cpu()), Error) << cut;
  }
}

// Damage past the checksums (a plan section rewritten with valid digests):
// every cut and every changed byte is an Error naming the artifact, the
// section and an offset, or a plan that still loads (a changed reason text,
// a float, an attribute value) and then, when static, runs or fails with an
// Error.
void expect_damage_is_an_error(const CompiledModel& model, const std::vector<Tensor>& inputs,
                               const Device& device,
                               const std::vector<uint8_t>& masks = {0x01, 0x80, 0xff}) {
  const Artifact a = Artifact::from_bytes(model.serialize(), "model.rmx");
  const std::span<const uint8_t> plan = a.section("plan");
  int errors = 0, loaded = 0;
  const auto attempt = [&](const std::vector<uint8_t>& damaged, const std::string& what) {
    try {
      const CompiledModel m = CompiledModel::from_bytes(with_plan(a, damaged), "model.rmx", device);
      ++loaded;
      // A static plan runs as loaded. (A dynamic one would be specialized
      // first: the graph library's business, not the loader's.)
      if (!m.is_static()) return;
      try {
        run_model(m, inputs);
      } catch (const Error&) {
      }
    } catch (const Error& e) {
      ++errors;
      const std::string msg = e.what();
      EXPECT_NE(msg.find("model.rmx: section 'plan', byte "), std::string::npos)
          << what << ": " << msg;
    }
  };
  for (size_t cut = 0; cut < plan.size(); ++cut)
    attempt(std::vector<uint8_t>(plan.begin(), plan.begin() + cut),
            "cut at " + std::to_string(cut));
  for (size_t i = 0; i < plan.size(); ++i)
    for (uint8_t mask : masks) {
      std::vector<uint8_t> damaged(plan.begin(), plan.end());
      damaged[i] ^= mask;
      attempt(damaged, "byte " + std::to_string(i) + " ^ " + std::to_string(mask));
    }
  EXPECT_GT(errors, static_cast<int>(plan.size()));  // every cut at least
  EXPECT_GT(loaded, 0);                              // text and floats are not checked
}

TEST_F(CompilerTest, DamagedStaticPlanNeverCrashes) {
  CompileOptions o = cpu_options();
  o.batch_size = 2;
  expect_damage_is_an_error(CompiledModel::compile(mlp(), o), {random_f32({2, 16}, 7)}, cpu());
}

TEST_F(CompilerTest, DamagedDynamicPlanNeverCrashes) {
  expect_damage_is_an_error(CompiledModel::compile(attention_block(), cpu_options()),
                            {random_f32({1, 8, 16}, 8)}, cpu());
}

// Core ops keep every attribute kind through save and load (at -O0 nothing
// folds them away).
TEST_F(CompilerTest, CoreAttributesRoundTrip) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("n"), Dim::of(3)});
  const Tensor half = Tensor::from_vector(std::vector<float>{0.5f}, {1}, DType::kF32, cpu());
  graph::Attributes attrs{{"value", half},
                          {"note", std::string("kept")},
                          {"scale", 1.25},
                          {"scales", std::vector<double>{1.5, -2.0}},
                          {"axes", std::vector<int64_t>{0, -1}},
                          {"count", int64_t{7}}};
  const Var fill = b.node(graph::CoreOp::kConstantOfShape, {b.shape_of(x)}, {}, attrs)[0];
  b.output(b.add(x, fill), "y");
  const Graph g = b.build();
  CompileOptions o = cpu_options();
  o.opt_level = 0;
  const CompiledModel m =
      CompiledModel::from_bytes(CompiledModel::compile(g, o).serialize(), "attrs.rmx", cpu());
  const graph::Node* node = nullptr;
  for (const graph::Node& n : m.graph().nodes())
    if (n.op == graph::OpKind(graph::CoreOp::kConstantOfShape)) node = &n;
  ASSERT_NE(node, nullptr) << m.graph().summary();
  ASSERT_EQ(node->attrs.size(), attrs.size());
  for (const auto& [key, value] : attrs) {
    ASSERT_TRUE(node->attrs.count(key)) << key;
    const graph::AttrValue& got = node->attrs.at(key);
    ASSERT_EQ(got.index(), value.index()) << key;
    if (const Tensor* t = std::get_if<Tensor>(&value)) {
      EXPECT_EQ(std::get<Tensor>(got).shape(), t->shape());
      EXPECT_EQ(std::get<Tensor>(got).to_vector<float>(), t->to_vector<float>());
    } else if (const auto* i = std::get_if<int64_t>(&value)) {
      EXPECT_EQ(std::get<int64_t>(got), *i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      EXPECT_EQ(std::get<double>(got), *d);
    } else if (const auto* str = std::get_if<std::string>(&value)) {
      EXPECT_EQ(std::get<std::string>(got), *str);
    } else if (const auto* ints = std::get_if<std::vector<int64_t>>(&value)) {
      EXPECT_EQ(std::get<std::vector<int64_t>>(got), *ints);
    } else {
      EXPECT_EQ(std::get<std::vector<double>>(got), std::get<std::vector<double>>(value));
    }
  }
  const std::vector<Tensor> x4{random_f32({4, 3}, 9)};
  expect_close(run_model(m, x4), graph::specialize_and_run(g, cpu(), x4), 0);
}

// A static plan across two devices (opencl:0 and the host CPU, with copies
// between them) loads with its placement and runs.
TEST_F(CompilerTest, StaticPlanOnOpenCl) {
  std::optional<Device> opencl;
  for (const Device& d : Runtime::get().devices())
    if (d.plugin_name() == "opencl") opencl = d;
  if (!opencl) GTEST_SKIP() << "no OpenCL device";
  const Graph g = attention_block();
  CompileOptions o;
  o.target = opencl->name();
  o.batch_size = 2;
  const CompiledModel m = CompiledModel::compile(g, o);
  ASSERT_TRUE(m.is_static());
  ASSERT_EQ(m.placement()->devices.size(), 2u);
  EXPECT_GT(m.placement()->copies.size(), 0u);
  m.save(path("block.rmx"));
  const CompiledModel loaded = CompiledModel::load(path("block.rmx"), *opencl);
  EXPECT_EQ(loaded.placement()->to_json(), m.placement()->to_json());
  EXPECT_EQ(loaded.memory_plan()->to_json(), m.memory_plan()->to_json());
  const std::vector<Tensor> x{random_f32({2, 8, 16}, 12)};
  expect_close(run_model(loaded, x), graph::specialize_and_run(g, cpu(), x), 1e-4f);
  // Loading it for the CPU is a fingerprint mismatch.
  EXPECT_THROW(CompiledModel::load(path("block.rmx"), cpu()), Error);
  expect_damage_is_an_error(m, x, *opencl, {0xff});
}

// One artifact with a plan for the CPU and one for opencl:0: passes once,
// constants stored once, each device loads its own plan.
TEST_F(CompilerTest, MultiTargetArtifactLoadsThePlanOfEachDevice) {
  std::optional<Device> opencl;
  for (const Device& d : Runtime::get().devices())
    if (d.plugin_name() == "opencl") opencl = d;
  if (!opencl) GTEST_SKIP() << "no OpenCL device";
  const Graph g = attention_block();
  CompileOptions o = cpu_options();
  o.batch_size = 2;
  const std::vector<CompiledModel> models =
      CompiledModel::compile_targets(g, o, {"cpu", opencl->name()});
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[1].device(), *opencl);
  EXPECT_EQ(models[0].options().at("target"), "cpu," + opencl->name());
  CompiledModel::save_targets(models, path("multi.rmx"));

  const Artifact a = Artifact::open(path("multi.rmx"));
  ASSERT_EQ(a.targets().size(), 2u);
  EXPECT_EQ(a.targets()[0], fingerprint_of(cpu()));
  EXPECT_EQ(a.targets()[1], fingerprint_of(*opencl));
  EXPECT_TRUE(a.has_section("plan"));
  EXPECT_TRUE(a.has_section("t1.plan"));
  // The constants once: no bigger than a single target's weights.
  const Artifact single = Artifact::from_bytes(models[0].serialize(), "single.rmx");
  uint64_t multi_weights = 0, single_weights = 0;
  for (const SectionInfo& s : a.sections())
    if (s.name == "weights") multi_weights = s.size;
  for (const SectionInfo& s : single.sections())
    if (s.name == "weights") single_weights = s.size;
  EXPECT_EQ(multi_weights, single_weights);

  const std::vector<Tensor> x{random_f32({2, 8, 16}, 21)};
  const std::vector<Tensor> want = graph::specialize_and_run(g, cpu(), x);
  const CompiledModel on_cpu = CompiledModel::load(path("multi.rmx"), cpu());
  const CompiledModel on_opencl = CompiledModel::load(path("multi.rmx"), *opencl);
  EXPECT_EQ(on_cpu.placement()->to_json(), models[0].placement()->to_json());
  EXPECT_EQ(on_opencl.placement()->to_json(), models[1].placement()->to_json());
  expect_close(run_model(on_cpu, x), want, 1e-5f);
  expect_close(run_model(on_opencl, x), want, 1e-4f);
  // A session with device "auto" takes the first target present here; an
  // artifact for opencl:0 alone opens on opencl:0.
  EXPECT_EQ(Session::open(path("multi.rmx")).device(), cpu());
  models[1].save(path("opencl_only.rmx"));
  EXPECT_EQ(Session::open(path("opencl_only.rmx")).device(), *opencl);
  // Saved again, the OpenCL model is a single-target artifact for opencl:0.
  const Artifact again = Artifact::from_bytes(on_opencl.serialize(), "again.rmx");
  EXPECT_EQ(again.targets().size(), 1u);
  EXPECT_EQ(again.target(), fingerprint_of(*opencl));

  // A device that is neither: the error names each target's differences.
  Fingerprint elsewhere = fingerprint_of(cpu());
  elsewhere.device_arch = "riscv64";
  try {
    a.target_index(elsewhere);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("target 0 (cpu)"), std::string::npos) << what;
    EXPECT_NE(what.find("target 1 (opencl)"), std::string::npos) << what;
    EXPECT_NE(what.find("riscv64"), std::string::npos) << what;
  }
  // Two specs naming one device, and models from separate compiles.
  EXPECT_THROW(CompiledModel::compile_targets(g, o, {"cpu", "cpu"}), Error);
  std::vector<CompiledModel> mixed;
  mixed.push_back(CompiledModel::compile(g, o));
  mixed.push_back(CompiledModel::load(path("multi.rmx"), *opencl));
  EXPECT_THROW(CompiledModel::serialize_targets(mixed), Error);
}

#if defined(RMA_HAVE_ONNX)
// An ONNX model through import and compile: MatMul + Add + Relu, then
// Shape -> ConstantOfShape (a tensor attribute) added back, then a Reshape
// by an initializer; dynamic and with a static batch.
TEST_F(CompilerTest, OnnxModelCompilesAndRuns) {
  namespace pb = rma::onnx_pb;
  pb::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  pb::GraphProto* g = m.mutable_graph();
  g->set_name("small");
  const auto typed = [](pb::ValueInfoProto* v, const std::string& name,
                        const std::vector<std::string>& dims) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(pb::TensorProto_DataType_FLOAT);
    for (const std::string& d : dims) {
      auto* dim = tt->mutable_shape()->add_dim();
      if (std::isdigit(static_cast<unsigned char>(d[0])))
        dim->set_dim_value(std::stoll(d));
      else
        dim->set_dim_param(d);
    }
  };
  typed(g->add_input(), "x", {"batch", "4"});
  g->add_output()->set_name("y");
  const auto f32_init = [&](const std::string& name, const Tensor& t) {
    auto* init = g->add_initializer();
    init->set_name(name);
    init->set_data_type(pb::TensorProto_DataType_FLOAT);
    for (int64_t d : t.shape()) init->add_dims(d);
    const std::vector<uint8_t> bytes = t.to_host_bytes();
    init->set_raw_data(std::string(bytes.begin(), bytes.end()));
  };
  f32_init("W", random_f32({4, 6}, 30));
  f32_init("B", random_f32({6}, 31));
  auto* shape = g->add_initializer();
  shape->set_name("shape");
  shape->set_data_type(pb::TensorProto_DataType_INT64);
  shape->add_dims(2);
  shape->add_int64_data(-1);
  shape->add_int64_data(3);
  const auto node = [&](const std::string& op, const std::vector<std::string>& ins,
                        const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(out + "_node");
    for (const std::string& i : ins) n->add_input(i);
    n->add_output(out);
    return n;
  };
  node("MatMul", {"x", "W"}, "m");
  node("Add", {"m", "B"}, "a");
  node("Relu", {"a"}, "r");
  node("Shape", {"r"}, "s");
  auto* fill = node("ConstantOfShape", {"s"}, "c")->add_attribute();
  fill->set_name("value");
  fill->set_type(pb::AttributeProto_AttributeType_TENSOR);
  fill->mutable_t()->set_data_type(pb::TensorProto_DataType_FLOAT);
  fill->mutable_t()->add_dims(1);
  fill->mutable_t()->add_float_data(0.5f);
  node("Add", {"r", "c"}, "sum");
  node("Reshape", {"sum", "shape"}, "y");
  const std::string bytes = m.SerializeAsString();
  const Graph imported = graph::import_onnx_bytes(bytes.data(), bytes.size(), {}, "small.onnx");

  const CompiledModel dynamic = CompiledModel::compile(imported, cpu_options());
  dynamic.save(path("small.rmx"));
  const CompiledModel dynamic_loaded = CompiledModel::load(path("small.rmx"), cpu());
  for (int64_t batch : {1, 4}) {
    const std::vector<Tensor> x{random_f32({batch, 4}, 40 + uint32_t(batch))};
    expect_close(run_model(dynamic_loaded, x), graph::specialize_and_run(imported, cpu(), x),
                 1e-5f);
  }
  CompileOptions o = cpu_options();
  o.batch_size = 2;
  CompiledModel::compile(imported, o).save(path("small2.rmx"));
  const CompiledModel fixed = CompiledModel::load(path("small2.rmx"), cpu());
  ASSERT_TRUE(fixed.is_static());
  const std::vector<Tensor> x{random_f32({2, 4}, 45)};
  const std::vector<Tensor> got = run_model(fixed, x);
  EXPECT_EQ(got.at(0).shape(), (Shape{4, 3}));
  expect_close(got, graph::specialize_and_run(imported, cpu(), x), 1e-5f);
}
#endif

}  // namespace
}  // namespace rma::compile
