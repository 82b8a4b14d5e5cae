// rma::graph::read_onnx_tensor (include/rma/graph/onnx.h): one serialized
// TensorProto, decoded as the importer decodes initializers — what the ONNX
// node-test runner reads its inputs and expected outputs with.
#if defined(RMA_HAVE_ONNX)

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "rma/error.h"
#include "rma/graph/onnx.h"
#include "rma_onnx.pb.h"

namespace rma::graph {
namespace {

namespace pb = rma::onnx_pb;

std::string serialized(const pb::TensorProto& t) {
  std::string bytes;
  EXPECT_TRUE(t.SerializeToString(&bytes));
  return bytes;
}

TEST(OnnxTensorReader, RawFloatsKeepNameTypeAndShape) {
  pb::TensorProto t;
  t.set_name("x");
  t.set_data_type(pb::TensorProto_DataType_FLOAT);
  t.add_dims(2);
  t.add_dims(3);
  const std::vector<float> values = {1, 2, 3, 4, 5, -6.5f};
  t.set_raw_data(values.data(), values.size() * sizeof(float));
  const std::string bytes = serialized(t);
  const OnnxTensor got = read_onnx_tensor(bytes.data(), bytes.size(), "x.pb");
  EXPECT_EQ(got.name, "x");
  EXPECT_EQ(got.onnx_type, "FLOAT");
  EXPECT_EQ(got.tensor.dtype(), DType::kF32);
  EXPECT_EQ(got.tensor.shape(), (Shape{2, 3}));
  EXPECT_EQ(got.tensor.to_vector<float>(), values);
}

TEST(OnnxTensorReader, DoublesBecomeF32AndUint8BecomesI32) {
  pb::TensorProto d;
  d.set_data_type(pb::TensorProto_DataType_DOUBLE);
  d.add_dims(2);
  d.add_double_data(0.25);
  d.add_double_data(-3.0);
  const std::string d_bytes = serialized(d);
  const OnnxTensor got_d = read_onnx_tensor(d_bytes.data(), d_bytes.size(), "d.pb");
  EXPECT_EQ(got_d.onnx_type, "DOUBLE");
  EXPECT_EQ(got_d.tensor.dtype(), DType::kF32);
  EXPECT_EQ(got_d.tensor.to_vector<float>(), (std::vector<float>{0.25f, -3.0f}));

  pb::TensorProto u;
  u.set_data_type(pb::TensorProto_DataType_UINT8);
  u.add_dims(3);
  const uint8_t raw[3] = {0, 200, 255};
  u.set_raw_data(raw, sizeof(raw));
  const std::string u_bytes = serialized(u);
  const OnnxTensor got_u = read_onnx_tensor(u_bytes.data(), u_bytes.size(), "u.pb");
  EXPECT_EQ(got_u.tensor.dtype(), DType::kI32);
  EXPECT_EQ(got_u.tensor.to_vector<int32_t>(), (std::vector<int32_t>{0, 200, 255}));
}

TEST(OnnxTensorReader, ErrorsNameTheSourceAndTheProblem) {
  const std::string garbage = "\xff\xff\xff\xff not a protobuf";
  try {
    read_onnx_tensor(garbage.data(), garbage.size(), "bad.pb");
    FAIL() << "garbage was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("bad.pb"), std::string::npos) << e.what();
  }

  pb::TensorProto s;
  s.set_data_type(pb::TensorProto_DataType_STRING);
  s.add_dims(1);
  s.add_string_data("hello");
  const std::string s_bytes = serialized(s);
  try {
    read_onnx_tensor(s_bytes.data(), s_bytes.size(), "s.pb");
    FAIL() << "a STRING tensor was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("STRING"), std::string::npos) << e.what();
  }

  pb::TensorProto short_raw;
  short_raw.set_data_type(pb::TensorProto_DataType_FLOAT);
  short_raw.add_dims(4);
  short_raw.set_raw_data(std::string(8, '\0'));
  const std::string r_bytes = serialized(short_raw);
  try {
    read_onnx_tensor(r_bytes.data(), r_bytes.size(), "short.pb");
    FAIL() << "raw data of the wrong size was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("raw_data has 8 bytes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rma::graph

#endif  // RMA_HAVE_ONNX
