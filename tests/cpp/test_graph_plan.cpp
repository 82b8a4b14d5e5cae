// The memory planner (lifetimes, reuse, aliasing) and the plan executor
// (results against the ops run one by one, across cpu and opencl, bad inputs).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "declining_device.h"
#include "rma/error.h"
#include "rma/graph/builder.h"
#include "rma/graph/executor.h"
#include "rma/graph/interpreter.h"
#include "rma/graph/ir.h"
#include "rma/graph/memory_plan.h"
#include "rma/graph/partition.h"
#include "rma/ops.h"

namespace rma::graph {
namespace {

Device cpu() { return Runtime::get().device("cpu"); }

PartitionOptions strict_options() {
  PartitionOptions o;
  o.strict = true;
  return o;
}

// opencl:0 (PoCL gives one on any CPU) through a table that declines gather
// and transpose, so the fallbacks below happen whatever OpenCL runs itself.
std::optional<Device> opencl() {
  for (const Device& d : Runtime::get().devices())
    if (d.plugin_name() == "opencl") return test_support::declining_device(d);
  return std::nullopt;
}

std::vector<float> pattern(size_t n, float scale, int salt = 0) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = scale * static_cast<float>(static_cast<int>((i + salt) * 37 % 23) - 11);
  return v;
}

Tensor host_f32(const Shape& shape, float scale, int salt = 0) {
  return Tensor::from_vector(pattern(numel(shape), scale, salt), shape, DType::kF32, cpu());
}

void expect_near(const Tensor& got, const Tensor& want, float tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const std::vector<float> g = got.to_vector<float>();
  const std::vector<float> w = want.to_vector<float>();
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], w[i], tol * (1 + std::fabs(w[i]))) << what << " element " << i;
}

// A chain of `n` elementwise ops on x[64, 256]: each result is read only by
// the next op, so two arena slots serve every intermediate.
Graph chain(int n) {
  Graph g;
  ValueId v = g.add_input("x", DType::kF32, sym_shape({64, 256}));
  const ValueId c = g.add_constant("c", host_f32({256}, 0.01f));
  for (int i = 0; i < n; ++i)
    v = g.add_node("op" + std::to_string(i), i % 2 ? RMA_OP_MUL : RMA_OP_ADD, {v, c}, {})[0];
  g.mark_output(v);
  return g;
}

// Checks no two arena buffers that are live at one step share a byte.
void expect_disjoint(const MemoryPlan& m) {
  for (size_t a = 0; a < m.buffers.size(); ++a)
    for (size_t b = a + 1; b < m.buffers.size(); ++b) {
      const ValueBuffer& x = m.buffers[a];
      const ValueBuffer& y = m.buffers[b];
      if (x.kind != BufferKind::kArena || y.kind != BufferKind::kArena || x.device != y.device)
        continue;
      const bool same_time = !(x.last_step < y.first_step || y.last_step < x.first_step);
      const bool same_bytes = x.offset < y.offset + y.size && y.offset < x.offset + x.size;
      EXPECT_FALSE(same_time && same_bytes && x.size && y.size)
          << x.value_name << " and " << y.value_name << " overlap";
    }
}

TEST(GraphPlan, ChainReusesTwoSlots) {
  const Graph g = chain(6);
  const Placement p = partition(g, {cpu()});
  const MemoryPlan m = plan_memory(g, p);
  const uint64_t slot = 64 * 256 * 4;  // already a multiple of 256
  ASSERT_EQ(m.arenas.size(), 1u);
  EXPECT_EQ(m.arenas[0].buffers, 5);  // op5's result is the output: its own buffer
  EXPECT_EQ(m.arenas[0].naive_bytes, 5 * slot);
  EXPECT_EQ(m.arenas[0].planned_bytes, 2 * slot);
  EXPECT_EQ(m.arenas[0].max_live_bytes, 2 * slot);
  EXPECT_LT(m.planned_bytes(), m.naive_bytes());
  expect_disjoint(m);
  for (const ValueBuffer& b : m.buffers)
    if (b.kind == BufferKind::kArena) {
      EXPECT_EQ(b.offset % MemoryPlan::kAlignment, 0u);
    }
  const int out = m.find(g.outputs()[0], p.host);
  ASSERT_GE(out, 0);
  EXPECT_EQ(m.buffers[out].kind, BufferKind::kOutput);
  EXPECT_EQ(m.buffers[m.find(g.inputs()[0], p.host)].kind, BufferKind::kInput);
  EXPECT_EQ(m.buffers[m.find(*g.find_value("c"), p.host)].kind, BufferKind::kConstant);

  const nlohmann::json j = nlohmann::json::parse(m.to_json());
  EXPECT_EQ(j["arenas"][0]["planned_bytes"], 2 * slot);
  EXPECT_EQ(j["naive_bytes"], 5 * slot);
  EXPECT_NE(m.to_text().find("cpu: arena"), std::string::npos) << m.to_text();

  // And it computes what the ops compute one by one.
  Plan plan(g, p, m);
  EXPECT_EQ(plan.arena_bytes(), std::vector<uint64_t>{2 * slot});
  const Tensor x = host_f32({64, 256}, 0.1f, 3);
  const Tensor c = g.value(*g.find_value("c")).constant->reshape({256});
  Tensor want = x;
  for (int i = 0; i < 6; ++i) want = i % 2 ? ops::mul(want, c) : ops::add(want, c);
  const std::vector<Tensor> got = plan.run({x});
  ASSERT_EQ(got.size(), 1u);
  expect_near(got[0], want, 1e-6f, "chain");
  expect_near(got[0], run_graph(g, cpu(), {x})[0], 0, "chain vs the interpreter");
}

TEST(GraphPlan, BestFitFillsHolesLeftByLargeBuffers) {
  // big (long-lived) and a sequence of small ones that each die quickly:
  // the small ones must share space instead of stacking up.
  Graph g;
  const ValueId x = g.add_input("x", DType::kF32, sym_shape({1024}));
  const ValueId small = g.add_input("s", DType::kF32, sym_shape({64}));
  const ValueId big = g.add_node("big", RMA_OP_ADD, {x, x}, {})[0];
  ValueId v = small;
  for (const char* name : {"s0", "s1", "s2", "s3"}) v = g.add_node(name, RMA_OP_ADD, {v, v}, {})[0];
  const ValueId y = g.add_node("y", RMA_OP_ADD, {big, big}, {})[0];
  g.mark_output(y);
  g.mark_output(v);
  const Placement p = partition(g, {cpu()});
  const MemoryPlan m = plan_memory(g, p);
  expect_disjoint(m);
  // Arena: big (4 KiB, live to the end) + s0..s2 (256 B each, two at a time).
  EXPECT_EQ(m.arenas[0].planned_bytes, 4096u + 2 * 256u);
  EXPECT_EQ(m.arenas[0].planned_bytes, m.arenas[0].max_live_bytes);
  EXPECT_EQ(m.arenas[0].naive_bytes, 4096u + 3 * 256u);
}

TEST(GraphPlan, ViewsAliasAndExtendTheirInputsLifetime) {
  Graph g;
  const ValueId x = g.add_input("x", DType::kF32, sym_shape({4, 8}));
  const ValueId a = g.add_node("a", RMA_OP_ADD, {x, x}, {})[0];
  const ValueId flat = g.add_node("flat", CoreOp::kFlatten, {a}, {}, {{"axis", int64_t{0}}})[0];
  const ValueId b = g.add_node("b", RMA_OP_MUL, {x, x}, {})[0];
  const ValueId back =
      g.add_node("back", CoreOp::kReshape, {flat}, {}, {{"shape", std::vector<int64_t>{4, 8}}})[0];
  const ValueId y = g.add_node("y", RMA_OP_ADD, {back, b}, {})[0];
  g.mark_output(y);
  g.mark_output(flat);  // a view as a result: copied out of the arena
  const Placement p = partition(g, {cpu()});
  const MemoryPlan m = plan_memory(g, p);
  const int ba = m.find(a, 0), bflat = m.find(flat, 0), bback = m.find(back, 0);
  EXPECT_EQ(m.buffers[bflat].kind, BufferKind::kView);
  EXPECT_EQ(m.root(bback), ba);
  EXPECT_EQ(m.buffers[ba].last_step, static_cast<int>(p.steps.size()));  // until copied out
  const int bb = m.find(b, 0);
  EXPECT_NE(m.buffers[ba].offset, m.buffers[bb].offset);  // both live while y runs
  expect_disjoint(m);

  Plan plan(g, p, m);
  const Tensor xt = host_f32({4, 8}, 0.5f);
  const std::vector<Tensor> out = plan.run({xt});
  ASSERT_EQ(out.size(), 2u);
  const Tensor want_a = ops::add(xt, xt);
  expect_near(out[0], ops::add(want_a, ops::mul(xt, xt)), 1e-6f, "y");
  EXPECT_EQ(out[1].shape(), (Shape{1, 32}));
  expect_near(out[1], want_a.reshape({1, 32}), 1e-6f, "flat");
}

// x[4, 64] -> rms_norm -> linear -> gather rows -> linear -> y[3, 32]; also
// returns the norm's output so a result leaves from the middle.
Graph mixed_graph() {
  Graph g;
  const ValueId x = g.add_input("x", DType::kF32, sym_shape({4, 64}));
  const ValueId wn = g.add_constant("w_norm", host_f32({64}, 0.1f, 1));
  const ValueId w1 = g.add_constant("w1", host_f32({64, 64}, 0.01f, 2));
  const ValueId w2 = g.add_constant("w2", host_f32({32, 64}, 0.01f, 3));
  const ValueId idx = g.add_constant(
      "rows", Tensor::from_vector(std::vector<int64_t>{2, 0, 3}, {3}, DType::kI64, cpu()));
  rma_axis_attrs axis{};
  axis.struct_size = sizeof(axis);
  axis.abi_version = RMA_ABI_VERSION;
  const ValueId h = g.add_node("norm", RMA_OP_RMS_NORM, {x, wn}, abi_bytes(norm_attrs(1e-5f)))[0];
  const ValueId a = g.add_node("fc1", RMA_OP_LINEAR, {h, w1}, abi_bytes(linear_attrs()))[0];
  const ValueId r = g.add_node("pick", RMA_OP_GATHER, {a, idx}, abi_bytes(axis))[0];
  // w1 again: one upload serves both readers.
  const ValueId r2 = g.add_node("fc1b", RMA_OP_LINEAR, {r, w1}, abi_bytes(linear_attrs()))[0];
  const ValueId y = g.add_node("fc2", RMA_OP_LINEAR, {r2, w2}, abi_bytes(linear_attrs()))[0];
  g.mark_output(y);
  g.mark_output(h);
  return g;
}

// The same computation, op by op on the cpu.
std::vector<Tensor> mixed_reference(const Graph& g, const Tensor& x) {
  const auto constant = [&](const char* name) { return *g.value(*g.find_value(name)).constant; };
  rma_axis_attrs axis{};
  axis.struct_size = sizeof(axis);
  axis.abi_version = RMA_ABI_VERSION;
  const Tensor h = ops::rms_norm(x, constant("w_norm"), 1e-5f);
  const Tensor a = ops::linear(h, constant("w1"));
  const Tensor r = ops::run(RMA_OP_GATHER, {a, constant("rows")}, &axis).at(0);
  const Tensor r2 = ops::linear(r, constant("w1"));
  return {ops::linear(r2, constant("w2")), h};
}

bool cpu_runs_gather() {
  try {
    partition(mixed_graph(), {cpu()}, strict_options());
    return true;
  } catch (const Error&) {
    return false;
  }
}

TEST(GraphPlan, CpuAndOpenclMatchTheOpsRunOneByOne) {
  const auto ocl = opencl();
  if (!ocl) GTEST_SKIP() << "no OpenCL device";
  if (!cpu_runs_gather()) GTEST_SKIP() << "the cpu backend does not run gather yet";
  const Graph g = mixed_graph();
  testing::internal::CaptureStderr();  // the fallback warning
  Plan plan = Plan::create(g, {*ocl});
  testing::internal::GetCapturedStderr();
  const Placement& p = plan.placement();
  EXPECT_EQ(p.fallback_count(), 1);
  // w1 is read by two opencl nodes and uploaded once.
  EXPECT_EQ(p.constant_upload_bytes[0], (64 + 64 * 64 + 32 * 64) * 4u);
  const MemoryPlan& m = plan.memory_plan();
  expect_disjoint(m);
  EXPECT_GT(plan.arena_bytes()[0], 0u);

  for (int salt = 0; salt < 2; ++salt) {
    const Tensor x = host_f32({4, 64}, 0.25f, salt);
    const std::vector<Tensor> got = plan.run({x});
    const std::vector<Tensor> want = mixed_reference(g, x);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].device(), cpu());
    EXPECT_EQ(got[1].device(), cpu());
    expect_near(got[0], want[0], 1e-4f, "y");
    expect_near(got[1], want[1], 1e-4f, "norm");
  }

  // Results own their storage: a second run does not change the first's.
  const Tensor x1 = host_f32({4, 64}, 0.25f, 5);
  const std::vector<Tensor> first = plan.run({x1});
  const std::vector<float> kept = first[0].to_vector<float>();
  plan.run({host_f32({4, 64}, -1.f, 9)});
  EXPECT_EQ(first[0].to_vector<float>(), kept);

  // An input already on opencl is read there without a copy from the host.
  const Tensor x_ocl = x1.to(*ocl);
  expect_near(plan.run({x_ocl})[0], first[0], 1e-5f, "input on opencl");
}

TEST(GraphPlan, BuiltGraphMatchesTheInterpreterAcrossDevices) {
  const auto ocl = opencl();
  if (!ocl) GTEST_SKIP() << "no OpenCL device";
  // layer_norm -> linear+gelu -> reshape (a view on opencl) -> transpose
  // (Tier 2: the cpu) -> flatten -> softmax, for a symbolic batch.
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::of(64)});
  const Var ln_w = b.constant(pattern(64, 0.1f, 1), {64});
  const Var ln_b = b.constant(pattern(64, 0.01f, 2), {64});
  const Var w1 = b.constant(pattern(128 * 64, 0.01f, 3), {128, 64});
  const Var h = b.layer_norm(x, ln_w, ln_b, 1e-5f);
  const Var a = b.linear(h, w1, {}, Activation::kGelu);
  const Var heads = b.reshape(a, {0, 4, 32});
  const Var t = b.transpose(heads, {1, 0, 2});
  b.output(b.softmax(b.flatten(t, 1)), "probs");
  const Graph g = b.build().specialize({{3, 64}});

  PartitionOptions strict = strict_options();
  try {
    partition(g, {cpu()}, strict);
  } catch (const Error& e) {
    GTEST_SKIP() << "the cpu backend cannot run this graph yet: " << e.what();
  }
  testing::internal::CaptureStderr();
  Plan plan = Plan::create(g, {*ocl});
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(plan.placement().fallback_count(), 1);  // the transpose
  const Tensor x_in = host_f32({3, 64}, 0.2f, 4);
  const std::vector<Tensor> want = run_graph(g, cpu(), {x_in});
  const std::vector<Tensor> got = plan.run({x_in});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].shape(), (Shape{4, 96}));
  expect_near(got[0], want[0], 1e-4f, "probs");
}

TEST(GraphPlan, OutputsCanStayOnTheirDevice) {
  const auto ocl = opencl();
  if (!ocl) GTEST_SKIP() << "no OpenCL device";
  const Graph g = chain(3);
  PartitionOptions opts;
  opts.outputs_on_host = false;
  Plan plan = Plan::create(g, {*ocl}, opts);
  EXPECT_EQ(plan.placement().copies.size(), 1u);  // x in; the result stays
  const Tensor x = host_f32({64, 256}, 0.1f);
  const std::vector<Tensor> out = plan.run({x});
  EXPECT_EQ(out[0].device(), *ocl);
  const Tensor c = *g.value(*g.find_value("c")).constant;
  expect_near(out[0], ops::add(ops::mul(ops::add(x, c), c), c), 1e-6f, "chain on opencl");

  Plan home = Plan::create(g, {*ocl});
  EXPECT_EQ(home.placement().copies.size(), 2u);
  EXPECT_EQ(home.run({x})[0].device(), cpu());
}

TEST(GraphPlan, PassThroughAndConstantResults) {
  Graph g;
  const ValueId x = g.add_input("x", DType::kF32, sym_shape({2, 3}));
  const ValueId c = g.add_constant("c", host_f32({2, 3}, 1.f));
  g.mark_output(x);
  g.mark_output(c);
  g.mark_output(g.add_node("s", RMA_OP_ADD, {x, c}, {})[0]);
  Plan plan = Plan::create(g, {cpu()});
  const Tensor xt = host_f32({2, 3}, 2.f);
  const std::vector<Tensor> out = plan.run({xt});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].to_vector<float>(), xt.to_vector<float>());
  EXPECT_NE(out[0].buffer(), xt.buffer());  // a copy, not the caller's tensor
  EXPECT_EQ(out[1].to_vector<float>(), g.value(c).constant->to_vector<float>());
  EXPECT_NE(out[1].buffer(), g.value(c).constant->buffer());
  expect_near(out[2], ops::add(xt, *g.value(c).constant), 0, "sum");
}

TEST(GraphPlan, BadInputsAreErrorsNamingTheInput) {
  Graph g;
  const ValueId x = g.add_input("tokens", DType::kF32, sym_shape({2, 8}));
  const ValueId y = g.add_input("bias", DType::kF32, sym_shape({8}));
  g.mark_output(g.add_node("s", RMA_OP_ADD, {x, y}, {})[0]);
  Plan plan = Plan::create(g, {cpu()});
  const auto expect_error = [&](const std::vector<Tensor>& in, const std::string& needle) {
    try {
      plan.run(in);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const Tensor good_x = host_f32({2, 8}, 1.f);
  const Tensor good_b = host_f32({8}, 1.f);
  expect_error({good_x}, "takes 2 inputs (tokens, bias), got 1");
  expect_error({good_x, good_b, good_b}, "got 3");
  expect_error({good_x, Tensor{}}, "input 'bias' (#1) is an undefined tensor");
  expect_error({Tensor::zeros({2, 8}, DType::kI32, cpu()), good_b},
               "input 'tokens' (#0): expected dtype f32, got i32");
  expect_error({host_f32({3, 8}, 1.f), good_b},
               "input 'tokens' (#0): expected shape [2, 8], got [3, 8]");
  // A non-contiguous input is accepted (made dense first).
  const Tensor wide = host_f32({8, 2}, 1.f).transpose(0, 1);
  const std::vector<Tensor> out = plan.run({wide, good_b});
  expect_near(out[0], ops::add(wide.contiguous(), good_b), 0, "transposed input");
}

TEST(GraphPlan, ArenaSlotsAreTypedViewsOfOneBuffer) {
  const Tensor arena = Tensor::zeros({1024}, DType::kI8, cpu());
  const Tensor slot = arena.view_bytes(256, {4, 8}, DType::kF32);
  EXPECT_EQ(slot.buffer(), arena.buffer());
  EXPECT_EQ(slot.offset(), 256u);
  EXPECT_EQ(slot.nbytes(), 128u);
  EXPECT_TRUE(slot.is_contiguous());
  EXPECT_THROW(arena.view_bytes(1000, {8}, DType::kF32), Error);  // past the end
  EXPECT_THROW(arena.slice(0, 0, 512).view_bytes(500, {4}, DType::kF32), Error);
  EXPECT_THROW(arena.reshape({32, 32}).transpose(0, 1).view_bytes(0, {4}, DType::kF32), Error);
}

TEST(GraphPlan, MismatchedPlanPiecesAreErrors) {
  const Graph a = chain(2);
  const Graph b = chain(4);
  const Placement pa = partition(a, {cpu()});
  EXPECT_THROW(plan_memory(b, pa), Error);
  const MemoryPlan ma = plan_memory(a, pa);
  EXPECT_THROW(Plan(b, pa, ma), Error);
}

}  // namespace
}  // namespace rma::graph
