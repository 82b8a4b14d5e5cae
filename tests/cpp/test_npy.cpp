// .npy files (rma/npy.h): files as NumPy 2.4 writes them (np.save, and
// np.lib.format.write_array for version 2.0), round trips of every dtype, and
// the errors for what is not supported or malformed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "rma/error.h"
#include "rma/half.h"
#include "rma/npy.h"

namespace rma {
namespace {

using namespace std::string_literals;
namespace fs = std::filesystem;

Device cpu() { return Runtime::get().device("cpu"); }

// A .npy file byte for byte as NumPy wrote it: its preamble, the header dict
// padded with spaces to `header_size` bytes (the last a newline), the data.
std::string numpy_file(int major, const std::string& header, size_t header_size,
                       const std::string& data) {
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i)
    out.push_back(static_cast<char>((header_size >> (8 * i)) & 0xff));
  out.append(header);
  out.append(header_size - header.size() - 1, ' ');
  out.push_back('\n');
  out.append(data);
  return out;
}

// Generated with numpy 2.4 (np.save(buf, array); the reads below check the values).
const std::map<std::string, std::string>& numpy_files() {
  static const std::map<std::string, std::string> kFiles = {
      {"f32", numpy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 118,
                         "\x00\x00\x00\x00\x00\x00\x80>\x00\x00\x00?\x00\x00@?\x00\x00\x80?\x00\x00"
                         "\xa0?"s)},
      {"i64_v2", numpy_file(2, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 116,
                            "\x01\x00\x00\x00\x00\x00\x00\x00\xfe\xff\xff\xff\xff\xff\xff\xff\x03"
                            "\x00\x00\x00\x00\x00\x00\x00"s)},
      {"f16_scalar",
       numpy_file(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (), }", 118, "\x00>"s)},
      {"bool", numpy_file(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", 118,
                          "\x01\x00\x01"s)},
      {"i8", numpy_file(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (4,), }", 118,
                        "\xff\x02\xfd\x04"s)},
      {"i32", numpy_file(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 1), }", 118,
                         "\x07\x00\x00\x00\xf8\xff\xff\xff"s)},
      {"empty",
       numpy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", 118, ""s)},
      {"fortran", numpy_file(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 118,
                             "\x00\x00\x00\x00\x00\x00\x00@\x00\x00\x80?\x00\x00@@"s)},
      {"big_endian", numpy_file(1, "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", 118,
                                "\x00\x00\x00\x01\x00\x00\x00\x02"s)},
      {"u1", numpy_file(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", 118,
                        "\x01\x02"s)},
      {"f8", numpy_file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 118,
                        "\x00\x00\x00\x00\x00\x00\xf0?"s)},
  };
  return kFiles;
}

Tensor parse(const std::string& bytes, const std::string& name = "t.npy") {
  return parse_npy(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), name,
      cpu());
}

std::string as_string(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

// The message of the Error `f` throws ("" when it does not throw).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("rma_npy_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

TEST(Npy, ReadsWhatNumpyWrites) {
  const auto& files = numpy_files();
  const Tensor f32 = parse(files.at("f32"));
  EXPECT_EQ(f32.dtype(), DType::kF32);
  EXPECT_EQ(f32.shape(), (Shape{2, 3}));
  EXPECT_EQ(f32.to_vector<float>(), (std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1, 1.25f}));

  const Tensor i64 = parse(files.at("i64_v2"));  // format 2.0: a 4-byte header length
  EXPECT_EQ(i64.dtype(), DType::kI64);
  EXPECT_EQ(i64.to_vector<int64_t>(), (std::vector<int64_t>{1, -2, 3}));

  const Tensor half = parse(files.at("f16_scalar"));
  EXPECT_EQ(half.dtype(), DType::kF16);
  EXPECT_TRUE(half.shape().empty());
  EXPECT_EQ(f16_to_f32(half.to_vector<uint16_t>().at(0)), 1.5f);

  const Tensor b = parse(files.at("bool"));
  EXPECT_EQ(b.dtype(), DType::kBool);
  EXPECT_EQ(b.to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 1}));

  EXPECT_EQ(parse(files.at("i8")).to_vector<int8_t>(), (std::vector<int8_t>{-1, 2, -3, 4}));
  const Tensor i32 = parse(files.at("i32"));
  EXPECT_EQ(i32.shape(), (Shape{2, 1}));
  EXPECT_EQ(i32.to_vector<int32_t>(), (std::vector<int32_t>{7, -8}));

  const Tensor empty = parse(files.at("empty"));
  EXPECT_EQ(empty.shape(), (Shape{0, 3}));
  EXPECT_EQ(empty.numel(), 0);
}

TEST(Npy, WritesTheBytesNumpyWrites) {
  const Tensor t = Tensor::from_vector(std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1, 1.25f}, {2, 3},
                                       DType::kF32, cpu());
  EXPECT_EQ(as_string(encode_npy(t)), numpy_files().at("f32"));
  const Tensor i8 = Tensor::from_vector(std::vector<int8_t>{-1, 2, -3, 4}, {4}, DType::kI8, cpu());
  EXPECT_EQ(as_string(encode_npy(i8)), numpy_files().at("i8"));
}

TEST(Npy, RoundTripsEveryDtypeAndShape) {
  TempDir dir;
  const std::vector<std::pair<DType, Shape>> cases = {
      {DType::kF32, {2, 3, 4}}, {DType::kF16, {5}},      {DType::kI8, {3, 1}},
      {DType::kI32, {}},        {DType::kI64, {2, 2}},   {DType::kBool, {7}},
      {DType::kF32, {0}},       {DType::kF32, {1, 0, 2}}};
  int k = 0;
  for (const auto& [dtype, shape] : cases) {
    const uint64_t bytes = static_cast<uint64_t>(numel(shape) * block_bytes(dtype));
    std::vector<uint8_t> data(bytes);
    for (size_t i = 0; i < data.size(); ++i)
      data[i] = dtype == DType::kBool ? i % 3 == 0 : static_cast<uint8_t>(i * 29 + 7);
    const Tensor t = Tensor::from_host(data.data(), shape, dtype, cpu());
    const std::string path = dir.file(std::to_string(k++) + ".npy");
    save_npy(path, t);
    const Tensor back = load_npy(path);
    EXPECT_EQ(back.dtype(), dtype) << path;
    EXPECT_EQ(back.shape(), shape) << path;
    EXPECT_EQ(back.to_host_bytes(), data) << path;
    EXPECT_EQ(std::filesystem::file_size(path) % 64, bytes % 64) << "data starts 64-aligned";
  }
}

TEST(Npy, WritesStridedTensorsInCOrder) {
  const Tensor t =
      Tensor::from_vector(std::vector<int32_t>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::kI32, cpu());
  const Tensor back = parse(as_string(encode_npy(t.transpose(0, 1))));
  EXPECT_EQ(back.shape(), (Shape{3, 2}));
  EXPECT_EQ(back.to_vector<int32_t>(), (std::vector<int32_t>{1, 4, 2, 5, 3, 6}));
}

TEST(Npy, Bf16IsRefusedOrWidened) {
  const std::vector<uint16_t> raw = {f32_to_bf16(1.5f), f32_to_bf16(-2.0f)};
  const Tensor t = Tensor::from_vector(raw, {2}, DType::kBF16, cpu());
  EXPECT_NE(error_of([&] { encode_npy(t); }).find("bf16 has no .npy dtype"), std::string::npos);
  const Tensor wide = bf16_to_f32_tensor(t);
  EXPECT_EQ(wide.to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
}

TEST(Npy, UnsupportedContentsAreErrorsNamingTheFile) {
  const auto& files = numpy_files();
  const auto expect_error = [&](const std::string& key, const std::string& what) {
    const std::string message = error_of([&] { parse(files.at(key), key + ".npy"); });
    EXPECT_NE(message.find(key + ".npy: "), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << key << ": " << message;
  };
  expect_error("fortran", "Fortran order");
  expect_error("big_endian", "'>i4' is big-endian");
  expect_error("u1", "dtype '|u1' is not supported; supported: '<f4'");
  expect_error("f8", "dtype '<f8' is not supported");
}

TEST(Npy, MalformedFilesAreErrorsNotCrashes) {
  const std::string good = numpy_files().at("f32");
  const auto message = [](const std::string& bytes) {
    return error_of([&] { parse(bytes, "bad.npy"); });
  };
  EXPECT_NE(message("").find("bad.npy: not a .npy file"), std::string::npos);
  EXPECT_NE(message("PK\x03\x04zipzipzip").find("not a .npy file"), std::string::npos);
  std::string v9 = good;
  v9[6] = 9;
  EXPECT_NE(message(v9).find("format version 9.0 is not supported"), std::string::npos);
  EXPECT_NE(message(good.substr(0, 60)).find("truncated .npy header"), std::string::npos);
  EXPECT_NE(message(good.substr(0, good.size() - 1)).find("(truncated)"), std::string::npos);
  EXPECT_NE(message(good + "x").find("(trailing bytes)"), std::string::npos);

  const auto with_header = [](const std::string& header, const std::string& data = "") {
    return numpy_file(1, header, 118, data);
  };
  EXPECT_NE(
      message(with_header("{'descr': '<f4', 'shape': (1,), }", "abcd")).find("no 'fortran_order'"),
      std::string::npos);
  EXPECT_NE(message(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }"))
                .find("bad .npy header at byte"),
            std::string::npos);
  EXPECT_NE(message(with_header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (), }"))
                .find("structured dtypes"),
            std::string::npos);
  EXPECT_NE(message(with_header("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (), }"))
                .find("expected True or False"),
            std::string::npos);
  EXPECT_NE(message(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), "
                                "'extra': 1}",
                                "abcd"))
                .find("unknown header key 'extra'"),
            std::string::npos);
  EXPECT_NE(
      message(with_header("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", "\x01\x05"s))
          .find("bool element 1 at byte 129 is 5"),
      std::string::npos);
  EXPECT_NE(message(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                "(99999999999, 99999999999, 99999999999), }"))
                .find("too large"),
            std::string::npos);
  // Every truncation of a good file is an Error, never a crash.
  for (size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(message(good.substr(0, n)).empty()) << n;
}

TEST(Npy, MissingFileIsAnErrorNamingIt) {
  const std::string message = error_of([] { load_npy("/nonexistent/dir/x.npy"); });
  EXPECT_NE(message.find("/nonexistent/dir/x.npy"), std::string::npos) << message;
}

}  // namespace
}  // namespace rma
