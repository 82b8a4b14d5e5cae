// ONNX import (include/rma/graph/onnx.h) on models built here with the
// generated protobuf classes: names, dynamic axes, initializer encodings,
// external data, and every error a bad file or an unsupported model gives.
// The numerical comparison with onnxruntime is tests/onnx/check_onnx.py.
#if defined(RMA_HAVE_ONNX)

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "rma/error.h"
#include "rma/graph/interpreter.h"
#include "rma/graph/onnx.h"
#include "rma/half.h"
#include "rma_onnx.pb.h"

namespace rma::graph {
namespace {

namespace fs = std::filesystem;
namespace pb = rma::onnx_pb;

// ------------------------------------------------------------ helpers

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("rma_onnx_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

pb::ModelProto new_model(int64_t opset = 13) {
  pb::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  m.mutable_graph()->set_name("test");
  return m;
}

// Dims: a number is a size, "" an unnamed dynamic axis, anything else a dim_param.
void set_type(pb::ValueInfoProto* v, const std::string& name, int32_t elem,
              const std::vector<std::string>& dims) {
  v->Clear();
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  auto* shape = tt->mutable_shape();
  for (const std::string& d : dims) {
    auto* dim = shape->add_dim();
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0])))
      dim->set_dim_value(std::stoll(d));
    else if (!d.empty())
      dim->set_dim_param(d);
  }
}

void add_input(pb::ModelProto& m, const std::string& name, const std::vector<std::string>& dims,
               int32_t elem = pb::TensorProto_DataType_FLOAT) {
  set_type(m.mutable_graph()->add_input(), name, elem, dims);
}

void add_output(pb::ModelProto& m, const std::string& name) {
  m.mutable_graph()->add_output()->set_name(name);
}

pb::NodeProto* add_node(pb::ModelProto& m, const std::string& op,
                        const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "") {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

void add_int_attr(pb::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto_AttributeType_INT);
  a->set_i(v);
}

void add_ints_attr(pb::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto_AttributeType_INTS);
  for (int64_t x : v) a->add_ints(x);
}

pb::TensorProto* add_f32_initializer(pb::ModelProto& m, const std::string& name,
                                     const std::vector<int64_t>& dims,
                                     const std::vector<float>& values) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(pb::TensorProto_DataType_FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
  return t;
}

// y = x + b over [batch, 3].
pb::ModelProto add_model() {
  pb::ModelProto m = new_model();
  add_input(m, "x", {"batch", "3"});
  add_f32_initializer(m, "b", {3}, {1.f, 2.f, 3.f});
  add_node(m, "Add", {"x", "b"}, {"y"}, "add");
  add_output(m, "y");
  return m;
}

Graph import_model(const pb::ModelProto& m, const OnnxImportOptions& options = {}) {
  const std::string bytes = m.SerializeAsString();
  return import_onnx_bytes(bytes.data(), bytes.size(), options, "test.onnx");
}

// The import's error message ("" when it succeeds).
std::string import_error(const pb::ModelProto& m, ErrorCode* code = nullptr) {
  try {
    import_model(m);
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  return "";
}

std::string file_error(const std::string& path) {
  try {
    import_onnx(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

const Value& value_named(const Graph& g, const std::string& name) {
  const auto id = g.find_value(name);
  EXPECT_TRUE(id.has_value()) << name;
  return g.value(*id);
}

// ------------------------------------------------------------ import

TEST(OnnxImport, KeepsNamesAndDynamicAxesAndRuns) {
  const Graph g = import_model(add_model());
  ASSERT_EQ(g.inputs().size(), 1u);
  const Value& x = g.value(g.inputs()[0]);
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.shape, (SymShape{Dim::sym("batch"), Dim::of(3)}));
  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.value(g.outputs()[0]).name, "y");

  const Device cpu = Runtime::get().device("cpu");
  const Tensor in =
      Tensor::from_vector(std::vector<float>{0, 1, 2, 10, 20, 30}, {2, 3}, DType::kF32, cpu);
  const std::vector<Tensor> out = specialize_and_run(g, cpu, {in});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(out[0].to_vector<float>(), (std::vector<float>{1, 3, 5, 11, 22, 33}));
}

TEST(OnnxImport, UnnamedDynamicAxisGetsGeneratedSymbol) {
  pb::ModelProto m = add_model();
  set_type(m.mutable_graph()->mutable_input(0), "x", pb::TensorProto_DataType_FLOAT, {"", "3"});
  const Graph g = import_model(m);
  EXPECT_EQ(g.value(g.inputs()[0]).shape[0], Dim::sym("x.0"));
}

TEST(OnnxImport, InitializerListedAsInputIsConstant) {
  pb::ModelProto m = add_model();
  add_input(m, "b", {"3"});
  const Graph g = import_model(m);
  EXPECT_EQ(g.inputs().size(), 1u);
  EXPECT_TRUE(value_named(g, "b").constant.has_value());
}

TEST(OnnxImport, TypedFieldsAndWidenedTypes) {
  pb::ModelProto m = add_model();
  auto* d = m.mutable_graph()->add_initializer();  // double_data -> f32
  d->set_name("d");
  d->set_data_type(pb::TensorProto_DataType_DOUBLE);
  d->add_dims(2);
  d->add_double_data(1.5);
  d->add_double_data(-2.25);
  auto* u8 = m.mutable_graph()->add_initializer();  // raw uint8 -> i32
  u8->set_name("u8");
  u8->set_data_type(pb::TensorProto_DataType_UINT8);
  u8->add_dims(3);
  u8->set_raw_data(std::string("\x00\x07\xff", 3));
  auto* h = m.mutable_graph()->add_initializer();  // f16 bits in int32_data
  h->set_name("h");
  h->set_data_type(pb::TensorProto_DataType_FLOAT16);
  h->add_dims(2);
  h->add_int32_data(f32_to_f16(0.5f));
  h->add_int32_data(f32_to_f16(-3.f));
  auto* bools = m.mutable_graph()->add_initializer();
  bools->set_name("bools");
  bools->set_data_type(pb::TensorProto_DataType_BOOL);
  bools->add_dims(3);
  for (int v : {0, 1, 5}) bools->add_int32_data(v);

  const Graph g = import_model(m);
  const Value& dv = value_named(g, "d");
  EXPECT_EQ(dv.dtype, DType::kF32);
  EXPECT_EQ(dv.constant->to_vector<float>(), (std::vector<float>{1.5f, -2.25f}));
  const Value& uv = value_named(g, "u8");
  EXPECT_EQ(uv.dtype, DType::kI32);
  EXPECT_EQ(uv.constant->to_vector<int32_t>(), (std::vector<int32_t>{0, 7, 255}));
  const Value& hv = value_named(g, "h");
  EXPECT_EQ(hv.dtype, DType::kF16);
  const std::vector<uint16_t> half = hv.constant->to_vector<uint16_t>();
  EXPECT_EQ(f16_to_f32(half[0]), 0.5f);
  EXPECT_EQ(f16_to_f32(half[1]), -3.f);
  EXPECT_EQ(value_named(g, "bools").constant->to_vector<uint8_t>(),
            (std::vector<uint8_t>{0, 1, 1}));
}

TEST(OnnxImport, ConstantNodesBecomeConstants) {
  pb::ModelProto m = add_model();
  auto* c = add_node(m, "Constant", {}, {"k"}, "const");
  add_ints_attr(c, "value_ints", {4, 5});
  add_output(m, "k");
  const Graph g = import_model(m);
  const Value& k = value_named(g, "k");
  ASSERT_TRUE(k.constant.has_value());
  EXPECT_EQ(k.constant->to_vector<int64_t>(), (std::vector<int64_t>{4, 5}));
}

std::vector<std::string> op_names(const Graph& g) {
  std::vector<std::string> names;
  for (const Node& n : g.nodes()) names.push_back(op_kind_name(n.op));
  return names;
}

TEST(OnnxImport, SoftmaxAxisFollowsTheOpset) {
  for (int64_t opset : {11, 13}) {
    pb::ModelProto m = new_model(opset);
    add_input(m, "x", {"2", "3", "4"});
    add_int_attr(add_node(m, "Softmax", {"x"}, {"y"}, "sm"), "axis", 1);
    add_output(m, "y");
    const Graph g = import_model(m);
    // Before 13: softmax over the flattened [2, 12]; from 13: over axis 1 alone.
    const std::vector<std::string> want =
        opset < 13 ? std::vector<std::string>{"core.flatten", "softmax", "core.reshape"}
                   : std::vector<std::string>{"transpose", "softmax", "transpose"};
    EXPECT_EQ(op_names(g), want) << "opset " << opset;
    EXPECT_EQ(g.value(g.outputs()[0]).shape, sym_shape({2, 3, 4}));
  }
}

// ------------------------------------------------------------ bad files

TEST(OnnxImport, TruncatedAndGarbageFilesNameTheFile) {
  TempDir dir;
  pb::ModelProto m = add_model();
  add_f32_initializer(m, "big", {256}, std::vector<float>(256, 1.f));
  const std::string bytes = m.SerializeAsString();
  const std::string truncated = dir.file("truncated.onnx");
  write_file(truncated, bytes.substr(0, bytes.size() - 100));
  std::string msg = file_error(truncated);
  EXPECT_TRUE(contains(msg, truncated)) << msg;
  EXPECT_TRUE(contains(msg, "truncated or corrupt")) << msg;

  const std::string garbage = dir.file("garbage.onnx");
  write_file(garbage, std::string("\xff\xff\xff\xff not a model", 16));
  msg = file_error(garbage);
  EXPECT_TRUE(contains(msg, garbage) && contains(msg, "not a valid ONNX model")) << msg;

  const std::string empty = dir.file("empty.onnx");
  write_file(empty, "");
  msg = file_error(empty);
  EXPECT_TRUE(contains(msg, empty) && contains(msg, "empty file")) << msg;

  try {
    import_onnx(dir.file("missing.onnx"));
    FAIL() << "a missing file imported";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_TRUE(contains(e.what(), "missing.onnx")) << e.what();
  }
}

TEST(OnnxImport, UnsupportedOpNamesOpOpsetAndNodeOnly) {
  pb::ModelProto m = new_model(13);
  add_input(m, "x", {"3", "3"});
  add_node(m, "Relu", {"x"}, {"r"}, "relu");
  add_node(m, "Det", {"r"}, {"d"}, "my_det");
  add_output(m, "d");
  ErrorCode code{};
  const std::string msg = import_error(m, &code);
  EXPECT_EQ(code, ErrorCode::kUnsupported);
  EXPECT_TRUE(contains(msg, "Det") && contains(msg, "opset 13") && contains(msg, "my_det")) << msg;
  EXPECT_FALSE(contains(msg, "Relu")) << msg;  // names nothing else
  EXPECT_LT(msg.size(), 120u) << msg;
}

TEST(OnnxImport, OpOfAnotherDomainIsUnsupported) {
  pb::ModelProto m = add_model();
  auto* op = m.add_opset_import();
  op->set_domain("com.microsoft");
  op->set_version(1);
  add_node(m, "FusedMatMul", {"y", "y"}, {"z"}, "fused")->set_domain("com.microsoft");
  add_output(m, "z");
  const std::string msg = import_error(m);
  EXPECT_TRUE(contains(msg, "com.microsoft.FusedMatMul") && contains(msg, "fused")) << msg;
}

TEST(OnnxImport, OpsetOutsideSevenToTwentyEightIsAnError) {
  for (int64_t opset : {6, 29}) {
    pb::ModelProto m = add_model();
    m.mutable_opset_import(0)->set_version(opset);
    ErrorCode code{};
    const std::string msg = import_error(m, &code);
    EXPECT_EQ(code, ErrorCode::kUnsupported);
    EXPECT_TRUE(contains(msg, "opset " + std::to_string(opset))) << msg;
  }
}

TEST(OnnxImport, ModelInconsistenciesAreNamed) {
  {  // raw_data of the wrong size
    pb::ModelProto m = add_model();
    m.mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(5);
    const std::string msg = import_error(m);
    EXPECT_TRUE(contains(msg, "initializer 'b'") && contains(msg, "raw_data has 5 bytes")) << msg;
  }
  {  // a node reading a value defined only later
    pb::ModelProto m = new_model();
    add_input(m, "x", {"3"});
    add_node(m, "Relu", {"later"}, {"y"}, "early");
    add_node(m, "Neg", {"x"}, {"later"}, "late");
    add_output(m, "y");
    const std::string msg = import_error(m);
    EXPECT_TRUE(contains(msg, "early") && contains(msg, "'later' is not defined")) << msg;
  }
  {  // an attribute out of range
    pb::ModelProto m = add_model();
    add_ints_attr(add_node(m, "Transpose", {"y"}, {"t"}, "bad_perm"), "perm", {0, 0});
    add_output(m, "t");
    const std::string msg = import_error(m);
    EXPECT_TRUE(contains(msg, "bad_perm") && contains(msg, "perm")) << msg;
  }
  {  // value_info that contradicts the computed shape
    pb::ModelProto m = add_model();
    set_type(m.mutable_graph()->add_value_info(), "y", pb::TensorProto_DataType_FLOAT,
             {"batch", "4"});
    const std::string msg = import_error(m);
    EXPECT_TRUE(contains(msg, "'y'") && contains(msg, "dim 1 = 4")) << msg;
  }
  {  // an output the importer does not compute, used later
    pb::ModelProto m = new_model(17);
    add_input(m, "x", {"2", "4"});
    add_f32_initializer(m, "g", {4}, {1, 1, 1, 1});
    add_node(m, "BatchNormalization", {"x", "g", "g", "g", "g"}, {"y", "running_mean"}, "bn");
    add_node(m, "Neg", {"running_mean"}, {"z"}, "use_mean");
    add_output(m, "z");
    const std::string msg = import_error(m);
    EXPECT_TRUE(contains(msg, "use_mean") && contains(msg, "running statistics")) << msg;
  }
  {  // a missing required attribute
    pb::ModelProto m = add_model();
    add_node(m, "Concat", {"y", "y"}, {"c"}, "no_axis");
    add_output(m, "c");
    const std::string msg = import_error(m);
    EXPECT_TRUE(contains(msg, "no_axis") && contains(msg, "'axis' is required")) << msg;
  }
}

// ------------------------------------------------------------ external data

pb::ModelProto external_model(const std::string& location, int64_t offset, int64_t length) {
  pb::ModelProto m = new_model();
  add_input(m, "x", {"4"});
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name("w");
  t->set_data_type(pb::TensorProto_DataType_FLOAT);
  t->add_dims(4);
  t->set_data_location(pb::TensorProto_DataLocation_EXTERNAL);
  auto entry = [&](const std::string& k, const std::string& v) {
    auto* e = t->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  entry("location", location);
  entry("offset", std::to_string(offset));
  if (length >= 0) entry("length", std::to_string(length));
  add_node(m, "Mul", {"x", "w"}, {"y"}, "mul");
  add_output(m, "y");
  return m;
}

TEST(OnnxImport, ExternalDataIsReadFromTheModelsFolder) {
  TempDir dir;
  const std::vector<float> w = {1.f, -2.f, 0.5f, 4.f};
  std::string data(16, '\0');  // weights at offset 16, after a gap
  data += std::string(reinterpret_cast<const char*>(w.data()), 16);
  write_file(dir.file("w.bin"), data);
  const std::string path = dir.file("model.onnx");
  write_file(path, external_model("w.bin", 16, 16).SerializeAsString());
  const Graph g = import_onnx(path);
  EXPECT_EQ(value_named(g, "w").constant->to_vector<float>(), w);

  // From bytes, with the folder given.
  OnnxImportOptions options;
  options.external_data_dir = dir.path();
  const std::string bytes = external_model("w.bin", 16, -1).SerializeAsString();
  const Graph g2 = import_onnx_bytes(bytes.data(), bytes.size(), options);
  EXPECT_EQ(value_named(g2, "w").constant->to_vector<float>(), w);
}

TEST(OnnxImport, BadExternalDataIsAnError) {
  TempDir dir;
  write_file(dir.file("w.bin"), std::string(20, '\0'));
  auto error_for = [&](const pb::ModelProto& m) {
    const std::string path = dir.file("model.onnx");
    write_file(path, m.SerializeAsString());
    return file_error(path);
  };
  std::string msg = error_for(external_model("missing.bin", 0, 16));
  EXPECT_TRUE(contains(msg, "initializer 'w'") && contains(msg, "missing.bin")) << msg;
  msg = error_for(external_model("w.bin", 8, 16));
  EXPECT_TRUE(contains(msg, "offset 8") && contains(msg, "past the end") &&
              contains(msg, "20 bytes"))
      << msg;
  msg = error_for(external_model("w.bin", 0, 12));
  EXPECT_TRUE(contains(msg, "length 12") && contains(msg, "needs 16 bytes")) << msg;
  msg = error_for(external_model("../w.bin", 0, 16));
  EXPECT_TRUE(contains(msg, "inside the model's folder")) << msg;
  msg = error_for(external_model("/etc/passwd", 0, 16));
  EXPECT_TRUE(contains(msg, "inside the model's folder")) << msg;

  const std::string bytes = external_model("w.bin", 0, 16).SerializeAsString();
  try {
    import_onnx_bytes(bytes.data(), bytes.size());
    FAIL() << "external data imported without a folder";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "external_data_dir")) << e.what();
  }
}

}  // namespace
}  // namespace rma::graph

#endif  // RMA_HAVE_ONNX
