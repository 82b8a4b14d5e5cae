// onnx_probe: imports an ONNX model, specializes it for the given inputs'
// shapes and runs it with the single-device interpreter; the ONNX tests
// (check_onnx.py) compare what it writes with onnxruntime.
//
//   onnx_probe MODEL.onnx --out DIR [--device cpu] [--input NAME=FILE.npy]...
//
// Outputs go to DIR/out<i>.npy in graph-output order (bf16 written as f32,
// which .npy cannot hold). Any error: its message on stderr, exit status 1.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "rma/device.h"
#include "rma/error.h"
#include "rma/graph/interpreter.h"
#include "rma/graph/onnx.h"
#include "rma/half.h"
#include "rma/tensor.h"

namespace {

struct NpyArray {
  std::string descr;  // "<f4", "|b1"...
  rma::Shape shape;
  std::vector<uint8_t> data;
};

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

// The value of `key` in a .npy header dict ("{'descr': '<f4', ...}").
std::string header_field(const std::string& header, const std::string& key,
                         const std::string& path) {
  const size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) fail(path + ": .npy header has no '" + key + "'");
  size_t begin = header.find(':', at) + 1;
  while (begin < header.size() && header[begin] == ' ') ++begin;
  const char open = header[begin];
  const size_t end = open == '('    ? header.find(')', begin) + 1
                     : open == '\'' ? header.find('\'', begin + 1) + 1
                                    : header.find_first_of(",}", begin);
  return header.substr(begin, end - begin);
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path + ": cannot open");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
    fail(path + ": not a .npy file");
  const int major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    offset = 10;
  } else {
    uint32_t len;
    std::memcpy(&len, bytes.data() + 8, 4);
    header_len = len;
    offset = 12;
  }
  if (offset + header_len > bytes.size()) fail(path + ": truncated .npy header");
  const std::string header(bytes.data() + offset, header_len);
  NpyArray a;
  a.descr = header_field(header, "descr", path);
  a.descr = a.descr.substr(1, a.descr.size() - 2);
  if (header_field(header, "fortran_order", path) != "False")
    fail(path + ": Fortran-ordered arrays are not supported");
  const std::string shape = header_field(header, "shape", path);
  std::string num;
  for (char c : shape) {
    if (c >= '0' && c <= '9') {
      num += c;
    } else if (!num.empty()) {
      a.shape.push_back(std::stoll(num));
      num.clear();
    }
  }
  a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(offset + header_len), bytes.end());
  return a;
}

void write_npy(const std::string& path, const std::string& descr, const rma::Shape& shape,
               const void* data, size_t bytes) {
  std::string dims;
  for (int64_t d : shape) dims += std::to_string(d) + ",";
  if (shape.size() > 1) dims.pop_back();
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.write(reinterpret_cast<const char*>(&len), 2);
  out << header;
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  if (!out) fail(path + ": cannot write");
}

rma::DType npy_dtype(const std::string& descr, const std::string& path) {
  static const std::map<std::string, rma::DType> kTypes = {
      {"<f4", rma::DType::kF32}, {"<f2", rma::DType::kF16}, {"|i1", rma::DType::kI8},
      {"<i4", rma::DType::kI32}, {"<i8", rma::DType::kI64}, {"|b1", rma::DType::kBool}};
  const auto it = kTypes.find(descr);
  if (it == kTypes.end()) fail(path + ": .npy dtype '" + descr + "' is not supported");
  return it->second;
}

void write_tensor(const std::string& path, const rma::Tensor& t) {
  const std::vector<uint8_t> bytes = t.to_host_bytes();
  switch (t.dtype()) {
    case rma::DType::kF32: return write_npy(path, "<f4", t.shape(), bytes.data(), bytes.size());
    case rma::DType::kF16: return write_npy(path, "<f2", t.shape(), bytes.data(), bytes.size());
    case rma::DType::kI8: return write_npy(path, "|i1", t.shape(), bytes.data(), bytes.size());
    case rma::DType::kI32: return write_npy(path, "<i4", t.shape(), bytes.data(), bytes.size());
    case rma::DType::kI64: return write_npy(path, "<i8", t.shape(), bytes.data(), bytes.size());
    case rma::DType::kBool: return write_npy(path, "|b1", t.shape(), bytes.data(), bytes.size());
    case rma::DType::kBF16: {
      std::vector<float> f(bytes.size() / 2);
      for (size_t i = 0; i < f.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, bytes.data() + 2 * i, 2);
        f[i] = rma::bf16_to_f32(h);
      }
      return write_npy(path, "<f4", t.shape(), f.data(), f.size() * 4);
    }
    default: fail("output of dtype " + std::string(rma::name(t.dtype())) + " cannot be written");
  }
}

int run(int argc, char** argv) {
  std::string model, out_dir, device = "cpu";
  std::map<std::string, std::string> input_files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) fail(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--out") {
      out_dir = next();
    } else if (arg == "--device") {
      device = next();
    } else if (arg == "--input") {
      const std::string spec = next();
      const size_t eq = spec.find('=');
      if (eq == std::string::npos) fail("--input wants NAME=FILE.npy, got '" + spec + "'");
      input_files[spec.substr(0, eq)] = spec.substr(eq + 1);
    } else if (model.empty()) {
      model = arg;
    } else {
      fail("unexpected argument '" + arg + "'");
    }
  }
  if (model.empty() || out_dir.empty())
    fail("usage: onnx_probe MODEL.onnx --out DIR [--device D] [--input NAME=FILE.npy]...");

  const rma::graph::Graph graph = rma::graph::import_onnx(model);
  const rma::Device host = rma::Runtime::get().device("cpu");
  std::vector<rma::Tensor> inputs;
  std::vector<rma::Shape> shapes;
  for (rma::graph::ValueId id : graph.inputs()) {
    const std::string& name = graph.value(id).name;
    const auto it = input_files.find(name);
    if (it == input_files.end()) fail("no --input for graph input '" + name + "'");
    const NpyArray a = read_npy(it->second);
    inputs.push_back(
        rma::Tensor::from_host(a.data.data(), a.shape, npy_dtype(a.descr, it->second), host));
    shapes.push_back(a.shape);
  }
  const rma::graph::Graph specialized = graph.specialize(shapes);
  const std::vector<rma::Tensor> outputs =
      rma::graph::run_graph(specialized, rma::Runtime::get().device(device), inputs);
  for (size_t i = 0; i < outputs.size(); ++i)
    write_tensor(out_dir + "/out" + std::to_string(i) + ".npy", outputs[i]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
