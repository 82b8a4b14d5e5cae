// Partitioning: placement by support and cost, CPU fallback with one
// warning, strict mode, copies, the report, and a compiling device's
// graph_partition answer (a fake device built in this file).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/device_impl.h"
#include "declining_device.h"
#include "rma/error.h"
#include "rma/graph/executor.h"
#include "rma/graph/ir.h"
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

// opencl:0 when this machine has one (PoCL gives one on any CPU), seen
// through a table that declines gather and transpose: the Tier-2 ops these
// tests make fall back, whatever the OpenCL backend runs itself.
std::optional<Device> opencl() {
  for (const Device& d : Runtime::get().devices())
    if (d.plugin_name() == "opencl") return test_support::declining_device(d);
  return std::nullopt;
}

Tensor host_f32(const Shape& shape, float scale) {
  std::vector<float> v(numel(shape));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = scale * static_cast<float>(static_cast<int>(i * 37 % 23) - 11);
  return Tensor::from_vector(v, shape, DType::kF32, cpu());
}

rma_axis_attrs axis_attrs(int axis) {
  rma_axis_attrs a{};
  a.struct_size = sizeof(a);
  a.abi_version = RMA_ABI_VERSION;
  a.axis = axis;
  return a;
}

// x[4, 64] -> rms_norm -> linear -> gather rows {2, 0, 3} (Tier 2) -> linear -> y[3, 32]
Graph mixed_graph() {
  Graph g;
  const ValueId x = g.add_input("x", DType::kF32, sym_shape({4, 64}));
  const ValueId wn = g.add_constant("w_norm", host_f32({64}, 0.1f));
  const ValueId w1 = g.add_constant("w1", host_f32({64, 64}, 0.01f));
  const ValueId w2 = g.add_constant("w2", host_f32({32, 64}, 0.01f));
  const ValueId idx = g.add_constant(
      "rows", Tensor::from_vector(std::vector<int64_t>{2, 0, 3}, {3}, DType::kI64, cpu()));
  const ValueId h = g.add_node("norm", RMA_OP_RMS_NORM, {x, wn}, abi_bytes(norm_attrs(1e-5f)))[0];
  const ValueId a = g.add_node("fc1", RMA_OP_LINEAR, {h, w1}, abi_bytes(linear_attrs()))[0];
  const ValueId r = g.add_node("pick", RMA_OP_GATHER, {a, idx}, abi_bytes(axis_attrs(0)))[0];
  const ValueId y = g.add_node("fc2", RMA_OP_LINEAR, {r, w2}, abi_bytes(linear_attrs()))[0];
  g.mark_output(y);
  return g;
}

// Whether `d` runs gather (a Tier-2 op) at all.
bool runs_gather(const Device& d) {
  const Graph g = mixed_graph();
  try {
    partition(g, {d}, strict_options());
    return true;
  } catch (const Error&) {
    return false;
  }
}

const NodePlacement& placed(const Placement& p, const std::string& node) {
  for (const NodePlacement& n : p.nodes)
    if (n.name == node) return n;
  throw std::runtime_error("no node " + node);
}

TEST(GraphPartition, CpuAloneRunsEverythingWithoutCopies) {
  const Graph g = mixed_graph();
  const Placement p = partition(g, {cpu()});
  ASSERT_EQ(p.devices.size(), 1u);
  EXPECT_EQ(p.host, 0);
  for (const NodePlacement& n : p.nodes) {
    EXPECT_EQ(n.device, 0) << n.name;
    EXPECT_FALSE(n.fallback) << n.name;
  }
  EXPECT_TRUE(p.copies.empty());
  EXPECT_EQ(p.bytes_moved(), 0u);
  EXPECT_EQ(p.fallback_count(), 0);
  EXPECT_TRUE(p.warning.empty());
  EXPECT_EQ(p.steps.size(), g.nodes().size());
  EXPECT_EQ(p.nodes_per_device(), std::vector<int>{4});
  EXPECT_EQ(p.constant_upload_bytes, std::vector<uint64_t>{0});  // read in place
  EXPECT_NE(p.to_text().find("fc1"), std::string::npos);
}

TEST(GraphPartition, OpenclFallsBackToCpuForTier2WithOneWarning) {
  const auto ocl = opencl();
  if (!ocl) GTEST_SKIP() << "no OpenCL device";
  if (!runs_gather(cpu())) GTEST_SKIP() << "the cpu backend does not run gather yet";
  const Graph g = mixed_graph();

  testing::internal::CaptureStderr();
  const Placement p = partition(g, {*ocl});
  const std::string log = testing::internal::GetCapturedStderr();

  ASSERT_EQ(p.devices.size(), 2u);  // opencl:0, then the host CPU added
  EXPECT_EQ(p.devices[0], *ocl);
  EXPECT_EQ(p.host, 1);
  EXPECT_EQ(placed(p, "norm").device, 0);
  EXPECT_EQ(placed(p, "fc1").device, 0);
  EXPECT_EQ(placed(p, "fc2").device, 0);
  const NodePlacement& pick = placed(p, "pick");
  EXPECT_EQ(pick.device, 1);
  EXPECT_TRUE(pick.fallback);
  ASSERT_EQ(pick.declined.size(), 1u);
  EXPECT_EQ(pick.declined[0].rfind(ocl->name() + ": ", 0), 0u) << pick.declined[0];
  EXPECT_NE(pick.reason.find("fallback: " + ocl->name()), std::string::npos) << pick.reason;
  EXPECT_EQ(p.fallback_count(), 1);
  EXPECT_EQ(p.nodes_per_device(), (std::vector<int>{3, 1}));

  // One warning, naming the op, the node and opencl's reason.
  ASSERT_FALSE(p.warning.empty());
  EXPECT_NE(p.warning.find("gather"), std::string::npos);
  EXPECT_NE(p.warning.find("'pick'"), std::string::npos);
  EXPECT_NE(p.warning.find(pick.declined[0]), std::string::npos) << p.warning;
  size_t warnings = 0;
  for (size_t at = log.find("[rma warning]"); at != std::string::npos;
       at = log.find("[rma warning]", at + 1))
    ++warnings;
  EXPECT_EQ(warnings, 1u) << log;
  EXPECT_NE(log.find(p.warning), std::string::npos) << log;

  // Copies: x in, fc1's output to the cpu, the gathered rows back, y home.
  ASSERT_EQ(p.copies.size(), 4u);
  const auto expect_copy = [&](size_t i, const std::string& value, int from, int to,
                               uint64_t bytes) {
    EXPECT_EQ(p.copies[i].value_name, value);
    EXPECT_EQ(p.copies[i].from, from);
    EXPECT_EQ(p.copies[i].to, to);
    EXPECT_EQ(p.copies[i].bytes, bytes);
  };
  expect_copy(0, "x", 1, 0, 4 * 64 * 4);
  expect_copy(1, "fc1:0", 0, 1, 4 * 64 * 4);
  expect_copy(2, "pick:0", 1, 0, 3 * 64 * 4);
  expect_copy(3, "fc2:0", 0, 1, 3 * 32 * 4);
  EXPECT_EQ(p.bytes_moved(), (4 * 64 + 4 * 64 + 3 * 64 + 3 * 32) * 4u);
  // Each copy comes right before its reader (or right after y's producer).
  ASSERT_EQ(p.steps.size(), 8u);
  EXPECT_EQ(p.steps[0].kind, Step::Kind::kCopy);
  EXPECT_EQ(p.steps[1].kind, Step::Kind::kNode);
  EXPECT_EQ(p.steps[7].kind, Step::Kind::kCopy);
  // The weights opencl reads are uploaded once; the cpu reads the rows in place.
  EXPECT_EQ(p.constant_upload_bytes[0], (64 + 64 * 64 + 32 * 64) * 4u);
  EXPECT_EQ(p.constant_upload_bytes[1], 0u);

  // The report: text and JSON.
  const std::string text = p.to_text();
  EXPECT_NE(text.find("copies: 4"), std::string::npos) << text;
  EXPECT_NE(text.find("fallback: "), std::string::npos) << text;
  const nlohmann::json j = nlohmann::json::parse(p.to_json());
  EXPECT_EQ(j["fallbacks"], 1);
  EXPECT_EQ(j["bytes_moved"], p.bytes_moved());
  EXPECT_EQ(j["nodes_per_device"][ocl->name()], 3);
  EXPECT_EQ(j["nodes_per_device"]["cpu"], 1);
  ASSERT_EQ(j["nodes"].size(), 4u);
  EXPECT_EQ(j["nodes"][2]["node"], "pick");
  EXPECT_EQ(j["nodes"][2]["device"], "cpu");
  EXPECT_EQ(j["nodes"][2]["fallback"], true);
  EXPECT_EQ(j["copies"][1]["value"], "fc1:0");
  EXPECT_EQ(j["warning"], p.warning);
}

TEST(GraphPartition, StrictTurnsFallbackIntoAnError) {
  const auto ocl = opencl();
  if (!ocl) GTEST_SKIP() << "no OpenCL device";
  const Graph g = mixed_graph();
  try {
    partition(g, {*ocl}, strict_options());
    FAIL() << "strict partition did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_EQ(e.op(), "gather");
    const std::string what = e.what();
    EXPECT_NE(what.find("'pick'"), std::string::npos) << what;
    EXPECT_NE(what.find("strict"), std::string::npos) << what;
    EXPECT_NE(what.find(ocl->name() + ": "), std::string::npos) << what;
  }
}

TEST(GraphPartition, RequestedCpuIsNoFallbackAndTiesGoToTheFirstDevice) {
  const auto ocl = opencl();
  if (!ocl) GTEST_SKIP() << "no OpenCL device";
  if (!runs_gather(cpu())) GTEST_SKIP() << "the cpu backend does not run gather yet";
  const Graph g = mixed_graph();
  // Equal figures and free copies: every cost ties.
  PartitionOptions tie;
  tie.copy_latency_us = 0;
  tie.link_gbps = 0;
  tie.throughput[ocl->name()] = {50, 20, 1};
  tie.throughput["cpu"] = {50, 20, 1};

  testing::internal::CaptureStderr();
  const Placement first_ocl = partition(g, {*ocl, cpu()}, tie);
  EXPECT_EQ(testing::internal::GetCapturedStderr().find("[rma warning]"), std::string::npos);
  EXPECT_EQ(first_ocl.devices.size(), 2u);
  EXPECT_EQ(placed(first_ocl, "norm").device, 0);
  EXPECT_EQ(placed(first_ocl, "fc2").device, 0);
  // cpu was asked for, so running gather there is a choice, not a fallback.
  EXPECT_EQ(placed(first_ocl, "pick").device, 1);
  EXPECT_FALSE(placed(first_ocl, "pick").fallback);
  EXPECT_NE(placed(first_ocl, "pick").reason.find("only cpu runs it"), std::string::npos);
  EXPECT_TRUE(first_ocl.warning.empty());

  const Placement first_cpu = partition(g, {cpu(), *ocl}, tie);
  for (const NodePlacement& n : first_cpu.nodes) EXPECT_EQ(n.device, 0) << n.name;
  EXPECT_TRUE(first_cpu.copies.empty());
}

TEST(GraphPartition, CostDecidesBetweenDevices) {
  const auto ocl = opencl();
  if (!ocl) GTEST_SKIP() << "no OpenCL device";
  if (!runs_gather(cpu())) GTEST_SKIP() << "the cpu backend does not run gather yet";
  const Graph g = mixed_graph();
  // Equal devices: copying x to opencl costs more than it saves, so the
  // whole graph stays on the cpu even though opencl was asked for first.
  PartitionOptions same;
  same.throughput[ocl->name()] = {50, 20, 1};
  same.throughput["cpu"] = {50, 20, 1};
  const Placement stay = partition(g, {*ocl, cpu()}, same);
  for (const NodePlacement& n : stay.nodes) EXPECT_EQ(n.device, 1) << n.name;
  EXPECT_TRUE(stay.copies.empty());
  EXPECT_NE(placed(stay, "norm").reason.find("cost "), std::string::npos);
  EXPECT_NE(placed(stay, "norm").reason.find(ocl->name()), std::string::npos);

  // A much faster opencl with a free link takes every node it runs.
  PartitionOptions fast = same;
  fast.throughput[ocl->name()] = {1e6, 1e6, 0.001};
  fast.copy_latency_us = 0;
  fast.link_gbps = 1e9;
  const Placement moved = partition(g, {*ocl, cpu()}, fast);
  EXPECT_EQ(placed(moved, "norm").device, 0);
  EXPECT_EQ(placed(moved, "fc1").device, 0);
  EXPECT_EQ(placed(moved, "pick").device, 1);
  EXPECT_EQ(placed(moved, "fc2").device, 0);
  EXPECT_EQ(moved.copies.size(), 4u);
  EXPECT_GT(moved.estimated_us, 0);
}

TEST(GraphPartition, ViewsRunWhereTheirInputIs) {
  Graph g;
  const ValueId x = g.add_input("x", DType::kF32, sym_shape({2, 8}));
  const ValueId c = g.add_constant("c", host_f32({16}, 1.f));
  const ValueId flat =
      g.add_node("flat", CoreOp::kReshape, {x}, {}, {{"shape", std::vector<int64_t>{16}}})[0];
  const ValueId c2 =
      g.add_node("c2", CoreOp::kReshape, {c}, {}, {{"shape", std::vector<int64_t>{2, 8}}})[0];
  const ValueId y = g.add_node("sum", RMA_OP_ADD, {flat, c}, {})[0];
  const ValueId z = g.add_node("sum2", RMA_OP_ADD, {x, c2}, {})[0];
  g.mark_output(y);
  g.mark_output(z);
  const Placement p = partition(g, {cpu()});
  EXPECT_EQ(placed(p, "flat").device, 0);
  EXPECT_EQ(placed(p, "flat").reason, "view (aliases its input)");
  EXPECT_EQ(placed(p, "c2").device, -1);  // a view of a constant: made at plan build
  EXPECT_EQ(p.value_device[c2], kStatic);
  EXPECT_EQ(p.steps.size(), 3u);  // flat, sum, sum2
  EXPECT_EQ(p.nodes_per_device(), std::vector<int>{3});
}

TEST(GraphPartition, RejectsUnspecializedGraphsAndBadDeviceLists) {
  Graph g;
  const ValueId x = g.add_input("x", DType::kF32, {Dim::sym("batch"), Dim::of(8)});
  g.mark_output(g.add_node("double", RMA_OP_ADD, {x, x}, {})[0]);
  try {
    partition(g, {cpu()});
    FAIL() << "a symbolic graph was partitioned";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'batch'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("specialize"), std::string::npos) << e.what();
  }
  const Graph s = g.specialize({{3, 8}});
  EXPECT_THROW(partition(s, {}), Error);
  EXPECT_THROW(partition(s, {cpu(), cpu()}), Error);
  EXPECT_NO_THROW(partition(s, {cpu()}));
}

// ------------------------------------------------- a compiling device
// A fake NPU whose graph_partition claims every `add` into subgraph 0 and
// which runs no single ops: enough to see claims reach the placement.
namespace fake {

rma_status get_info(rma_device, rma_device_info* out, rma_error*) {
  std::snprintf(out->name, sizeof(out->name), "fake npu");
  out->type = RMA_DEVICE_NPU;
  out->compute_units = 1;
  out->capabilities = RMA_CAP_GRAPH_COMPILE;
  return RMA_STATUS_OK;
}
rma_status stream_create(rma_device, rma_stream* out, rma_error*) {
  static int token;
  *out = reinterpret_cast<rma_stream>(&token);
  return RMA_STATUS_OK;
}
void stream_destroy(rma_device, rma_stream) {}
rma_status stream_synchronize(rma_device, rma_stream, rma_error*) { return RMA_STATUS_OK; }
int graph_partition_calls = 0;
rma_status graph_partition(rma_device, const rma_graph* g, rma_partition* out, rma_error*) {
  ++graph_partition_calls;
  for (int i = 0; i < g->num_nodes; ++i) {
    const bool add = g->nodes[i].op == RMA_OP_ADD;
    out->subgraph_of_node[i] = add ? 0 : -1;
    out->cost_of_node[i] = add ? 0.5f : 0.f;
  }
  return RMA_STATUS_OK;
}

Device make() {
  static rma_plugin_api api = [] {
    rma_plugin_api a{};
    a.struct_size = sizeof(a);
    a.abi_version = RMA_ABI_VERSION;
    a.name = "fakenpu";
    a.version = "0";
    a.device_get_info = get_info;
    a.stream_create = stream_create;
    a.stream_destroy = stream_destroy;
    a.stream_synchronize = stream_synchronize;
    a.graph_partition = graph_partition;
    return a;
  }();
  static Plugin plugin(nullptr, &api, "(test)");
  static Device device = [] {
    auto impl = std::make_shared<DeviceImpl>(plugin, nullptr, 0, "fakenpu:0");
    Device d(impl);
    impl->default_stream = std::make_unique<Stream>(d);
    return d;
  }();
  return device;
}

}  // namespace fake

TEST(GraphPartition, CompilingDeviceClaimsThroughGraphPartition) {
  Graph g;
  const ValueId x = g.add_input("x", DType::kF32, sym_shape({2, 8}));
  const ValueId w = g.add_constant("w", host_f32({8}, 0.5f));
  const ValueId s = g.add_node("twice", RMA_OP_ADD, {x, x}, {})[0];
  const ValueId y = g.add_node("norm", RMA_OP_RMS_NORM, {s, w}, abi_bytes(norm_attrs(1e-5f)))[0];
  g.mark_output(y);
  const Device npu = fake::make();
  const int calls = fake::graph_partition_calls;
  PartitionOptions free_link;
  free_link.copy_latency_us = 0;
  free_link.link_gbps = 0;
  const Placement p = partition(g, {npu, cpu()}, free_link);
  EXPECT_EQ(fake::graph_partition_calls, calls + 1);  // once per graph, not per node
  const NodePlacement& twice = placed(p, "twice");
  EXPECT_EQ(twice.device, 0);
  EXPECT_EQ(twice.subgraph, 0);
  EXPECT_NEAR(twice.cost_us, 0.5, 1e-6);  // the backend's own estimate
  const NodePlacement& norm = placed(p, "norm");
  EXPECT_EQ(norm.device, 1);
  EXPECT_FALSE(norm.fallback);  // cpu was requested
  ASSERT_EQ(norm.declined.size(), 1u);
  EXPECT_NE(norm.declined[0].find("not claimed by its graph_partition"), std::string::npos)
      << norm.declined[0];
  EXPECT_EQ(nlohmann::json::parse(p.to_json())["nodes"][0]["subgraph"], 0);

  // The executor runs ops one by one: a node on a compile-only device is a
  // clear error, not a crash.
  try {
    Plan plan = Plan::create(g, {npu, cpu()}, free_link);
    FAIL() << "a plan ran a node on a compile-only device";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("'twice'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fakenpu:0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rma::graph
