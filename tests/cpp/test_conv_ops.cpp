// conv2d and pool2d: the window rule, the ops on the CPU against values
// worked out by hand, schema errors that name the attribute, symbolic shape
// inference, the conv fusions (each checked by running the graph before and
// after), and the ONNX vision lowerings' errors. Numerical conformance over
// every attribute is `rma test` (src/ops/conformance); whole models against
// onnxruntime are tests/onnx.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "rma/device.h"
#include "rma/error.h"
#include "rma/graph/builder.h"
#include "rma/graph/interpreter.h"
#include "rma/graph/passes.h"
#include "rma/ops.h"

#if defined(RMA_HAVE_ONNX)
#include "rma/graph/onnx.h"
#include "rma_onnx.pb.h"
#endif

namespace rma {
namespace {

Device cpu() { return Runtime::get().device("cpu"); }

Tensor f32(const std::vector<float>& v, const Shape& s) {
  return Tensor::from_vector(v, s, DType::kF32, cpu());
}

Tensor random_f32(const Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(numel(s)));
  for (float& x : v) x = u(rng);
  return f32(v, s);
}

// The message of the Error `fn` throws ("" if none).
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// ------------------------------------------------------------------ ops

TEST(ConvOps, WindowRule) {
  EXPECT_EQ(window_out_extent(5, 3, 1, 1, 1, 1), 5);
  EXPECT_EQ(window_out_extent(10, 3, 2, 1, 0, 0), 4);        // floor(7 / 2) + 1
  EXPECT_EQ(window_out_extent(10, 3, 2, 1, 0, 0, true), 5);  // ceil
  EXPECT_EQ(window_out_extent(12, 3, 1, 2, 0, 0), 8);        // span 5
  // ceil_mode drops a last window that would start in the end padding.
  EXPECT_EQ(window_out_extent(4, 2, 2, 1, 1, 1, true), 3);
  EXPECT_EQ(window_out_extent(5, 2, 3, 1, 0, 1, true), 2);
  EXPECT_LT(window_out_extent(2, 3, 1, 1, 0, 0), 1);  // no window fits
}

TEST(ConvOps, Conv2dByHand) {
  // x [1, 1, 3, 3] = 1..9, w = ones [2, 1, 2, 2] (second filter doubled),
  // stride 1, no pad: y[m] = sums of each 2x2 window (times 2 for m = 1)
  // + bias, then relu.
  const Tensor x = f32({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  const Tensor w = f32({1, 1, 1, 1, 2, 2, 2, 2}, {2, 1, 2, 2});
  const Tensor bias = f32({-13.f, 0.5f}, {2});
  const Tensor y =
      ops::conv2d(x, w, bias, conv2d_attrs({1, 1}, {1, 1}, {0, 0, 0, 0}, 1, Activation::kRelu));
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 3, 11, 15, 24.5f, 32.5f, 48.5f, 56.5f}));
}

TEST(ConvOps, Pool2dByHand) {
  const Tensor x = f32({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  // Max 2x2, stride 2, ceil_mode: windows at 0 and 2 (the second partial).
  EXPECT_EQ(ops::pool2d(x, pool2d_attrs(RMA_POOL_MAX, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, true))
                .to_vector<float>(),
            (std::vector<float>{5, 6, 8, 9}));
  // Average 3x3, pad 1: the corner window holds 4 cells of x (1, 2, 4, 5)
  // and 5 of padding.
  const auto avg = [&](bool include_pad) {
    return ops::pool2d(x, pool2d_attrs(RMA_POOL_AVG, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, false,
                                       include_pad))
        .to_vector<float>();
  };
  EXPECT_FLOAT_EQ(avg(false)[0], 3.f);
  EXPECT_FLOAT_EQ(avg(true)[0], 12.f / 9.f);
}

TEST(ConvOps, SchemaErrorsNameTheAttribute) {
  const Tensor x = random_f32({1, 6, 5, 5}, 1), w = random_f32({4, 3, 3, 3}, 2);
  EXPECT_TRUE(contains(error_of([&] {
                         ops::conv2d(x, w, {}, conv2d_attrs({1, 1}, {1, 1}, {0, 0, 0, 0}, 4));
                       }),
                       "attribute 'group'"));
  EXPECT_TRUE(contains(error_of([&] { ops::conv2d(x, w); }), "C/group = 6 / 1 = 6"));
  EXPECT_TRUE(contains(error_of([&] {
                         ops::conv2d(x, random_f32({4, 6, 3, 3}, 3), {}, conv2d_attrs({0, 1}));
                       }),
                       "attribute 'stride[0]'"));
  EXPECT_TRUE(contains(error_of([&] {
                         ops::conv2d(x, random_f32({4, 6, 7, 3}, 3));
                       }),
                       "no window fits along H"));
  EXPECT_TRUE(contains(error_of([&] {
                         ops::pool2d(x, pool2d_attrs(RMA_POOL_MAX, {2, 2}, {1, 1}, {0, 2, 0, 0}));
                       }),
                       "attribute 'pad[1]'"));
  EXPECT_TRUE(contains(error_of([&] {
                         ops::pool2d(random_f32({2, 5}, 4), pool2d_attrs(RMA_POOL_MAX, {2, 2}));
                       }),
                       "[N, C, H, W]"));
}

}  // namespace

// ---------------------------------------------------------------- graphs

namespace graph {
namespace {

int count_op(const Graph& g, rma_op op) {
  int n = 0;
  for (const Node& node : g.nodes()) n += node.op == OpKind(op);
  return n;
}

std::vector<float> run1(const Graph& g, const Tensor& x) {
  return specialize_and_run(g, cpu(), {x}).at(0).to(cpu()).to_vector<float>();
}

void expect_close(const std::vector<float>& want, const std::vector<float>& got, float tol) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(want[i], got[i], tol * (1 + std::fabs(want[i]))) << "element " << i;
}

// A copy of `g` after `pass`, which must rewrite `want` times, computing
// what g computes for x.
Graph check_pass(const Graph& g, int (*pass)(Graph&), const Tensor& x, int want) {
  Graph after = g;
  EXPECT_EQ(pass(after), want) << after.summary();
  after.validate();
  expect_close(run1(g, x), run1(after, x), 1e-5f);
  return after;
}

Var conv_weights(GraphBuilder& b, int64_t m, int64_t c, uint32_t seed) {
  return b.constant("w", random_f32({m, c, 3, 3}, seed, -0.3f, 0.3f));
}

TEST(ConvPasses, FoldBatchNormScaleAndShift) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("n"), Dim::of(3), Dim::of(8), Dim::of(8)});
  const Var y = b.conv2d(x, conv_weights(b, 4, 3, 1), b.constant({0.1f, 0.2f, 0.3f, 0.4f}, {4}),
                         conv2d_attrs({1, 1}, {1, 1}, {1, 1, 1, 1}));
  // As BatchNormalization imports: mul by [M, 1, 1], add of [M, 1, 1].
  const Var scaled = b.mul(y, b.constant({2.f, -1.f, 0.5f, 3.f}, {4, 1, 1}));
  b.output(b.add(scaled, b.constant({1.f, 0.f, -1.f, 2.f}, {1, 4, 1, 1})), "out");
  const Graph g = b.build();
  const Graph f = check_pass(g, fold_conv_batch_norm, random_f32({2, 3, 8, 8}, 5), 2);
  EXPECT_EQ(count_op(f, RMA_OP_CONV2D), 1);
  EXPECT_EQ(f.nodes().size(), 1u) << f.summary();
}

TEST(ConvPasses, FoldNeedsAPerChannelConstant) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::of(1), Dim::of(3), Dim::of(6), Dim::of(6)});
  const Var y = b.conv2d(x, conv_weights(b, 2, 3, 2), {}, conv2d_attrs());
  // Varies along W: not a per-channel affine.
  b.output(b.mul(y, b.constant({1.f, 2.f, 3.f, 4.f}, {4})), "out");
  Graph g = b.build();
  EXPECT_EQ(fold_conv_batch_norm(g), 0);
}

TEST(ConvPasses, FuseEveryActivation) {
  const rma_unary_kind kinds[] = {RMA_UNARY_RELU, RMA_UNARY_LEAKY_RELU, RMA_UNARY_SIGMOID,
                                  RMA_UNARY_TANH, RMA_UNARY_GELU,       RMA_UNARY_GELU_TANH,
                                  RMA_UNARY_SILU};
  const rma_activation acts[] = {RMA_ACT_RELU, RMA_ACT_LEAKY_RELU, RMA_ACT_SIGMOID, RMA_ACT_TANH,
                                 RMA_ACT_GELU, RMA_ACT_GELU_TANH,  RMA_ACT_SILU};
  for (size_t i = 0; i < std::size(kinds); ++i) {
    SCOPED_TRACE(i);
    GraphBuilder b;
    const Var x = b.input("x", DType::kF32, {Dim::of(1), Dim::of(3), Dim::of(7), Dim::of(5)});
    const Var y = b.conv2d(x, conv_weights(b, 4, 3, 3), b.constant({0.1f, -0.2f, 0.f, 0.3f}, {4}),
                           conv2d_attrs({2, 1}, {1, 1}, {1, 0, 1, 2}));
    b.output(b.unary(kinds[i], y, 0.2f), "out");
    const Graph f =
        check_pass(b.build(), fuse_conv_activation, random_f32({1, 3, 7, 5}, 7, -2.f, 2.f), 1);
    ASSERT_EQ(f.nodes().size(), 1u);
    const auto& a = f.nodes()[0].attrs_as<rma_conv2d_attrs>();
    EXPECT_EQ(a.activation, acts[i]);
    if (acts[i] == RMA_ACT_LEAKY_RELU) {
      EXPECT_FLOAT_EQ(a.activation_param, 0.2f);
    }
  }
}

TEST(ConvPasses, NoFusionIntoASharedOutput) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::of(1), Dim::of(3), Dim::of(6), Dim::of(6)});
  const Var y = b.conv2d(x, conv_weights(b, 2, 3, 4), {}, conv2d_attrs());
  b.output(b.relu(y), "relu");
  b.output(y, "raw");
  Graph g = b.build();
  EXPECT_EQ(fuse_conv_activation(g), 0);
  EXPECT_EQ(fold_conv_batch_norm(g), 0);
}

TEST(ConvPasses, PipelineMakesOneConvPerBlock) {
  // conv -> BN-style mul/add -> relu -> maxpool through run_passes.
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("n"), Dim::of(3), Dim::of(9), Dim::of(9)});
  const Var y =
      b.conv2d(x, conv_weights(b, 4, 3, 6), {}, conv2d_attrs({1, 1}, {1, 1}, {1, 1, 1, 1}));
  const Var bn = b.add(b.mul(y, b.constant({1.5f, 0.5f, 2.f, 1.f}, {4, 1, 1})),
                       b.constant({0.f, 0.1f, -0.1f, 0.2f}, {4, 1, 1}));
  b.output(b.pool2d(b.relu(bn), pool2d_attrs(RMA_POOL_MAX, {2, 2}, {2, 2})), "out");
  const Graph g = b.build();
  EXPECT_EQ(g.value(g.outputs()[0]).shape[2], Dim::of(4));
  Graph f = g;
  run_passes(f, 2);
  EXPECT_EQ(f.nodes().size(), 2u) << f.summary();
  EXPECT_EQ(f.nodes()[0].attrs_as<rma_conv2d_attrs>().activation, RMA_ACT_RELU);
  const Tensor in = random_f32({2, 3, 9, 9}, 8);
  expect_close(run1(g, in), run1(f, in), 1e-5f);
}

TEST(ConvPasses, SymbolicSpatialDimsStaySymbols) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("n"), Dim::of(3), Dim::sym("h"), Dim::of(10)});
  const Var y = b.conv2d(x, conv_weights(b, 5, 3, 9), {}, conv2d_attrs({2, 2}));
  const SymShape& s = b.shape(y);
  EXPECT_EQ(s[0], Dim::sym("n"));
  EXPECT_EQ(s[1], Dim::of(5));
  EXPECT_FALSE(s[2].known());
  EXPECT_EQ(s[3], Dim::of(4));
}

// ------------------------------------------------------------------ ONNX

#if defined(RMA_HAVE_ONNX)
namespace pb = rma::onnx_pb;

pb::ModelProto model_with_input(const std::vector<std::string>& dims) {
  pb::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(17);
  auto* in = m.mutable_graph()->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(pb::TensorProto_DataType_FLOAT);
  for (const std::string& d : dims) {
    auto* dim = tt->mutable_shape()->add_dim();
    if (std::isdigit(static_cast<unsigned char>(d[0])))
      dim->set_dim_value(std::stoll(d));
    else
      dim->set_dim_param(d);
  }
  m.mutable_graph()->add_output()->set_name("y");
  return m;
}

pb::NodeProto* node(pb::ModelProto& m, const std::string& op, const std::vector<std::string>& in,
                    const std::vector<std::string>& out) {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name("the_" + op);
  for (const auto& i : in) n->add_input(i);
  for (const auto& o : out) n->add_output(o);
  return n;
}

void ints_attr(pb::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto_AttributeType_INTS);
  for (int64_t x : v) a->add_ints(x);
}

void string_attr(pb::NodeProto* n, const std::string& name, const std::string& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto_AttributeType_STRING);
  a->set_s(v);
}

void weights(pb::ModelProto& m, const std::vector<int64_t>& dims) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name("w");
  t->set_data_type(pb::TensorProto_DataType_FLOAT);
  int64_t n = 1;
  for (int64_t d : dims) {
    t->add_dims(d);
    n *= d;
  }
  for (int64_t i = 0; i < n; ++i) t->add_float_data(0.01f * float(i % 7));
}

std::string import_error(const pb::ModelProto& m, ErrorCode* code) {
  const std::string bytes = m.SerializeAsString();
  try {
    import_onnx_bytes(bytes.data(), bytes.size(), {}, "vision.onnx");
  } catch (const Error& e) {
    *code = e.code();
    return e.what();
  }
  return "";
}

TEST(ConvOnnx, SamePaddingMatchesTheStaticOutputSize) {
  pb::ModelProto m = model_with_input({"1", "2", "7", "9"});
  weights(m, {3, 2, 3, 3});
  auto* conv = node(m, "Conv", {"x", "w"}, {"y"});
  string_attr(conv, "auto_pad", "SAME_LOWER");
  ints_attr(conv, "strides", {2, 2});
  const std::string bytes = m.SerializeAsString();
  const Graph g = import_onnx_bytes(bytes.data(), bytes.size(), {}, "vision.onnx");
  EXPECT_EQ(g.value(g.outputs()[0]).shape, sym_shape({1, 3, 4, 5}));
}

TEST(ConvOnnx, UnsupportedFormsNameTheNode) {
  ErrorCode code{};
  {
    pb::ModelProto m = model_with_input({"1", "2", "4", "4", "4"});
    weights(m, {3, 2, 3, 3, 3});
    node(m, "Conv", {"x", "w"}, {"y"});
    const std::string e = import_error(m, &code);
    EXPECT_EQ(code, ErrorCode::kUnsupported);
    EXPECT_TRUE(contains(e, "the_Conv") && contains(e, "3-D Conv")) << e;
  }
  {
    pb::ModelProto m = model_with_input({"1", "2", "h", "4"});
    weights(m, {3, 2, 3, 3});
    string_attr(node(m, "Conv", {"x", "w"}, {"y"}), "auto_pad", "SAME_UPPER");
    const std::string e = import_error(m, &code);
    EXPECT_EQ(code, ErrorCode::kUnsupported);
    EXPECT_TRUE(contains(e, "the_Conv") && contains(e, "SAME_UPPER")) << e;
  }
  {
    pb::ModelProto m = model_with_input({"1", "2", "4", "4"});
    auto* pool = node(m, "MaxPool", {"x"}, {"y", "indices"});
    ints_attr(pool, "kernel_shape", {2, 2});
    const std::string e = import_error(m, &code);
    EXPECT_EQ(code, ErrorCode::kUnsupported);
    EXPECT_TRUE(contains(e, "the_MaxPool") && contains(e, "Indices")) << e;
  }
  {
    pb::ModelProto m = model_with_input({"1", "2", "4", "4"});
    for (const char* p : {"scale", "b", "mean", "var"}) {
      auto* t = m.mutable_graph()->add_initializer();
      t->set_name(p);
      t->set_data_type(pb::TensorProto_DataType_FLOAT);
      t->add_dims(2);
      t->add_float_data(1.f);
      t->add_float_data(1.f);
    }
    auto* bn = node(m, "BatchNormalization", {"x", "scale", "b", "mean", "var"}, {"y"});
    auto* a = bn->add_attribute();
    a->set_name("training_mode");
    a->set_type(pb::AttributeProto_AttributeType_INT);
    a->set_i(1);
    const std::string e = import_error(m, &code);
    EXPECT_EQ(code, ErrorCode::kUnsupported);
    EXPECT_TRUE(contains(e, "the_BatchNormalization") && contains(e, "training_mode")) << e;
  }
}
#endif

}  // namespace
}  // namespace graph
}  // namespace rma
