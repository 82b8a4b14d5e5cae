// Graph passes: each rewrite is checked by running the graph on the CPU
// before and after the pass and comparing every output, and by looking at
// what the graph became. The fusion tests build the patterns as exporters
// write them (PyTorch -> ONNX spellings) on small transformer-like blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "rma/device.h"
#include "rma/error.h"
#include "rma/graph/builder.h"
#include "rma/graph/interpreter.h"
#include "rma/graph/passes.h"

namespace rma::graph {
namespace {

Device cpu() { return Runtime::get().device("cpu"); }

Tensor random_f32(const Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(numel(s));
  for (float& x : v) x = u(rng);
  return Tensor::from_vector(v, s, DType::kF32, cpu());
}

int count_op(const Graph& g, OpKind op) {
  int n = 0;
  for (const Node& node : g.nodes()) n += node.op == op;
  return n;
}

int count_unary(const Graph& g, rma_unary_kind kind) {
  int n = 0;
  for (const Node& node : g.nodes())
    if (node.op == OpKind(RMA_OP_UNARY) && node.attrs_as<rma_unary_attrs>().kind == kind) ++n;
  return n;
}

// Runs `g` for `inputs` (specializing for their shapes).
std::vector<std::vector<float>> run(const Graph& g, const std::vector<Tensor>& inputs) {
  std::vector<std::vector<float>> out;
  for (const Tensor& t : specialize_and_run(g, cpu(), inputs))
    out.push_back(t.dtype() == DType::kF32 ? t.to(cpu()).to_vector<float>() : std::vector<float>{});
  return out;
}

void expect_close(const std::vector<std::vector<float>>& want,
                  const std::vector<std::vector<float>>& got, float tol) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t o = 0; o < want.size(); ++o) {
    ASSERT_EQ(want[o].size(), got[o].size()) << "output " << o;
    for (size_t i = 0; i < want[o].size(); ++i)
      ASSERT_NEAR(want[o][i], got[o][i], tol * (1 + std::fabs(want[o][i])))
          << "output " << o << " element " << i;
  }
}

// Applies `pass` to a copy of `g`; checks it rewrote `want_rewrites` times
// (or at least once when -1), that the result is valid, and that outputs
// agree for every input set. Returns the rewritten graph.
Graph check_pass(const Graph& g, int (*pass)(Graph&), const std::vector<std::vector<Tensor>>& runs,
                 int want_rewrites = -1, float tol = 1e-5f) {
  Graph after = g;
  const int n = pass(after);
  if (want_rewrites < 0) {
    EXPECT_GT(n, 0) << after.summary();
  } else {
    EXPECT_EQ(n, want_rewrites) << after.summary();
  }
  after.validate();
  for (const auto& inputs : runs) expect_close(run(g, inputs), run(after, inputs), tol);
  return after;
}

// ------------------------------------------------------------- generic

TEST(GraphPasses, FoldConstantsAndDeadCode) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("n"), Dim::of(3)});
  // w = transpose(c) + 1 is a constant subgraph; shape(x) of a symbolic x is not.
  const Var c = b.constant("c", random_f32({3, 3}, 1));
  const Var w = b.add(b.transpose(c, {1, 0}), b.scalar(1));
  const Var y = b.matmul(x, w);
  b.softmax(y);  // dead
  b.output(y, "y");
  const Graph g = b.build();
  const std::vector<std::vector<Tensor>> runs{{random_f32({2, 3}, 2)}, {random_f32({5, 3}, 3)}};
  Graph folded = check_pass(g, fold_constants, runs, 2);
  EXPECT_EQ(count_op(folded, RMA_OP_TRANSPOSE), 0);
  EXPECT_EQ(count_op(folded, RMA_OP_BINARY), 0);
  EXPECT_EQ(count_op(folded, RMA_OP_SOFTMAX), 1);
  EXPECT_EQ(check_pass(folded, remove_dead_code, runs, 1).nodes().size(), 1u);
}

TEST(GraphPasses, FoldsHalfPrecisionOnTheHost) {
  // f16 constants fold through the reference ops, whatever the CPU plugin runs.
  GraphBuilder b;
  const Var x = b.input("x", DType::kF16, {Dim::of(2)});
  const Var c = b.mul(b.constant({1.5f, -2.f}, {2}, DType::kF16), b.scalar(2, DType::kF16));
  b.output(b.cast(b.add(x, c), DType::kF32), "y");
  Graph g = b.build();
  EXPECT_EQ(fold_constants(g), 1);
  ASSERT_EQ(count_op(g, RMA_OP_BINARY), 1);
  const Tensor in = Tensor::from_vector(std::vector<uint16_t>{0x3C00, 0x0000}, {2}, DType::kF16,
                                        cpu());  // 1, 0
  EXPECT_EQ(run(g, {in})[0], (std::vector<float>{4.f, -4.f}));
}

TEST(GraphPasses, FoldingKeepsBroadcastsSmall) {
  // A scalar expanded to 4 MiB stays an expand; shape() of a static value folds.
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::of(1024), Dim::of(1024)});
  const Var big = b.expand(b.scalar(2), {1024, 1024});
  const Var y = b.mul(x, big);
  const Var n = b.shape_of(x);
  b.output(y);
  b.output(n);
  Graph g = b.build();
  fold_constants(g);
  EXPECT_EQ(count_op(g, RMA_OP_EXPAND), 1);
  EXPECT_EQ(count_op(g, CoreOp::kShape), 0);
  EXPECT_TRUE(g.value(g.outputs()[1]).constant.has_value());
}

TEST(GraphPasses, SimplifyShapes) {
  GraphBuilder b;
  const Dim n = Dim::sym("n");
  const Var x = b.input("x", DType::kF32, {n, Dim::of(4), Dim::of(6)});
  const Var same = b.reshape(x, {0, 0, 6});                            // identity
  const Var flat = b.reshape(b.reshape(same, {0, 24}), {0, 2, 12});    // merges into one
  const Var t = b.transpose(b.transpose(flat, {0, 2, 1}), {0, 2, 1});  // cancels
  const Var c = b.cast(t, DType::kF32);                                // identity
  const Var m = b.reduce_mean(c, {-1});
  // A reduce_dynamic with constant axes becomes an interface reduce.
  const Var axes = b.constant_ints({-1}, {1});
  const Var r =
      b.node(CoreOp::kReduceDynamic, {m, axes}, {}, {{"kind", int64_t{RMA_REDUCE_SUM}}})[0];
  b.output(r, "r");
  const Graph g = b.build();
  const std::vector<std::vector<Tensor>> runs{{random_f32({2, 4, 6}, 4)}};
  const Graph s = check_pass(g, simplify_shapes, runs);
  EXPECT_EQ(count_op(s, RMA_OP_TRANSPOSE), 0);
  EXPECT_EQ(count_op(s, RMA_OP_CAST), 0);
  EXPECT_EQ(count_op(s, CoreOp::kReshape), 1);
  EXPECT_EQ(count_op(s, CoreOp::kReduceDynamic), 0);
  EXPECT_EQ(count_op(s, RMA_OP_REDUCE), 2);
  EXPECT_EQ(s.value(s.outputs()[0]).name, "r");
}

TEST(GraphPasses, SimplifyReshapeWithConstantShape) {
  // reshape(x, [0, -1]) with the target as a tensor becomes a static
  // reshape, then merges with the next one into the identity.
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("n"), Dim::of(2), Dim::of(3)});
  const Var flat = b.reshape_to(x, b.constant_ints({0, -1}, {2}));
  EXPECT_EQ(to_string(b.shape(flat)), "[n, 6]");
  b.output(b.softmax(b.reshape(flat, {0, 2, 3})), "y");
  const Graph s = check_pass(b.build(), simplify_shapes, {{random_f32({2, 2, 3}, 33)}});
  EXPECT_EQ(count_op(s, CoreOp::kReshape), 0) << s.summary();
}

TEST(GraphPasses, SimplifyKeepsGraphOutputNames) {
  // The identity view is itself a graph output fed by a graph input: kept.
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::of(2)});
  b.output(b.reshape(x, {2}), "y");
  Graph g = b.build();
  simplify_shapes(g);
  EXPECT_EQ(g.value(g.outputs()[0]).name, "y");
  EXPECT_EQ(g.nodes().size(), 1u);
}

// --------------------------------------------------------------- GELU, SiLU

// 0.5·x·(1 + erf(x/√2)) in the association `order` (0, 1, 2).
Var gelu_erf_pattern(GraphBuilder& b, Var x, int order, double sqrt2 = std::sqrt(2.0)) {
  const Var e = b.erf(order == 1 ? b.mul(x, b.scalar(1 / sqrt2)) : b.div(x, b.scalar(sqrt2)));
  const Var a = b.add(e, b.scalar(1));
  if (order == 0) return b.mul(b.mul(x, a), b.scalar(0.5));
  if (order == 1) return b.mul(b.mul(b.scalar(0.5), a), x);
  return b.mul(b.mul(x, b.scalar(0.5)), a);
}

Var gelu_tanh_pattern(GraphBuilder& b, Var x, double cubic = 0.044715) {
  const Var x3 = b.pow(x, b.scalar(3));
  const Var inner = b.add(x, b.mul(b.scalar(cubic), x3));
  const Var t = b.tanh(b.mul(inner, b.scalar(std::sqrt(2 / M_PI))));
  return b.mul(b.mul(b.scalar(0.5), x), b.add(b.scalar(1), t));
}

TEST(GraphPasses, FuseGeluErfInEveryOrder) {
  for (int order = 0; order < 3; ++order) {
    GraphBuilder b;
    const Var x = b.input("x", DType::kF32, {Dim::sym("n"), Dim::of(8)});
    b.output(gelu_erf_pattern(b, x, order), "y");
    const Graph g = b.build();
    const Graph f = check_pass(g, fuse_gelu, {{random_f32({3, 8}, 5, -3, 3)}}, 1);
    EXPECT_EQ(count_unary(f, RMA_UNARY_GELU), 1) << order;
    EXPECT_EQ(f.nodes().size(), 1u) << f.summary();
    EXPECT_EQ(f.value(f.outputs()[0]).name, "y");
  }
}

TEST(GraphPasses, FuseGeluTanhAndRejectWrongConstants) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::of(4), Dim::of(8)});
  b.output(gelu_tanh_pattern(b, x));
  b.output(gelu_erf_pattern(b, x, 0, 1.414));  // not √2: must stay
  b.output(gelu_tanh_pattern(b, x, 0.0447));   // not 0.044715: must stay
  const Graph g = b.build();
  const Graph f = check_pass(g, fuse_gelu, {{random_f32({4, 8}, 6, -3, 3)}}, 1);
  EXPECT_EQ(count_unary(f, RMA_UNARY_GELU_TANH), 1);
  EXPECT_EQ(count_unary(f, RMA_UNARY_GELU), 0);
  EXPECT_EQ(count_unary(f, RMA_UNARY_ERF), 1);
  EXPECT_EQ(count_unary(f, RMA_UNARY_TANH), 1);
}

TEST(GraphPasses, FuseSilu) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::of(4), Dim::of(8)});
  b.output(b.mul(b.sigmoid(x), x));
  const Var s = b.sigmoid(x);  // also read elsewhere: must stay
  b.output(b.mul(x, s));
  b.output(s);
  const Graph f = check_pass(b.build(), fuse_silu, {{random_f32({4, 8}, 7, -4, 4)}}, 1);
  EXPECT_EQ(count_unary(f, RMA_UNARY_SILU), 1);
  EXPECT_EQ(count_unary(f, RMA_UNARY_SIGMOID), 1);
}

// ------------------------------------------------------------------ norms

// LayerNorm as torch.onnx exports it (opset < 17).
Var layer_norm_pattern(GraphBuilder& b, Var x, Var w, Var bias, float eps) {
  const Var mean = b.reduce_mean(x, {-1});
  const Var d = b.sub(x, mean);
  const Var var = b.reduce_mean(b.pow(d, b.scalar(2)), {-1});
  const Var n = b.div(d, b.sqrt(b.add(var, b.scalar(eps))));
  Var y = w.defined() ? b.mul(n, w) : n;
  return bias.defined() ? b.add(y, bias) : y;
}

TEST(GraphPasses, FuseLayerNorm) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::sym("seq"), Dim::of(16)});
  const Var w = b.constant("w", random_f32({16}, 8, 0.5f, 1.5f));
  const Var bias = b.constant("b", random_f32({16}, 9));
  b.output(layer_norm_pattern(b, x, w, bias, 1e-5f), "y");
  b.output(layer_norm_pattern(b, x, {}, {}, 1e-12f), "y_plain");
  const Graph g = b.build();
  const std::vector<std::vector<Tensor>> runs{{random_f32({2, 3, 16}, 10, -2, 2)},
                                              {random_f32({1, 5, 16}, 11, -2, 2)}};
  const Graph f = check_pass(g, fuse_layer_norm, runs, 2);
  ASSERT_EQ(count_op(f, RMA_OP_LAYER_NORM), 2) << f.summary();
  EXPECT_EQ(f.nodes().size(), 2u) << f.summary();
  for (const Node& n : f.nodes()) {
    const float eps = n.attrs_as<rma_norm_attrs>().eps;
    EXPECT_TRUE(eps == 1e-5f || eps == 1e-12f) << eps;
  }
}

TEST(GraphPasses, LayerNormOverAnotherAxisIsNotFused) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::of(4), Dim::of(6)});
  const Var mean = b.reduce_mean(x, {0});
  const Var d = b.sub(x, mean);
  const Var var = b.reduce_mean(b.mul(d, d), {0});
  b.output(b.div(d, b.sqrt(b.add(var, b.scalar(1e-5)))));
  Graph g = b.build();
  EXPECT_EQ(fuse_layer_norm(g), 0);
  EXPECT_EQ(fuse_rms_norm(g), 0);
}

TEST(GraphPasses, FuseRmsNormSpellings) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("t"), Dim::of(32)});
  const Var w = b.constant("w", random_f32({32}, 12, 0.5f, 1.5f));
  auto ms = [&](Var v, bool square_by_mul) {
    return b.reduce_mean(square_by_mul ? b.mul(v, v) : b.pow(v, b.scalar(2)), {-1});
  };
  // Llama: x · rsqrt(mean(x²) + eps) · w
  b.output(b.mul(w, b.mul(x, b.rsqrt(b.add(ms(x, false), b.scalar(1e-6))))), "llama");
  // x / sqrt(mean(x·x) + eps)
  b.output(b.div(x, b.sqrt(b.add(ms(x, true), b.scalar(1e-5)))), "div");
  // x · reciprocal(sqrt(...)) · w
  b.output(b.mul(b.mul(x, b.reciprocal(b.sqrt(b.add(ms(x, false), b.scalar(1e-5))))), w), "recip");
  const Graph g = b.build();
  const Graph f = check_pass(g, fuse_rms_norm, {{random_f32({3, 32}, 13, -2, 2)}}, 3);
  EXPECT_EQ(count_op(f, RMA_OP_RMS_NORM), 3);
  EXPECT_EQ(f.nodes().size(), 3u) << f.summary();
}

// ----------------------------------------------------------------- linear

TEST(GraphPasses, FuseLinearEpilogues) {
  const std::vector<std::pair<rma_unary_kind, Activation>> acts = {
      {RMA_UNARY_RELU, Activation::kRelu},           {RMA_UNARY_GELU, Activation::kGelu},
      {RMA_UNARY_GELU_TANH, Activation::kGeluTanh},  {RMA_UNARY_SILU, Activation::kSilu},
      {RMA_UNARY_SIGMOID, Activation::kSigmoid},     {RMA_UNARY_TANH, Activation::kTanh},
      {RMA_UNARY_LEAKY_RELU, Activation::kLeakyRelu}};
  for (const auto& [kind, act] : acts) {
    GraphBuilder b;
    const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::of(3), Dim::of(8)});
    const Var w = b.constant("w", random_f32({8, 5}, 14));  // [K, N] as MatMul has it
    const Var bias = b.constant("bias", random_f32({1, 5}, 15));
    b.output(b.unary(kind, b.add(b.matmul(x, w), bias), 0.2f), "y");
    const Graph f = check_pass(b.build(), fuse_linear, {{random_f32({2, 3, 8}, 16)}}, 1);
    ASSERT_EQ(count_op(f, RMA_OP_LINEAR), 1);
    ASSERT_EQ(f.nodes().size(), 1u) << f.summary();
    const auto& a = f.nodes()[0].attrs_as<rma_linear_attrs>();
    EXPECT_EQ(a.activation, static_cast<int32_t>(act));
    EXPECT_EQ(a.trans_b, 1);
    EXPECT_EQ(f.value(f.nodes()[0].inputs[1]).shape, sym_shape({5, 8}));  // the linear layout
  }
}

TEST(GraphPasses, LinearNeedsConstantWeightsAndKeepsSharedValues) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::of(2), Dim::of(4)});
  const Var wdyn = b.input("w", DType::kF32, {Dim::of(4), Dim::of(4)});
  const Var w = b.constant("wc", random_f32({4, 4}, 17));
  const Var y = b.matmul(x, wdyn);  // not constant: stays a matmul
  const Var z = b.matmul(x, w);
  b.output(y);
  b.output(z);  // z is an output: the relu is not folded in
  b.output(b.relu(z));
  const Graph f =
      check_pass(b.build(), fuse_linear, {{random_f32({2, 4}, 18), random_f32({4, 4}, 19)}}, 1);
  EXPECT_EQ(count_op(f, RMA_OP_MATMUL), 1);
  EXPECT_EQ(count_op(f, RMA_OP_LINEAR), 1);
  EXPECT_EQ(count_unary(f, RMA_UNARY_RELU), 1);
}

// A linear as the importer makes it from Gemm, followed by an activation:
// before, linear then unary; after, one linear with the activation as its
// epilogue. Not when the linear's output is read elsewhere or it already
// has an activation.
TEST(GraphPasses, FuseActivationIntoGemmLinear) {
  for (const auto& [kind, act] : std::vector<std::pair<rma_unary_kind, Activation>>{
           {RMA_UNARY_RELU, Activation::kRelu}, {RMA_UNARY_LEAKY_RELU, Activation::kLeakyRelu}}) {
    GraphBuilder b;
    const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::of(8)});
    const Var w = b.constant("w", random_f32({5, 8}, 31));  // [N, K]
    const Var bias = b.constant("bias", random_f32({5}, 32));
    b.output(b.unary(kind, b.linear(x, w, bias), 0.2f), "y");
    const Graph before = b.build();
    ASSERT_EQ(count_op(before, RMA_OP_LINEAR), 1);
    ASSERT_EQ(count_op(before, RMA_OP_UNARY), 1);
    const Graph f = check_pass(before, fuse_linear, {{random_f32({3, 8}, 33, -2.f, 2.f)}}, 1);
    ASSERT_EQ(f.nodes().size(), 1u) << f.summary();
    const auto& a = f.nodes()[0].attrs_as<rma_linear_attrs>();
    EXPECT_EQ(a.activation, static_cast<int32_t>(act));
    if (act == Activation::kLeakyRelu) {
      EXPECT_FLOAT_EQ(a.activation_param, 0.2f);
    }
    EXPECT_EQ(f.nodes()[0].inputs.size(), 3u);  // the bias kept
    EXPECT_EQ(f.outputs().size(), 1u);
  }
  {
    GraphBuilder b;
    const Var x = b.input("x", DType::kF32, {Dim::of(2), Dim::of(8)});
    const Var l1 = b.linear(x, b.constant("w1", random_f32({4, 8}, 34)));
    const Var l2 = b.linear(x, b.constant("w2", random_f32({4, 8}, 35)), {}, Activation::kGelu);
    b.output(l1);  // read elsewhere: the relu stays
    b.output(b.relu(l1));
    b.output(b.relu(l2));  // already has an activation
    Graph f = b.build();
    EXPECT_EQ(fuse_linear(f), 0) << f.summary();
    EXPECT_EQ(count_unary(f, RMA_UNARY_RELU), 2);
  }
}

// ------------------------------------------------------------ silu_and_mul

TEST(GraphPasses, FuseSiluAndMulOnHalves) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("t"), Dim::of(8)});
  const Var w = b.constant("w", random_f32({8, 12}, 20));
  const Var gu = b.matmul(x, w);  // [t, 12]: gate | up
  const Var gate = b.slice(gu, -1, 0, 6), up = b.slice(gu, -1, 6, 12);
  b.output(b.mul(b.mul(gate, b.sigmoid(gate)), up), "y");  // x·sigmoid(x) first
  const auto halves =
      b.node(CoreOp::kSplit, {gu}, {}, {{"axis", int64_t{-1}}, {"num_outputs", int64_t{2}}});
  b.output(b.mul(halves[1], b.gelu(halves[0], true)), "y2");
  Graph g = b.build();
  const std::vector<std::vector<Tensor>> runs{{random_f32({3, 8}, 21, -2, 2)}};
  Graph f = check_pass(g, fuse_silu, runs, 1);
  f = check_pass(f, fuse_silu_and_mul, runs, 2);
  EXPECT_EQ(count_op(f, RMA_OP_SILU_AND_MUL), 1) << f.summary();
  EXPECT_EQ(count_op(f, RMA_OP_GELU_AND_MUL), 1) << f.summary();
  EXPECT_EQ(count_op(f, RMA_OP_BINARY), 0) << f.summary();
}

// --------------------------------------------------------------- attention

// Self-attention over x [B, S, E] with H heads of D, as exported:
// q/k/v projections, reshape [B, S, H, D], transpose to heads, scores
// = q·kᵀ / √D (+ mask), softmax, ·v, back to [B, S, E], output projection.
Var attention_block(GraphBuilder& b, Var x, int64_t e, int64_t h, std::optional<Tensor> mask,
                    uint32_t seed) {
  const int64_t d = e / h;
  auto proj = [&](uint32_t s) {
    return b.add(b.matmul(x, b.constant(random_f32({e, e}, s).to_vector<float>(), {e, e})),
                 b.constant(random_f32({e}, s + 100).to_vector<float>(), {e}));
  };
  const Var q = b.transpose(b.reshape(proj(seed), {0, 0, h, d}), {0, 2, 1, 3});
  const Var k = b.transpose(b.reshape(proj(seed + 1), {0, 0, h, d}), {0, 2, 1, 3});
  const Var v = b.transpose(b.reshape(proj(seed + 2), {0, 0, h, d}), {0, 2, 1, 3});
  Var scores = b.div(b.matmul(q, b.transpose(k, {0, 1, 3, 2})), b.scalar(std::sqrt(double(d))));
  if (mask) scores = b.add(scores, b.constant(mask->to_vector<float>(), mask->shape()));
  const Var o = b.matmul(b.softmax(scores), v);
  const Var merged = b.reshape(b.transpose(o, {0, 2, 1, 3}), {0, 0, e});
  return b.add(
      b.matmul(merged, b.constant(random_f32({e, e}, seed + 3).to_vector<float>(), {e, e})), x);
}

Tensor causal_mask(int64_t s, float masked) {
  std::vector<float> m(s * s);
  for (int64_t i = 0; i < s; ++i)
    for (int64_t j = 0; j < s; ++j) m[i * s + j] = j <= i ? 0.f : masked;
  return Tensor::from_vector(m, {1, 1, s, s}, DType::kF32, cpu());
}

TEST(GraphPasses, FuseAttentionSymbolicShapesNoMask) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::sym("seq"), Dim::of(16)});
  b.output(attention_block(b, x, 16, 2, std::nullopt, 30), "y");
  const Graph g = b.build();
  const std::vector<std::vector<Tensor>> runs{{random_f32({2, 3, 16}, 31)},
                                              {random_f32({1, 5, 16}, 32)}};
  const Graph f = check_pass(g, fuse_attention, runs, 1, 1e-4f);
  ASSERT_EQ(count_op(f, RMA_OP_PREFILL_ATTENTION), 1) << f.summary();
  EXPECT_EQ(count_op(f, RMA_OP_SOFTMAX), 0);
  for (const Node& n : f.nodes()) {
    if (n.op != OpKind(RMA_OP_PREFILL_ATTENTION)) continue;
    EXPECT_EQ(n.attrs_as<rma_attention_attrs>().causal, 0);
    EXPECT_FLOAT_EQ(n.attrs_as<rma_attention_attrs>().scale, 1 / std::sqrt(8.f));
  }
  // After the whole pipeline the transposes around the heads cancel.
  Graph all = g;
  run_passes(all, 2);
  expect_close(run(g, runs[0]), run(all, runs[0]), 1e-4f);
  EXPECT_EQ(count_op(all, RMA_OP_PREFILL_ATTENTION), 1);
  EXPECT_EQ(count_op(all, RMA_OP_LINEAR), 4) << all.summary();
  EXPECT_EQ(count_op(all, RMA_OP_TRANSPOSE), 0) << all.summary();
  EXPECT_EQ(count_op(all, RMA_OP_MATMUL), 0) << all.summary();
}

TEST(GraphPasses, FuseAttentionCausalMask) {
  for (const float masked : {-INFINITY, -1e9f, -10000.f}) {
    GraphBuilder b;
    const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::of(4), Dim::of(16)});
    b.output(attention_block(b, x, 16, 4, causal_mask(4, masked), 40), "y");
    const Graph f = check_pass(b.build(), fuse_attention, {{random_f32({2, 4, 16}, 41)}}, 1, 1e-4f);
    for (const Node& n : f.nodes()) {
      if (n.op == OpKind(RMA_OP_PREFILL_ATTENTION)) {
        EXPECT_EQ(n.attrs_as<rma_attention_attrs>().causal, 1);
      }
    }
  }
  // A mask that is neither causal nor zero (one more key hidden) stays.
  Tensor odd = causal_mask(4, -1e9f);
  {
    std::vector<float> m = odd.to_vector<float>();
    m[1 * 4 + 0] = -1e9f;
    odd = Tensor::from_vector(m, {1, 1, 4, 4}, DType::kF32, cpu());
  }
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::of(1), Dim::of(4), Dim::of(16)});
  b.output(attention_block(b, x, 16, 4, odd, 50));
  Graph g = b.build();
  EXPECT_EQ(fuse_attention(g), 0);
}

// BERT's padding mask is computed from the attention_mask input, which
// prefill_attention cannot express: the attention stays matmul -> softmax ->
// matmul with the mask added, and the score scale moves into the q linear.
TEST(GraphPasses, AttentionWithAnInputMaskFoldsTheScaleIntoQ) {
  const int64_t e = 16, h = 2, d = e / h;
  auto build = [&](bool scale_by_mul) {
    GraphBuilder b;
    const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::sym("seq"), Dim::of(e)});
    const Var mask =
        b.input("mask", DType::kF32, {Dim::sym("batch"), Dim::of(1), Dim::of(1), Dim::sym("seq")});
    auto proj = [&](uint32_t s) {
      return b.add(b.matmul(x, b.constant(random_f32({e, e}, s).to_vector<float>(), {e, e})),
                   b.constant(random_f32({e}, s + 100).to_vector<float>(), {e}));
    };
    const Var q = b.transpose(b.reshape(proj(80), {0, 0, h, d}), {0, 2, 1, 3});
    const Var kt = b.transpose(b.reshape(proj(81), {0, 0, h, d}), {0, 2, 3, 1});
    const Var v = b.transpose(b.reshape(proj(82), {0, 0, h, d}), {0, 2, 1, 3});
    const Var qk = b.matmul(q, kt);
    const Var scaled = scale_by_mul ? b.mul(qk, b.scalar(1 / std::sqrt(double(d))))
                                    : b.div(qk, b.scalar(std::sqrt(double(d))));
    const Var o = b.matmul(b.softmax(b.add(scaled, mask)), v);
    b.output(b.reshape(b.transpose(o, {0, 2, 1, 3}), {0, 0, e}), "y");
    return b.build();
  };
  // Padding: the second sequence keeps 3 of 5 keys.
  std::vector<float> m(2 * 5, 0.f);
  m[5 + 3] = m[5 + 4] = -3.4e38f;
  const Tensor mask = Tensor::from_vector(m, {2, 1, 1, 5}, DType::kF32, cpu());
  for (const bool by_mul : {true, false}) {
    const Graph g = build(by_mul);
    Graph f = g;
    run_passes(f, 2);
    expect_close(run(g, {random_f32({2, 5, e}, 83), mask}),
                 run(f, {random_f32({2, 5, e}, 83), mask}), 1e-4f);
    EXPECT_EQ(count_op(f, RMA_OP_PREFILL_ATTENTION), 0) << f.summary();
    EXPECT_EQ(count_op(f, RMA_OP_MATMUL), 2) << f.summary();
    EXPECT_EQ(count_op(f, RMA_OP_SOFTMAX), 1) << f.summary();
    EXPECT_EQ(count_op(f, RMA_OP_BINARY), 1) << f.summary();  // the mask add only
    int scaled_linears = 0;
    for (const Node& n : f.nodes())
      if (n.op == OpKind(RMA_OP_LINEAR))
        scaled_linears +=
            std::fabs(n.attrs_as<rma_linear_attrs>().alpha - 1 / std::sqrt(8.f)) < 1e-6f;
    EXPECT_EQ(scaled_linears, 1) << f.summary();
  }
}

// ------------------------------------------------------------- pipelines

TEST(GraphPasses, TransformerBlockThroughThePipeline) {
  // LayerNorm -> attention -> residual -> RMSNorm -> MLP (GELU) -> residual.
  GraphBuilder b;
  const int64_t e = 16;
  const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::sym("seq"), Dim::of(e)});
  const Var ln = layer_norm_pattern(b, x, b.constant("ln_w", random_f32({e}, 60, 0.5f, 1.5f)),
                                    b.constant("ln_b", random_f32({e}, 61)), 1e-5f);
  const Var h = attention_block(b, ln, e, 2, std::nullopt, 62);
  const Var ms = b.reduce_mean(b.pow(h, b.scalar(2)), {-1});
  const Var rn = b.mul(b.mul(h, b.rsqrt(b.add(ms, b.scalar(1e-6)))),
                       b.constant("rms_w", random_f32({e}, 70, 0.5f, 1.5f)));
  const Var up = b.add(b.matmul(rn, b.constant("up", random_f32({e, 4 * e}, 71))),
                       b.constant("up_b", random_f32({4 * e}, 72)));
  const Var down =
      b.matmul(gelu_erf_pattern(b, up, 0), b.constant("down", random_f32({4 * e, e}, 73)));
  b.output(b.add(down, h), "y");
  const Graph g = b.build();
  const std::vector<std::vector<Tensor>> runs{{random_f32({2, 3, e}, 74)},
                                              {random_f32({1, 6, e}, 75)}};

  for (int level = 0; level <= 3; ++level) {
    Graph opt = g;
    const std::vector<PassRun> ran = run_passes(opt, level);
    opt.validate();
    for (const auto& inputs : runs) expect_close(run(g, inputs), run(opt, inputs), 1e-4f);
    if (level == 0) {
      EXPECT_TRUE(ran.empty());
    }
    if (level >= 2) {
      EXPECT_EQ(count_op(opt, RMA_OP_LAYER_NORM), 1) << opt.summary();
      EXPECT_EQ(count_op(opt, RMA_OP_RMS_NORM), 1) << opt.summary();
      EXPECT_EQ(count_op(opt, RMA_OP_PREFILL_ATTENTION), 1) << opt.summary();
      EXPECT_EQ(count_op(opt, RMA_OP_LINEAR), 6) << opt.summary();
      EXPECT_EQ(count_op(opt, RMA_OP_UNARY), 0) << opt.summary();  // gelu went into a linear
      bool gelu_epilogue = false;
      for (const Node& n : opt.nodes())
        if (n.op == OpKind(RMA_OP_LINEAR))
          gelu_epilogue |= n.attrs_as<rma_linear_attrs>().activation == RMA_ACT_GELU;
      EXPECT_TRUE(gelu_epilogue);
    }
  }
}

}  // namespace
}  // namespace rma::graph
