// The graph IR: building with GraphBuilder, symbolic shape inference,
// specialization (binding, shape computations, lowering, errors) and the
// single-device interpreter against hand-computed results.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "rma/device.h"
#include "rma/error.h"
#include "rma/graph/builder.h"
#include "rma/graph/interpreter.h"
#include "rma/graph/ir.h"

namespace rma::graph {
namespace {

Device cpu() { return Runtime::get().device("cpu"); }

Tensor f32(const std::vector<float>& v, const Shape& s) {
  return Tensor::from_vector(v, s, DType::kF32, cpu());
}
Tensor i64(const std::vector<int64_t>& v, const Shape& s) {
  return Tensor::from_vector(v, s, DType::kI64, cpu());
}
std::vector<float> floats(const Tensor& t) { return t.to(cpu()).to_vector<float>(); }

Tensor random_f32(const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(numel(s));
  for (float& x : v) x = u(rng);
  return f32(v, s);
}

// Runs `fn` and returns the rma::Error's text ("" when nothing threw).
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool has_op(const Graph& g, OpKind op) {
  for (const Node& n : g.nodes())
    if (n.op == op) return true;
  return false;
}

// ------------------------------------------------------------------ shapes

TEST(GraphIr, DimsPrintAndConvert) {
  EXPECT_EQ(to_string(Dim::of(128)), "128");
  EXPECT_EQ(to_string(Dim::sym("batch")), "batch");
  EXPECT_EQ(to_string(SymShape{Dim::sym("batch"), Dim::of(64)}), "[batch, 64]");
  EXPECT_EQ(sym_shape({2, 3}), (SymShape{Dim::of(2), Dim::of(3)}));
  EXPECT_EQ(known_shape({Dim::of(2), Dim::of(3)}), (Shape{2, 3}));
  EXPECT_FALSE(known_shape({Dim::sym("n"), Dim::of(3)}));
  EXPECT_EQ(core_op_name(CoreOp::kSliceDynamic), "slice_dynamic");
  EXPECT_EQ(op_kind_name(RMA_OP_LINEAR), "linear");
  EXPECT_EQ(op_kind_name(CoreOp::kReshape), "core.reshape");
}

TEST(GraphIr, SymbolicLinearAndBroadcast) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::of(4)});
  const Var w = b.constant("w", random_f32({3, 4}, 1));
  const Var bias = b.constant("bias", random_f32({3}, 2));
  const Var y = b.linear(x, w, bias, Activation::kGelu);
  EXPECT_EQ(b.shape(y), (SymShape{Dim::sym("batch"), Dim::of(3)}));
  const Var z = b.add(y, b.constant(std::vector<float>{1, 2, 3}, {3}));
  EXPECT_EQ(b.shape(z), (SymShape{Dim::sym("batch"), Dim::of(3)}));
  // [batch, 1] + [1, seq] -> [batch, seq]
  const Var p = b.input("p", DType::kF32, {Dim::sym("batch"), Dim::of(1)});
  const Var q = b.input("q", DType::kF32, {Dim::of(1), Dim::sym("seq")});
  EXPECT_EQ(b.shape(b.mul(p, q)), (SymShape{Dim::sym("batch"), Dim::sym("seq")}));
  b.output(z, "z");
  const Graph g = b.build();
  EXPECT_EQ(g.value(g.outputs()[0]).name, "z");
  EXPECT_NE(g.summary().find("linear"), std::string::npos);
}

TEST(GraphIr, SymbolicReshapeMatmulConcatReduce) {
  GraphBuilder b;
  const Dim batch = Dim::sym("batch"), seq = Dim::sym("seq");
  const Var x = b.input("x", DType::kF32, {batch, seq, Dim::of(64)});
  const Var flat = b.reshape(x, {0, -1});
  EXPECT_EQ(to_string(b.shape(flat)), "[batch, 64*seq]");
  const Var back = b.reshape(flat, {0, -1, 64});
  EXPECT_EQ(b.shape(back), b.shape(x));
  const Var heads = b.reshape(x, {0, 0, 4, 16});
  const Var t = b.transpose(heads, {0, 2, 1, 3});  // [batch, 4, seq, 16]
  EXPECT_EQ(b.shape(t), (SymShape{batch, Dim::of(4), seq, Dim::of(16)}));
  const Var kt = b.transpose(heads, {0, 2, 3, 1});  // [batch, 4, 16, seq]
  const Var scores = b.matmul(t, kt);
  EXPECT_EQ(b.shape(scores), (SymShape{batch, Dim::of(4), seq, seq}));
  const Var r = b.reduce(RMA_REDUCE_MAX, scores, {-1}, false);
  EXPECT_EQ(b.shape(r), (SymShape{batch, Dim::of(4), seq}));
  const Var c = b.concat({x, x}, 2);
  EXPECT_EQ(b.shape(c), (SymShape{batch, seq, Dim::of(128)}));
  const Var c2 = b.concat({x, x}, 1);
  EXPECT_EQ(to_string(b.shape(c2)[1]), "2*seq");
  const Var f = b.flatten(x, 2);
  EXPECT_EQ(to_string(b.shape(f)), "[batch*seq, 64]");
  const Var s = b.slice(x, 1, 0, 1);  // symbolic axis: a dynamic slice
  EXPECT_EQ(b.shape(s).size(), 3u);
  const Var g = b.gather(x, b.constant_ints({0, 2}, {2}), 2);
  EXPECT_EQ(b.shape(g), (SymShape{batch, seq, Dim::of(2)}));
  EXPECT_EQ(b.dtype(b.cast(x, DType::kF16)), DType::kF16);
}

TEST(GraphIr, ShapeErrorsNameTheNode) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::of(4)});
  const Var w = b.constant("w", random_f32({3, 5}, 1));
  const std::string msg = error_of([&] { b.name_next("fc1").linear(x, w); });
  EXPECT_NE(msg.find("node 'fc1'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("K"), std::string::npos) << msg;
  const Var y = b.input("y", DType::kF32, {Dim::of(3), Dim::of(5)});
  const Var z = b.input("z", DType::kF32, {Dim::of(4), Dim::of(5)});
  EXPECT_NE(error_of([&] { b.add(y, z); }).find("does not broadcast"), std::string::npos);
  const Var ys = b.input("ys", DType::kF32, {Dim::sym("n"), Dim::of(5)});
  const Var zs = b.input("zs", DType::kF32, {Dim::sym("n"), Dim::of(4)});
  EXPECT_NE(error_of([&] { b.add(ys, zs); }).find("do not broadcast"), std::string::npos);
  EXPECT_NE(error_of([&] { b.reshape(y, {7, -1}); }).find("cannot reshape"), std::string::npos);
  const Var i = b.input("i", DType::kI64, {Dim::of(3)});
  EXPECT_NE(error_of([&] { b.exp(i); }), "");
  EXPECT_NE(error_of([&] { b.input("x", DType::kF32, {}); }).find("already used"),
            std::string::npos);
}

TEST(GraphIr, AddNodeChecksIdsAttributesAndNames) {
  Graph g;
  const ValueId x = g.add_input("x", DType::kF32, {Dim::of(2)});
  EXPECT_NE(error_of([&] { g.add_node("n", RMA_OP_SOFTMAX, {x}); }).find("attributes"),
            std::string::npos);
  EXPECT_NE(error_of([&] { g.add_node("n", CoreOp::kIdentity, {42}); }).find("not in the graph"),
            std::string::npos);
  g.add_node("n", CoreOp::kIdentity, {x});
  EXPECT_NE(error_of([&] { g.add_node("n", CoreOp::kIdentity, {x}); }).find("already used"),
            std::string::npos);
  const Node& node = g.nodes()[0];
  EXPECT_NE(error_of([&] { node.attrs_as<rma_norm_attrs>(); }).find("attributes are 0 bytes"),
            std::string::npos);
  EXPECT_EQ(g.find_value("n:0"), g.nodes()[0].outputs[0]);
  EXPECT_FALSE(g.find_value("nope"));
  EXPECT_EQ(g.fresh_value_name("x"), "x_1");
}

TEST(GraphIr, ValidateDeadNodesReplaceAndSort) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::of(2), Dim::of(3)});
  const Var used = b.name_next("used").softmax(x);
  b.name_next("dead").softmax(x);
  b.output(used);
  Graph g = b.build();
  EXPECT_EQ(g.nodes().size(), 2u);
  EXPECT_EQ(g.remove_dead_nodes(), 1);
  EXPECT_EQ(g.nodes().size(), 1u);
  g.validate();

  // A node appended after its reader: sort_nodes restores the order, and
  // replace_uses keeps the output's name.
  const ValueId out = g.outputs()[0];
  const ValueId late = g.add_node("late", CoreOp::kIdentity, {g.inputs()[0]})[0];
  g.mutable_nodes()[0].inputs[0] = late;
  EXPECT_NE(error_of([&] { g.validate(); }).find("not defined before"), std::string::npos);
  g.sort_nodes();
  g.validate();
  EXPECT_EQ(g.nodes()[0].name, "late");
  const std::string name = g.value(out).name;
  // Inserting a node after `out`: its own read of `out` stays.
  const ValueId again = g.add_node("again", CoreOp::kIdentity, {out})[0];
  g.replace_uses(out, again);
  EXPECT_EQ(g.value(g.outputs()[0]).name, name);
  EXPECT_EQ(g.outputs()[0], again);
  EXPECT_EQ(g.nodes().back().inputs[0], out);
  g.validate();
}

// ----------------------------------------------------------- specialize

TEST(GraphSpecialize, BindsSymbolsAndChecksShapes) {
  GraphBuilder b;
  const Var ids = b.input("ids", DType::kF32, {Dim::sym("batch"), Dim::sym("seq")});
  const Var mask = b.input("mask", DType::kF32, {Dim::sym("batch"), Dim::sym("seq")});
  const Var fixed = b.input("fixed", DType::kF32, {Dim::of(4)});
  b.output(b.add(ids, mask));
  b.output(fixed);
  const Graph g = b.build();

  const Bindings bound = g.bind_symbols({{2, 5}, {2, 5}, {4}});
  EXPECT_EQ(bound.at("batch"), 2);
  EXPECT_EQ(bound.at("seq"), 5);
  const Graph s = g.specialize({{2, 5}, {2, 5}, {4}});
  EXPECT_TRUE(s.is_static());
  EXPECT_EQ(s.value(s.outputs()[0]).shape, sym_shape({2, 5}));

  std::string msg = error_of([&] { g.specialize({{2, 5}, {2, 7}, {4}}); });
  EXPECT_NE(msg.find("input 'mask' dim 1 ('seq'): got 7"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'seq' is 5 from input 'ids' dim 1"), std::string::npos) << msg;
  msg = error_of([&] { g.specialize({{2, 5}, {2, 5}, {3}}); });
  EXPECT_NE(msg.find("input 'fixed' dim 0: expected 4, got 3"), std::string::npos) << msg;
  msg = error_of([&] { g.specialize({{2, 5}, {2, 5, 1}, {4}}); });
  EXPECT_NE(msg.find("input 'mask': expected 2 dims"), std::string::npos) << msg;
  msg = error_of([&] { g.specialize({{2, 5}}); });
  EXPECT_NE(msg.find("expected 3 input shape(s) (ids, mask, fixed), got 1"), std::string::npos)
      << msg;
}

TEST(GraphSpecialize, EvaluatesShapeComputations) {
  // y = reshape(x, shape(z)) with z [batch, 6], x [batch, 2, 3]; r = range.
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::of(2), Dim::of(3)});
  const Var z = b.input("z", DType::kF32, {Dim::sym("batch"), Dim::of(6)});
  const Var shape = b.shape_of(z);
  const Var y = b.reshape_to(x, shape);
  EXPECT_EQ(b.shape(y), (SymShape{Dim::sym("batch"), Dim::of(6)}));
  const Var sum = b.add(y, z);
  const Var n = b.node(CoreOp::kSize, {z})[0];
  b.output(sum, "sum");
  b.output(n, "n");
  const Graph g = b.build();
  EXPECT_FALSE(g.is_static());

  const Graph s = g.specialize({{2, 2, 3}, {2, 6}});
  EXPECT_TRUE(s.is_static());
  EXPECT_FALSE(has_op(s, CoreOp::kShape));
  EXPECT_TRUE(s.value(s.outputs()[1]).constant.has_value());  // size folded

  std::vector<float> xs(12), zs(12);
  for (int i = 0; i < 12; ++i) xs[i] = float(i), zs[i] = float(100 * i);
  const auto out = run_graph(s, cpu(), {f32(xs, {2, 2, 3}), f32(zs, {2, 6})});
  const auto got = floats(out[0]);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(got[i], 101.f * i);
  EXPECT_EQ(out[1].to(cpu()).to_vector<int64_t>(), std::vector<int64_t>{12});
}

TEST(GraphSpecialize, LowersDynamicOps) {
  // x [n, 4]: slice [:, 1:3], expand, reduce, split, tile, range, constant_of_shape.
  Graph g;
  const ValueId x = g.add_input("x", DType::kF32, {Dim::sym("n"), Dim::of(4)});
  auto c = [&](const std::string& name, std::vector<int64_t> v) {
    return g.add_constant(name, i64(v, {static_cast<int64_t>(v.size())}));
  };
  const ValueId sl =
      g.add_node("slice", CoreOp::kSliceDynamic,
                 {x, c("starts", {1}), c("ends", {3}), c("axes", {-1}), c("steps", {1})})[0];
  const ValueId rd = g.add_node("reduce", CoreOp::kReduceDynamic, {x, c("raxes", {1})}, {},
                                {{"kind", std::string("sum")}, {"keepdims", int64_t{0}}})[0];
  const ValueId ex = g.add_node("expand", CoreOp::kExpandDynamic, {sl, c("eshape", {3, 1, 1})})[0];
  const auto parts = g.add_node("split", CoreOp::kSplit, {x}, {},
                                {{"axis", int64_t{1}}, {"num_outputs", int64_t{2}}});
  const ValueId tl = g.add_node("tile", CoreOp::kTile, {parts[1], c("reps", {1, 2})})[0];
  g.mark_output(sl);
  g.mark_output(rd);
  g.mark_output(ex);
  g.mark_output(parts[0]);
  g.mark_output(tl);
  EXPECT_EQ(to_string(g.value(rd).shape), "[n]");
  EXPECT_EQ(g.value(parts[0]).shape, (SymShape{Dim::sym("n"), Dim::of(2)}));
  EXPECT_EQ(g.value(tl).shape, (SymShape{Dim::sym("n"), Dim::of(4)}));

  const Graph s = g.specialize({{2, 4}});
  for (const Node& n : s.nodes()) {
    const CoreOp* core = std::get_if<CoreOp>(&n.op);
    EXPECT_TRUE(!core || is_view(*core)) << n.name << " is " << op_kind_name(n.op);
  }
  EXPECT_TRUE(has_op(s, RMA_OP_SLICE));
  EXPECT_TRUE(has_op(s, RMA_OP_REDUCE));
  EXPECT_TRUE(has_op(s, RMA_OP_EXPAND));
  EXPECT_EQ(s.value(s.outputs()[2]).shape, sym_shape({3, 2, 2}));

  const auto out = run_graph(s, cpu(), {f32({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4})});
  EXPECT_EQ(floats(out[0]), (std::vector<float>{2, 3, 6, 7}));
  EXPECT_EQ(floats(out[1]), (std::vector<float>{10, 26}));
  EXPECT_EQ(floats(out[2]).size(), 12u);
  EXPECT_EQ(floats(out[3]), (std::vector<float>{1, 2, 5, 6}));
  EXPECT_EQ(floats(out[4]), (std::vector<float>{3, 4, 3, 4, 7, 8, 7, 8}));
}

TEST(GraphSpecialize, RangeAndConstantOfShape) {
  Graph g;
  const ValueId x = g.add_input("x", DType::kF32, {Dim::sym("n")});
  const ValueId shape = g.add_node("shape", CoreOp::kShape, {x})[0];
  const ValueId fill =
      g.add_node("fill", CoreOp::kConstantOfShape, {shape}, {}, {{"value", f32({2.5f}, {1})}})[0];
  const ValueId sum = g.add_node("sum", RMA_OP_ADD, {x, fill})[0];
  const ValueId start = g.add_constant("start", i64({1}, {}));
  const ValueId limit = g.add_constant("limit", i64({10}, {}));
  const ValueId delta = g.add_constant("delta", i64({3}, {}));
  const ValueId r = g.add_node("range", CoreOp::kRange, {start, limit, delta})[0];
  EXPECT_EQ(g.value(r).shape, sym_shape({3}));
  EXPECT_EQ(g.value(fill).shape, (SymShape{Dim::sym("n")}));
  g.mark_output(sum);
  g.mark_output(r);
  const Graph s = g.specialize({{3}});
  const auto out = run_graph(s, cpu(), {f32({1, 2, 3}, {3})});
  EXPECT_EQ(floats(out[0]), (std::vector<float>{3.5f, 4.5f, 5.5f}));
  EXPECT_EQ(out[1].to(cpu()).to_vector<int64_t>(), (std::vector<int64_t>{1, 4, 7}));
}

TEST(GraphSpecialize, ValueDependentParametersAreAnError) {
  Graph g;
  const ValueId x = g.add_input("x", DType::kF32, {Dim::of(4)});
  const ValueId shape = g.add_input("target", DType::kI64, {Dim::of(2)});
  g.mark_output(g.add_node("reshape", CoreOp::kReshape, {x, shape})[0]);
  const std::string msg = error_of([&] { g.specialize({{4}, {2}}); });
  EXPECT_NE(msg.find("node 'reshape'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("depends on the values of graph inputs"), std::string::npos) << msg;
}

TEST(GraphSpecialize, DeadNodesAreLeftOut) {
  // A dead reshape by an input's values would not specialize; it is dropped.
  Graph g;
  const ValueId x = g.add_input("x", DType::kF32, {Dim::of(4)});
  const ValueId target = g.add_input("target", DType::kI64, {Dim::of(2)});
  g.add_node("dead", CoreOp::kReshape, {x, target});
  g.mark_output(g.add_node("live", CoreOp::kIdentity, {x})[0]);
  const Graph s = g.specialize({{4}, {2}});
  EXPECT_EQ(s.nodes().size(), 1u);
  EXPECT_EQ(s.inputs().size(), 2u);  // inputs stay, used or not
}

// ----------------------------------------------------------- interpreter

TEST(GraphInterpreter, LinearGeluAgainstHand) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::of(2)});
  const Var w = b.constant("w", f32({1, 2, -1, 0.5f, 0, 3}, {3, 2}));  // [N=3, K=2]
  const Var bias = b.constant("bias", f32({0.5f, -1, 0}, {3}));
  b.output(b.linear(x, w, bias, Activation::kGelu), "y");
  const Graph g = b.build();
  const std::vector<float> xs{1, -2, 0.5f, 4};
  const auto out = specialize_and_run(g, cpu(), {f32(xs, {2, 2})});
  const float wv[3][2] = {{1, 2}, {-1, 0.5f}, {0, 3}}, bv[3] = {0.5f, -1, 0};
  const auto got = floats(out[0]);
  ASSERT_EQ(got.size(), 6u);
  for (int t = 0; t < 2; ++t)
    for (int n = 0; n < 3; ++n) {
      const double z = xs[t * 2] * wv[n][0] + xs[t * 2 + 1] * wv[n][1] + bv[n];
      const double gelu = 0.5 * z * (1 + std::erf(z / std::sqrt(2.0)));
      EXPECT_NEAR(got[t * 3 + n], gelu, 1e-5) << t << "," << n;
    }
}

TEST(GraphInterpreter, ViewsTier2AndReuse) {
  // (x · 2 - 1) -> transpose -> reshape -> softmax, run twice by one Interpreter.
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::of(2), Dim::of(3)});
  const Var y = b.sub(b.mul(x, b.scalar(2)), b.scalar(1));
  const Var t = b.transpose(y, {1, 0});
  const Var r = b.reshape(t, {-1});
  b.output(b.softmax(r), "p");
  b.output(t, "t");
  const Interpreter interp(b.build().specialize({{2, 3}}), cpu());
  for (int round = 0; round < 2; ++round) {
    const std::vector<float> xs{0, 1, 2, 3, 4, 5};
    const auto out = interp.run({f32(xs, {2, 3})});
    const std::vector<float> t_want{-1, 5, 1, 7, 3, 9};  // 2x-1 transposed
    EXPECT_EQ(floats(out[1]), t_want);
    double denom = 0;
    for (float v : t_want) denom += std::exp(v);
    const auto p = floats(out[0]);
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(p[i], std::exp(t_want[i]) / denom, 1e-6);
  }
}

TEST(GraphInterpreter, InputErrorsAndNonStaticGraphs) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("n"), Dim::of(2)});
  b.output(b.softmax(x));
  const Graph g = b.build();
  std::string msg = error_of([&] { run_graph(g, cpu(), {f32({1, 2}, {1, 2})}); });
  EXPECT_NE(msg.find("specialize"), std::string::npos) << msg;
  const Graph s = g.specialize({{1, 2}});
  msg = error_of([&] { run_graph(s, cpu(), {f32({1, 2, 3, 4}, {2, 2})}); });
  EXPECT_NE(msg.find("input 'x': expected shape [1, 2], got [2, 2]"), std::string::npos) << msg;
  msg = error_of([&] { run_graph(s, cpu(), {i64({1, 2}, {1, 2})}); });
  EXPECT_NE(msg.find("input 'x': expected dtype f32, got i64"), std::string::npos) << msg;
  msg = error_of([&] { run_graph(s, cpu(), {}); });
  EXPECT_NE(msg.find("expected 1 input(s) (x), got 0"), std::string::npos) << msg;
}

TEST(GraphInterpreter, ConstantOutputsAndInputOutputs) {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::of(2)});
  const Var c = b.constant("c", f32({7, 8}, {2}));
  b.output(x);
  b.output(c);
  const Graph g = b.build();
  const auto out = run_graph(g, cpu(), {f32({1, 2}, {2})});
  EXPECT_EQ(floats(out[0]), (std::vector<float>{1, 2}));
  EXPECT_EQ(floats(out[1]), (std::vector<float>{7, 8}));
}

}  // namespace
}  // namespace rma::graph
