// Prepared ops (rma/prepared.h): the CPU's linear with its weight pre-packed
// gives exactly what the plain op gives, survives export/import, refuses
// corrupt bytes, re-prepares bytes made for another machine; compiled
// static plans carry them in the .rmx "prepared" section.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <vector>

#include "rma/compile/artifact.h"
#include "rma/compile/compiler.h"
#include "rma/error.h"
#include "rma/graph/builder.h"
#include "rma/graph/executor.h"
#include "rma/ops.h"
#include "rma/prepared.h"

namespace rma {
namespace {

Device cpu() { return Runtime::get().device("cpu"); }

Tensor random_tensor(const Shape& s, DType dtype, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(numel(s));
  for (float& x : v) x = u(rng);
  const Tensor f = Tensor::from_vector(v, s, DType::kF32, cpu());
  return dtype == DType::kF32 ? f : ops::cast(f, dtype);
}

std::vector<float> floats(const Tensor& t) {
  return (t.dtype() == DType::kF32 ? t : ops::cast(t, DType::kF32)).to_vector<float>();
}

struct LinearCase {
  Tensor x, w, bias;
  rma_linear_attrs attrs;
};

LinearCase make_case(int64_t t, int64_t n, int64_t k, DType dtype, bool trans_b = true) {
  LinearCase c;
  c.x = random_tensor({t, k}, dtype, 1);
  c.w = trans_b ? random_tensor({n, k}, dtype, 2) : random_tensor({k, n}, dtype, 2);
  c.bias = random_tensor({n}, dtype, 3);
  c.attrs = linear_attrs(Activation::kGelu, false, trans_b);
  return c;
}

ops::PrepareArg arg(const Shape& shape, DType dtype, const Tensor& constant = {}) {
  ops::PrepareArg a;
  a.desc.shape = shape;
  a.desc.dtype = dtype;
  a.constant = constant;
  return a;
}

// x[t, K] and bias described, w given as a constant.
std::vector<ops::PrepareArg> linear_args(const LinearCase& c, int64_t t) {
  std::vector<ops::PrepareArg> args;
  args.push_back(arg({t, c.x.shape()[1]}, c.x.dtype()));
  args.push_back(arg(c.w.shape(), c.w.dtype(), c.w));
  args.push_back(arg(c.bias.shape(), c.bias.dtype()));
  return args;
}

std::vector<TensorDesc> linear_out(const LinearCase& c, int64_t t) {
  const int64_t n = c.attrs.trans_b ? c.w.shape()[0] : c.w.shape()[1];
  return {TensorDesc{{t, n}, c.x.dtype()}};
}

std::shared_ptr<ops::PreparedOp> prepare(const LinearCase& c, std::span<const uint8_t> bytes = {}) {
  const int64_t t = c.x.shape()[0];
  return ops::prepare(cpu(), RMA_OP_LINEAR, linear_args(c, t), &c.attrs, linear_out(c, t), bytes);
}

std::vector<float> run_prepared(const ops::PreparedOp& p, const LinearCase& c) {
  return floats(ops::run_prepared(p, {c.x, c.w, c.bias}, &c.attrs).at(0));
}

TEST(PreparedTest, CpuOffersPrepare) { EXPECT_TRUE(ops::supports_prepare(cpu())); }

TEST(PreparedTest, PackedLinearGivesWhatLinearGives) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16})
    for (bool trans_b : {true, false})
      for (auto [t, n, k] :
           {std::tuple{64, 96, 40}, std::tuple{33, 70, 300}, std::tuple{200, 17, 9}}) {
        SCOPED_TRACE(std::string(name(dtype)) + (trans_b ? " trans_b" : " [K,N]") + " T=" +
                     std::to_string(t) + " N=" + std::to_string(n) + " K=" + std::to_string(k));
        const LinearCase c = make_case(t, n, k, dtype, trans_b);
        const auto p = prepare(c);
        ASSERT_NE(p, nullptr);
        const std::vector<float> want = floats(ops::linear(c.x, c.w, c.bias, c.attrs));
        // The same panels and micro-kernel: the same bits.
        EXPECT_EQ(run_prepared(*p, c), want);
      }
}

TEST(PreparedTest, SmallBatchesAreNotPrepared) {
  // T within the GEMV / small-M range streams w as stored: nothing to gain.
  EXPECT_EQ(prepare(make_case(8, 64, 64, DType::kF32)), nullptr);
}

TEST(PreparedTest, ExportImportRoundTrip) {
  const LinearCase c = make_case(48, 64, 80, DType::kF32);
  const auto p = prepare(c);
  ASSERT_NE(p, nullptr);
  const std::vector<uint8_t> bytes = p->export_bytes();
  const auto q = prepare(c, bytes);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(run_prepared(*q, c), run_prepared(*p, c));
  EXPECT_EQ(q->export_bytes(), bytes);
}

TEST(PreparedTest, CorruptBytesAreAnErrorForeignOnesArePreparedAgain) {
  const LinearCase c = make_case(48, 64, 80, DType::kF32);
  std::vector<uint8_t> bytes = prepare(c)->export_bytes();
  // Cut short: an error naming the op.
  const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + 30);
  try {
    prepare(c, cut);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("linear"), std::string::npos) << e.what();
  }
  // Another SIMD target's panels (the name after magic, version, length):
  // not an error, the op is packed again here.
  std::vector<uint8_t> foreign = bytes;
  foreign[16] ^= 0x20;
  const auto p = prepare(c, foreign);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(run_prepared(*p, c), floats(ops::linear(c.x, c.w, c.bias, c.attrs)));
  // Bytes for another weight shape: also prepared afresh.
  const LinearCase other = make_case(48, 64, 96, DType::kF32);
  EXPECT_NE(prepare(other, bytes), nullptr);
}

TEST(PreparedTest, OtherBatchSizesRunOnTheSamePreparedOp) {
  // A dynamic session's plans for other input shapes share the prepared op:
  // larger T reads the packed panels, small T streams w as stored.
  const LinearCase c = make_case(48, 64, 80, DType::kF32);
  const auto p = prepare(c);
  ASSERT_NE(p, nullptr);
  for (int64_t t : {1, 7, 16, 100}) {
    LinearCase d = c;
    d.x = random_tensor({t, 80}, DType::kF32, 9);
    EXPECT_EQ(run_prepared(*p, d), floats(ops::linear(d.x, d.w, d.bias, d.attrs))) << "T=" << t;
  }
}

TEST(PreparedTest, CacheSharesOnePreparedOpPerWeight) {
  const LinearCase c = make_case(48, 64, 80, DType::kF32);
  ops::PreparedCache cache;
  const auto get = [&](const LinearCase& lc, int64_t t) {
    return cache.get(cpu(), RMA_OP_LINEAR, linear_args(lc, t), &lc.attrs, sizeof(lc.attrs),
                     linear_out(lc, t));
  };
  const auto a = get(c, 48);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(get(c, 96), a);
  EXPECT_EQ(cache.size(), 1u);
  // Another weight is another entry.
  EXPECT_NE(get(make_case(48, 64, 80, DType::kF32), 48), a);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(PreparedTest, RunWithAnotherWeightShapeIsRefused) {
  const LinearCase c = make_case(48, 64, 80, DType::kF32);
  const LinearCase other = make_case(48, 64, 96, DType::kF32);
  const auto p = prepare(c);
  ASSERT_NE(p, nullptr);
  EXPECT_THROW(ops::run_prepared(*p, {other.x, other.w, other.bias}, &other.attrs), Error);
}

// OpenCL (with CLBlast): the prepared linear times its two GEMM paths and
// keeps the faster; results match the plain op, the choice survives
// export/import, and bytes timed on another device are prepared again.
TEST(PreparedTest, OpenclLinearTunesItsPath) {
  std::optional<Device> opencl;
  for (const Device& d : Runtime::get().devices())
    if (d.plugin_name() == "opencl") opencl = d;
  if (!opencl) GTEST_SKIP() << "no OpenCL device";
  for (DType dtype : {DType::kF32, DType::kF16}) {
    SCOPED_TRACE(name(dtype));
    LinearCase c = make_case(40, 48, 64, dtype);
    c.x = c.x.to(*opencl);
    c.w = c.w.to(*opencl);
    c.bias = c.bias.to(*opencl);
    const auto p =
        ops::prepare(*opencl, RMA_OP_LINEAR, linear_args(c, 40), &c.attrs, linear_out(c, 40));
    if (!p) GTEST_SKIP() << "this OpenCL build has one GEMM path (no CLBlast): nothing to tune";
    const std::vector<float> want = floats(ops::linear(c.x, c.w, c.bias, c.attrs).to(cpu()));
    const auto close = [&](const std::vector<float>& got) {
      ASSERT_EQ(got.size(), want.size());
      const float tol = dtype == DType::kF32 ? 1e-4f : 2e-2f;
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], tol * (1 + std::fabs(want[i]))) << i;
    };
    close(floats(ops::run_prepared(*p, {c.x, c.w, c.bias}, &c.attrs).at(0).to(cpu())));
    const std::vector<uint8_t> bytes = p->export_bytes();
    const auto q = ops::prepare(*opencl, RMA_OP_LINEAR, linear_args(c, 40), &c.attrs,
                                linear_out(c, 40), bytes);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->export_bytes(), bytes);  // the same choice, not timed again
    close(floats(ops::run_prepared(*q, {c.x, c.w, c.bias}, &c.attrs).at(0).to(cpu())));
    // Timed on another device (the name is the first string after the
    // magic, version and its length): prepared afresh, not an error.
    std::vector<uint8_t> foreign = bytes;
    foreign[16] ^= 0x20;
    EXPECT_NE(ops::prepare(*opencl, RMA_OP_LINEAR, linear_args(c, 40), &c.attrs, linear_out(c, 40),
                           foreign),
              nullptr);
    // Corrupt: an error.
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + 14);
    EXPECT_THROW(
        ops::prepare(*opencl, RMA_OP_LINEAR, linear_args(c, 40), &c.attrs, linear_out(c, 40), cut),
        Error);
  }
}

// x [64, 48] -> linear+gelu [96] -> linear [32]: both linears take the
// blocked GEMM at T = 64.
graph::Graph mlp() {
  graph::GraphBuilder b;
  const graph::Var x = b.input("x", DType::kF32, {graph::Dim::of(64), graph::Dim::of(48)});
  const graph::Var h =
      b.linear(x, b.constant("w1", random_tensor({96, 48}, DType::kF32, 4)),
               b.constant("b1", random_tensor({96}, DType::kF32, 5)), Activation::kGelu);
  const graph::Var y = b.linear(h, b.constant("w2", random_tensor({32, 96}, DType::kF32, 6)));
  b.output(y, "y");
  return b.build();
}

TEST(PreparedTest, CompiledStaticPlanCarriesPreparedOps) {
  const graph::Graph g = mlp();
  const Tensor x = random_tensor({64, 48}, DType::kF32, 7);
  compile::CompileOptions o2;
  o2.target = "cpu";
  const compile::CompiledModel model = compile::CompiledModel::compile(g, o2);
  ASSERT_TRUE(model.is_static());
  const std::vector<uint8_t> bytes = model.serialize();
  const compile::Artifact artifact = compile::Artifact::from_bytes(bytes, "o2.rmx");
  EXPECT_TRUE(artifact.has_section("prepared"));

  compile::CompileOptions o1 = o2;
  o1.opt_level = 1;
  const compile::CompiledModel plain = compile::CompiledModel::compile(g, o1);
  EXPECT_FALSE(compile::Artifact::from_bytes(plain.serialize(), "o1.rmx").has_section("prepared"));
  graph::Plan plain_plan = plain.build_plan();
  EXPECT_EQ(plain_plan.prepared_count(), 0);
  const std::vector<float> want = plain_plan.run({x}).at(0).to_vector<float>();

  const compile::CompiledModel loaded = compile::CompiledModel::from_bytes(bytes, "o2.rmx", cpu());
  graph::Plan plan = loaded.build_plan();
  EXPECT_EQ(plan.prepared_count(), 2);
  const std::vector<float> got = plan.run({x}).at(0).to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5f) << i;
  // Saved again from the loaded model: the same bytes, section included.
  EXPECT_EQ(loaded.serialize(), bytes);
}

}  // namespace
}  // namespace rma
