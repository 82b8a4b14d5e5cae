// rma::Session (rma/session.h) on models built here: ONNX models written
// with the generated protobuf classes (through the compile cache), the .rmx
// artifacts compiled from them, and a graph built in C++ compiled to an .rmx
// (the one test that needs no ONNX importer). Named inputs and outputs,
// dynamic shapes, every input error, the cache (hit, disabled, a corrupt
// entry, an unloadable artifact), and the fallback of an op opencl:0 does
// not run (a warning; strict: an Error). RM_CACHE_DIR points at a temp
// folder for every test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rma/compile/cache.h"
#include "rma/compile/compiler.h"
#include "rma/error.h"
#include "rma/graph/builder.h"
#include "rma/session.h"
#if defined(RMA_HAVE_ONNX)
#include "rma_onnx.pb.h"
#endif

namespace rma {
namespace {

namespace fs = std::filesystem;

// ------------------------------------------------------------ helpers

Device cpu() { return Runtime::get().device("cpu"); }

// Sets an environment variable for one scope, restoring it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A temp folder holding the models, with RM_CACHE_DIR pointing into it and
// the cache settings at their defaults.
class SessionTest : public testing::Test {
 protected:
  SessionTest()
      : runtime_(Runtime::get()),
        dir_(fs::temp_directory_path() /
             ("rma_session_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++))),
        cache_dir_((fs::create_directories(dir_ / "cache"), (dir_ / "cache").string())),
        env_dir_("RM_CACHE_DIR", cache_dir_.c_str()),
        env_enabled_("RM_CACHE_ENABLED", nullptr),
        env_url_("RM_CACHE_STORE_URL", nullptr),
        env_lifetime_("RM_CACHE_LIFETIME", nullptr) {}
  ~SessionTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  // The compile-cache entries on disk.
  std::vector<fs::path> cache_entries() const {
    std::vector<fs::path> out;
    const fs::path folder = fs::path(cache_dir_) / "compiler";
    if (!fs::exists(folder)) return out;
    for (const auto& e : fs::directory_iterator(folder))
      if (e.path().extension() == ".rmc") out.push_back(e.path());
    return out;
  }

 private:
  static inline std::atomic<int> counter_{0};
  // Started before RM_CACHE_DIR changes: plugins keep the cache folder they
  // start with (OpenCL program binaries), which must outlive this test's.
  [[maybe_unused]] Runtime& runtime_;
  fs::path dir_;
  std::string cache_dir_;
  ScopedEnv env_dir_, env_enabled_, env_url_, env_lifetime_;
};

const std::vector<float> kW = {0.5f, -1.f, 0.25f, 1.f, 2.f, 0.5f, -0.5f, 0.f, 1.f, 0.f, 1.f, -2.f};
const std::vector<float> kB = {0.1f, -0.2f, 0.3f};

#if defined(RMA_HAVE_ONNX)
namespace pb = rma::onnx_pb;

std::optional<Device> opencl() {
  for (const Device& d : Runtime::get().devices())
    if (d.plugin_name() == "opencl") return d;
  return std::nullopt;
}

void set_type(pb::ValueInfoProto* v, const std::string& name, int32_t elem,
              const std::vector<std::string>& dims) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  auto* shape = tt->mutable_shape();
  for (const std::string& d : dims) {
    if (std::isdigit(static_cast<unsigned char>(d[0])))
      shape->add_dim()->set_dim_value(std::stoll(d));
    else
      shape->add_dim()->set_dim_param(d);
  }
}

pb::ModelProto new_model() {
  pb::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(13);
  m.mutable_graph()->set_name("test");
  return m;
}

void add_node(pb::ModelProto& m, const std::string& op, const std::vector<std::string>& inputs,
              const std::string& output, int64_t axis = -1) {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(output + "_node");
  for (const auto& i : inputs) n->add_input(i);
  n->add_output(output);
  if (axis >= 0) {
    auto* a = n->add_attribute();
    a->set_name("axis");
    a->set_type(pb::AttributeProto_AttributeType_INT);
    a->set_i(axis);
  }
}

template <class T>
void add_initializer(pb::ModelProto& m, const std::string& name, int32_t elem,
                     const std::vector<int64_t>& dims, const std::vector<T>& values) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(elem);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(
      std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)));
}

constexpr int32_t kF32 = pb::TensorProto_DataType_FLOAT;
constexpr int32_t kI64 = pb::TensorProto_DataType_INT64;

// Inputs x[batch, 4] and s[batch, 3]; outputs
//   y = relu(x·W + b) * s      z = x·W       (W [4, 3], b [3])
std::string write_mlp(const std::string& path) {
  pb::ModelProto m = new_model();
  set_type(m.mutable_graph()->add_input(), "x", kF32, {"batch", "4"});
  set_type(m.mutable_graph()->add_input(), "s", kF32, {"batch", "3"});
  add_initializer(m, "W", kF32, {4, 3}, kW);
  add_initializer(m, "b", kF32, {3}, kB);
  add_node(m, "MatMul", {"x", "W"}, "z");
  add_node(m, "Add", {"z", "b"}, "h");
  add_node(m, "Relu", {"h"}, "r");
  add_node(m, "Mul", {"r", "s"}, "y");
  set_type(m.mutable_graph()->add_output(), "y", kF32, {"batch", "3"});
  set_type(m.mutable_graph()->add_output(), "z", kF32, {"batch", "3"});
  std::ofstream(path, std::ios::binary) << m.SerializeAsString();
  return path;
}

// x[4, 8] -> one ONNX op -> Softmax (Tier 1) -> y: for finding an op
// opencl:0 does not run. "MatMul" is x·xᵀ (a Transpose, then the MatMul);
// ReduceSum sums axis 1 (kept); Gather picks rows {2, 0, 3}.
const char* const kFallbackCandidates[] = {"Gather", "Relu", "Exp", "MatMul", "ReduceSum"};

std::string write_op_then_softmax(const std::string& path, const std::string& op) {
  pb::ModelProto m = new_model();
  set_type(m.mutable_graph()->add_input(), "x", kF32, {"4", "8"});
  if (op == "Gather") {
    add_initializer(m, "rows", kI64, {3}, std::vector<int64_t>{2, 0, 3});
    add_node(m, op, {"x", "rows"}, "picked", 0);
  } else if (op == "MatMul") {
    add_node(m, "Transpose", {"x"}, "xt");
    add_node(m, op, {"x", "xt"}, "picked");
  } else if (op == "ReduceSum") {
    add_initializer(m, "axes", kI64, {1}, std::vector<int64_t>{1});
    add_node(m, op, {"x", "axes"}, "picked");
  } else {
    add_node(m, op, {"x"}, "picked");
  }
  add_node(m, "Softmax", {"picked"}, "y");
  m.mutable_graph()->add_output()->set_name("y");
  std::ofstream(path, std::ios::binary) << m.SerializeAsString();
  return path;
}

#endif  // RMA_HAVE_ONNX

std::vector<float> ramp(int64_t n, float scale, float offset = 0) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>((i * 7) % 11 - 5) + offset;
  return v;
}

struct MlpRun {
  std::map<std::string, Tensor> inputs;
  std::vector<float> y, z;  // expected
};

MlpRun mlp_inputs(int64_t batch) {
  MlpRun r;
  const std::vector<float> x = ramp(batch * 4, 0.5f), s = ramp(batch * 3, 0.25f, 1.f);
  r.inputs = {{"x", Tensor::from_vector(x, {batch, 4}, DType::kF32, cpu())},
              {"s", Tensor::from_vector(s, {batch, 3}, DType::kF32, cpu())}};
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t j = 0; j < 3; ++j) {
      float acc = 0;
      for (int64_t k = 0; k < 4; ++k) acc += x[i * 4 + k] * kW[k * 3 + j];
      r.z.push_back(acc);
      r.y.push_back(std::max(acc + kB[j], 0.f) * s[i * 3 + j]);
    }
  return r;
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f) << "at " << i;
}

void expect_mlp_outputs(Session& s, int64_t batch) {
  const MlpRun r = mlp_inputs(batch);
  const std::map<std::string, Tensor> out = s.run(r.inputs);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out.at("y").shape(), (Shape{batch, 3}));
  EXPECT_EQ(out.at("y").device(), cpu());
  expect_near(out.at("y").to_vector<float>(), r.y);
  expect_near(out.at("z").to_vector<float>(), r.z);
}

SessionOptions on_cpu() {
  SessionOptions o;
  o.device = "cpu";
  return o;
}

// ------------------------------------------------------------ tests

// The mlp below as a graph built in C++, compiled to an .rmx: sessions need
// no ONNX importer.
TEST_F(SessionTest, RmxOfABuiltGraphRuns) {
  graph::GraphBuilder b;
  const graph::SymShape batch_by = {graph::Dim::sym("batch"), graph::Dim::of(4)};
  const graph::Var x = b.input("x", DType::kF32, batch_by);
  const graph::Var s = b.input("s", DType::kF32, {graph::Dim::sym("batch"), graph::Dim::of(3)});
  const graph::Var w = b.constant(kW, {4, 3}, DType::kF32, "W");
  const graph::Var relu =
      b.linear(x, w, b.constant(kB, {3}, DType::kF32, "b"), Activation::kRelu, /*trans_b=*/false);
  b.output(b.mul(relu, s), "y");
  b.output(b.linear(x, w, {}, Activation::kNone, /*trans_b=*/false), "z");
  compile::CompileOptions options;
  options.target = "cpu";
  compile::CompiledModel::compile(b.build(), options).save(file("built.rmx"));

  Session session = Session::open(file("built.rmx"), on_cpu());
  EXPECT_TRUE(session.cache_key().empty());
  ASSERT_EQ(session.outputs().size(), 2u);
  EXPECT_EQ(session.outputs()[0].name, "y");
  expect_mlp_outputs(session, 2);
  expect_mlp_outputs(session, 6);
}

#if defined(RMA_HAVE_ONNX)

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_F(SessionTest, OnnxRunsWithNamedInputsAndOutputs) {
  Session s = Session::open(write_mlp(file("mlp.onnx")), on_cpu());
  EXPECT_EQ(s.device(), cpu());
  ASSERT_EQ(s.inputs().size(), 2u);
  EXPECT_EQ(s.inputs()[0].name, "x");
  EXPECT_EQ(s.inputs()[0].dtype, DType::kF32);
  EXPECT_EQ(s.inputs()[0].shape, (graph::SymShape{graph::Dim::sym("batch"), graph::Dim::of(4)}));
  EXPECT_EQ(s.inputs()[1].name, "s");
  ASSERT_EQ(s.outputs().size(), 2u);
  EXPECT_EQ(s.outputs()[0].name, "y");
  EXPECT_EQ(s.outputs()[1].name, "z");
  EXPECT_FALSE(s.compiled().is_static());
  EXPECT_TRUE(s.report().nodes.empty());  // dynamic: nothing placed before a run

  expect_mlp_outputs(s, 2);
  const graph::Placement& p = s.report();
  EXPECT_FALSE(p.nodes.empty());
  EXPECT_EQ(p.fallback_count(), 0);
  for (const graph::NodePlacement& n : p.nodes)
    if (n.device >= 0) {
      EXPECT_EQ(p.devices[n.device], cpu()) << n.name;
    }
}

TEST_F(SessionTest, DynamicShapesArePlannedPerSignature) {
  Session s = Session::open(write_mlp(file("mlp.onnx")), on_cpu());
  expect_mlp_outputs(s, 2);
  expect_mlp_outputs(s, 5);
  expect_mlp_outputs(s, 2);                                    // the batch-2 plan again
  for (int64_t b = 1; b <= 10; ++b) expect_mlp_outputs(s, b);  // more signatures than kept
}

TEST_F(SessionTest, StaticBatchSizePlacesAtCompileTime) {
  SessionOptions o = on_cpu();
  o.batch_size = 3;
  Session s = Session::open(write_mlp(file("mlp.onnx")), o);
  EXPECT_TRUE(s.compiled().is_static());
  EXPECT_FALSE(s.report().nodes.empty());  // the compiled placement, before any run
  EXPECT_EQ(s.inputs()[0].shape, (graph::SymShape{graph::Dim::of(3), graph::Dim::of(4)}));
  expect_mlp_outputs(s, 3);
  const std::string e = error_of([&] { s.run(mlp_inputs(2).inputs); });
  EXPECT_TRUE(contains(e, "input 'x' dim 0 is 2, but the model wants 3")) << e;
}

TEST_F(SessionTest, InputErrorsNameTheInputAndTheExpectedOnes) {
  Session s = Session::open(write_mlp(file("mlp.onnx")), on_cpu());
  MlpRun r = mlp_inputs(2);

  auto missing = r.inputs;
  missing.erase("s");
  std::string e = error_of([&] { s.run(missing); });
  EXPECT_TRUE(contains(e, "missing input 's'")) << e;
  EXPECT_TRUE(contains(e, "the model's inputs: x f32[batch, 4], s f32[batch, 3]")) << e;

  auto unknown = r.inputs;
  unknown.emplace("extra", r.inputs.at("x"));
  e = error_of([&] { s.run(unknown); });
  EXPECT_TRUE(contains(e, "unknown input 'extra'")) << e;
  EXPECT_TRUE(contains(e, "x f32[batch, 4]")) << e;

  auto wrong_dtype = r.inputs;
  wrong_dtype["x"] = Tensor::from_vector(std::vector<int32_t>(8), {2, 4}, DType::kI32, cpu());
  e = error_of([&] { s.run(wrong_dtype); });
  EXPECT_TRUE(contains(e, "input 'x' is i32, but the model wants f32[batch, 4]")) << e;

  auto wrong_rank = r.inputs;
  wrong_rank["x"] = Tensor::from_vector(std::vector<float>(8), {8}, DType::kF32, cpu());
  e = error_of([&] { s.run(wrong_rank); });
  EXPECT_TRUE(contains(e, "input 'x' has shape [8] (rank 1), but the model wants rank 2")) << e;

  auto wrong_dim = r.inputs;
  wrong_dim["x"] = Tensor::from_vector(std::vector<float>(10), {2, 5}, DType::kF32, cpu());
  e = error_of([&] { s.run(wrong_dim); });
  EXPECT_TRUE(contains(e, "input 'x' dim 1 is 5, but the model wants 4")) << e;

  // 'batch' is 2 from x but 3 from s.
  auto conflict = r.inputs;
  conflict["s"] = mlp_inputs(3).inputs.at("s");
  e = error_of([&] { s.run(conflict); });
  EXPECT_TRUE(contains(e, "'batch'")) << e;
  EXPECT_TRUE(contains(e, "'s'") || contains(e, "'x'")) << e;

  auto undefined = r.inputs;
  undefined["x"] = Tensor();
  e = error_of([&] { s.run(undefined); });
  EXPECT_TRUE(contains(e, "input 'x' is an undefined tensor")) << e;

  expect_mlp_outputs(s, 2);  // the session still works
}

TEST_F(SessionTest, BadFilesAreErrorsNamingThem) {
  std::string e = error_of([&] { Session::open(file("model.txt"), on_cpu()); });
  EXPECT_TRUE(contains(e, "model.txt: not a model file")) << e;
  e = error_of([&] { Session::open(file("absent.onnx"), on_cpu()); });
  EXPECT_TRUE(contains(e, "absent.onnx")) << e;
  std::ofstream(file("junk.onnx"), std::ios::binary) << "this is not protobuf";
  e = error_of([&] { Session::open(file("junk.onnx"), on_cpu()); });
  EXPECT_TRUE(contains(e, "junk.onnx")) << e;
  std::ofstream(file("junk.rmx"), std::ios::binary) << "RMX\0 but not really";
  e = error_of([&] { Session::open(file("junk.rmx"), on_cpu()); });
  EXPECT_TRUE(contains(e, "junk.rmx")) << e;
  e = error_of([&] {
    SessionOptions o;
    o.device = "nosuchdevice:3";
    Session::open(write_mlp(file("mlp.onnx")), o);
  });
  EXPECT_TRUE(contains(e, "nosuchdevice:3")) << e;
}

TEST_F(SessionTest, SecondOpenIsACacheHit) {
  const std::string model = write_mlp(file("mlp.onnx"));
  Session first = Session::open(model, on_cpu());
  EXPECT_FALSE(first.cache_hit());
  EXPECT_EQ(first.cache_key().size(), 64u);
  EXPECT_EQ(cache_entries().size(), 1u);
  Session second = Session::open(model, on_cpu());
  EXPECT_TRUE(second.cache_hit());
  EXPECT_EQ(second.cache_key(), first.cache_key());
  expect_mlp_outputs(second, 4);

  // Other options are another key.
  SessionOptions o0 = on_cpu();
  o0.opt_level = 0;
  Session other = Session::open(model, o0);
  EXPECT_FALSE(other.cache_hit());
  EXPECT_NE(other.cache_key(), first.cache_key());
  expect_mlp_outputs(other, 4);
}

TEST_F(SessionTest, DisabledCacheIsNeverHit) {
  const std::string model = write_mlp(file("mlp.onnx"));
  {
    ScopedEnv off("RM_CACHE_ENABLED", "0");
    EXPECT_FALSE(Session::open(model, on_cpu()).cache_hit());
    EXPECT_FALSE(Session::open(model, on_cpu()).cache_hit());
    EXPECT_TRUE(cache_entries().empty());
  }
  SessionOptions no_cache = on_cpu();
  no_cache.use_cache = false;
  EXPECT_FALSE(Session::open(model, no_cache).cache_hit());
  EXPECT_FALSE(Session::open(model, no_cache).cache_hit());
  EXPECT_TRUE(cache_entries().empty());
}

TEST_F(SessionTest, CorruptCacheEntryIsRecompiledAndReplaced) {
  const std::string model = write_mlp(file("mlp.onnx"));
  Session::open(model, on_cpu());
  ASSERT_EQ(cache_entries().size(), 1u);
  const fs::path entry = cache_entries()[0];
  {
    std::fstream f(entry, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(entry) / 2));
    f.put('\x5a');
    f.seekp(static_cast<std::streamoff>(fs::file_size(entry) / 2 + 1));
    f.put('\xa5');
  }
  testing::internal::CaptureStderr();
  Session again = Session::open(model, on_cpu());
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(again.cache_hit());
  EXPECT_TRUE(contains(log, "[rma warning]")) << log;
  expect_mlp_outputs(again, 2);
  EXPECT_TRUE(Session::open(model, on_cpu()).cache_hit());  // replaced by a good entry
}

TEST_F(SessionTest, CachedArtifactThatCannotLoadIsReplaced) {
  // A well-formed cache entry whose payload is not a loadable artifact (as
  // one from another compiler could be): reported, recompiled, replaced.
  const std::string model = write_mlp(file("mlp.onnx"));
  const std::string key = Session::open(model, on_cpu()).cache_key();
  compile::CompileCache cache;
  const std::string junk = "RMX\0 this is not an artifact";
  ASSERT_TRUE(cache.put(
      key, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(junk.data()), junk.size())));
  testing::internal::CaptureStderr();
  Session again = Session::open(model, on_cpu());
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(again.cache_hit());
  EXPECT_TRUE(contains(log, "cannot be used")) << log;
  EXPECT_TRUE(contains(log, "recompiling and replacing it")) << log;
  expect_mlp_outputs(again, 3);
  Session third = Session::open(model, on_cpu());
  EXPECT_TRUE(third.cache_hit());
  expect_mlp_outputs(third, 3);
}

TEST_F(SessionTest, RmxOpensWithoutTheCache) {
  Session compiled = Session::open(write_mlp(file("mlp.onnx")), on_cpu());
  compiled.compiled().save(file("mlp.rmx"));
  Session s = Session::open(file("mlp.rmx"), on_cpu());
  EXPECT_FALSE(s.cache_hit());
  EXPECT_TRUE(s.cache_key().empty());
  ASSERT_EQ(s.inputs().size(), 2u);
  EXPECT_EQ(s.inputs()[1].name, "s");
  expect_mlp_outputs(s, 2);
  expect_mlp_outputs(s, 7);

  // "auto" picks the device the artifact was compiled for (without RM_DEVICE).
  if (Runtime::get().config().device == "auto") {
    Session automatic = Session::open(file("mlp.rmx"));
    EXPECT_EQ(automatic.device(), cpu());
  }
}

TEST_F(SessionTest, OpOpenclDeclinesFallsBackWithAWarningOrFailsStrict) {
  const auto ocl = opencl();
  if (!ocl) GTEST_SKIP() << "no OpenCL device";
  std::vector<float> x(32);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 5) * 0.5f - 1.f;
  const std::map<std::string, Tensor> in = {
      {"x", Tensor::from_vector(x, {4, 8}, DType::kF32, cpu())}};
  SessionOptions o;
  o.device = ocl->name();

  // The first candidate op opencl:0 does not run (the backend grows).
  std::string op, model, log;
  std::optional<Session> s;
  for (const char* candidate : kFallbackCandidates) {
    const std::string path =
        write_op_then_softmax(file(std::string(candidate) + ".onnx"), candidate);
    testing::internal::CaptureStderr();
    Session tried = Session::open(path, o);
    log = testing::internal::GetCapturedStderr();
    if (tried.report().fallback_count() == 0) continue;
    op = candidate;
    model = path;
    s.emplace(std::move(tried));
    break;
  }
  if (!s) GTEST_SKIP() << "opencl:0 runs every candidate op";
  // One warning naming the node that fell back; the softmax stays on opencl:0.
  const graph::Placement& p = s->report();
  ASSERT_EQ(p.fallback_count(), 1) << p.to_text();
  std::string node;
  for (const graph::NodePlacement& n : p.nodes)
    if (n.fallback) node = n.name;
  EXPECT_TRUE(contains(log, "[rma warning]")) << log;
  EXPECT_TRUE(contains(log, "'" + node + "'")) << log;
  EXPECT_EQ(p.devices[p.nodes.back().device], *ocl) << p.to_text();
  // The same results as on the cpu alone.
  const std::map<std::string, Tensor> got = s->run(in);
  const std::map<std::string, Tensor> want = Session::open(model, on_cpu()).run(in);
  expect_near(got.at("y").to_vector<float>(), want.at("y").to_vector<float>());

  // The warning again from a cache hit, whose placement was made earlier.
  testing::internal::CaptureStderr();
  Session hit = Session::open(model, o);
  EXPECT_TRUE(contains(testing::internal::GetCapturedStderr(), "'" + node + "'"));
  EXPECT_TRUE(hit.cache_hit());
  s->compiled().save(file("fallback.rmx"));

  // strict: an Error naming the node, for the .onnx and for the .rmx.
  SessionOptions strict = o;
  strict.strict = true;
  std::string e = error_of([&] { Session::open(model, strict).run(in); });
  EXPECT_TRUE(contains(e, node)) << op << ": " << e;
  e = error_of([&] { Session::open(file("fallback.rmx"), strict).run(in); });
  EXPECT_TRUE(contains(e, node)) << op << ": " << e;
}

#endif  // RMA_HAVE_ONNX

}  // namespace
}  // namespace rma
