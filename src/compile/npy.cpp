// .npy files (rma/npy.h): NumPy's format, versions 1.0–3.0.
//
// Layout: "\x93NUMPY", major, minor, a little-endian header length (u16 for
// 1.0, u32 for 2.0/3.0), then the header — a Python dict literal
// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" padded with
// spaces and a newline so the data starts at a multiple of 64 — then the
// elements.
#include "rma/npy.h"

#include <bit>
#include <cctype>
#include <cstring>
#include <limits>
#include <map>
#include <optional>

#include "file_util.h"
#include "rma/error.h"
#include "rma/half.h"

namespace rma {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr size_t kHeaderAlignment = 64;

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, name + ": " + what);
}

// descr (without the byte-order character) -> dtype.
const std::map<std::string, DType>& descr_types() {
  static const std::map<std::string, DType> kTypes = {{"f4", DType::kF32}, {"f2", DType::kF16},
                                                      {"i1", DType::kI8},  {"i4", DType::kI32},
                                                      {"i8", DType::kI64}, {"b1", DType::kBool}};
  return kTypes;
}

std::string supported_list() {
  return "'<f4' (f32), '<f2' (f16), '|i1' (i8), '<i4' (i32), '<i8' (i64), '|b1' (bool)";
}

// What a .npy header holds; parsed from the dict literal.
struct Header {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<Shape> shape;
};

// A small parser for the one dict literal NumPy writes: string keys, and
// values that are strings, True/False or tuples of integers.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name, size_t base)
      : text_(text), name_(name), base_(base) {}

  Header parse() {
    Header h;
    expect('{');
    while (true) {
      skip_spaces();
      if (peek() == '}') break;
      const size_t key_at = pos_;
      const std::string key = string_literal();
      expect(':');
      skip_spaces();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"')
          error(pos_, "'descr' is not a string: structured dtypes are not supported (" +
                          supported_list() + ")");
        h.descr = string_literal();
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
      } else if (key == "shape") {
        h.shape = tuple();
      } else {
        error(key_at, "unknown header key '" + key + "'");
      }
      skip_spaces();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') error(pos_, "expected ',' or '}' in the header");
    }
    ++pos_;
    skip_spaces();
    if (pos_ != text_.size()) error(pos_, "unexpected text after the header dict");
    return h;
  }

 private:
  [[noreturn]] void error(size_t at, const std::string& what) const {
    fail(name_, "bad .npy header at byte " + std::to_string(base_ + at) + ": " + what +
                    " (header: " + std::string(text_) + ")");
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_spaces() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_spaces();
    if (peek() != c) error(pos_, std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string string_literal() {
    skip_spaces();
    const char quote = peek();
    if (quote != '\'' && quote != '"') error(pos_, "expected a quoted string");
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) error(pos_, "unterminated string");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    error(pos_, "expected True or False");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (true) {
      skip_spaces();
      if (peek() == ')') break;
      const size_t at = pos_;
      int64_t v = 0;
      bool any = false;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const int digit = peek() - '0';
        if (v > (std::numeric_limits<int64_t>::max() - digit) / 10)
          error(at, "dimension too large");
        v = v * 10 + digit;
        any = true;
        ++pos_;
      }
      if (!any) error(at, "expected a non-negative integer dimension");
      shape.push_back(v);
      skip_spaces();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') error(pos_, "expected ',' or ')' in the shape");
    }
    ++pos_;
    return shape;
  }

  std::string_view text_;
  const std::string& name_;
  size_t base_;  // file offset of the header, for messages
  size_t pos_ = 0;
};

DType dtype_of(const std::string& descr, const std::string& name) {
  if (descr.size() >= 2) {
    const char order = descr[0];
    const auto it = descr_types().find(descr.substr(1));
    if (it != descr_types().end()) {
      const bool one_byte = it->first == "i1" || it->first == "b1";
      if (order == '<' || order == '|' ||
          (order == '=' && std::endian::native == std::endian::little))
        return it->second;
      if (order == '>' && !one_byte)
        fail(name, "dtype '" + descr + "' is big-endian; only little-endian data is supported");
      if (order == '>') return it->second;  // one byte: order is irrelevant
    }
  }
  fail(name, "dtype '" + descr + "' is not supported; supported: " + supported_list());
}

uint64_t checked_numel(const Shape& shape, const std::string& name) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > std::numeric_limits<uint64_t>::max() / 16 / static_cast<uint64_t>(d))
      fail(name, "shape " + to_string(shape) + " is too large");
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

Device host_device() { return Runtime::get().device("cpu"); }

}  // namespace

std::string npy_descr(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "<f4";
    case DType::kF16:
      return "<f2";
    case DType::kI8:
      return "|i1";
    case DType::kI32:
      return "<i4";
    case DType::kI64:
      return "<i8";
    case DType::kBool:
      return "|b1";
    case DType::kBF16:
      throw Error(ErrorCode::kUnsupported,
                  "bf16 has no .npy dtype; widen it to f32 first (bf16_to_f32_tensor)");
    default:
      throw Error(ErrorCode::kUnsupported,
                  "a " + std::string(name(dtype)) + " tensor cannot be written as .npy");
  }
}

Tensor parse_npy(std::span<const uint8_t> bytes, const std::string& name, const Device& device) {
  if (bytes.size() < kMagicSize + 4 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0)
    fail(name, "not a .npy file (it does not start with \"\\x93NUMPY\")");
  const int major = bytes[6];
  const int minor = bytes[7];
  size_t header_at = 0;
  uint64_t header_size = 0;
  if (major == 1) {
    header_size = bytes[8] | (static_cast<uint32_t>(bytes[9]) << 8);
    header_at = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      fail(name, "truncated .npy preamble (" + std::to_string(bytes.size()) + " bytes)");
    header_size = compile::detail::get_u32(bytes.data() + 8);
    header_at = 12;
  } else {
    fail(name, ".npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                   " is not supported (1.0, 2.0 and 3.0 are)");
  }
  if (header_at + header_size > bytes.size())
    fail(name, "truncated .npy header: " + std::to_string(header_size) + " bytes at byte " +
                   std::to_string(header_at) + ", but the file has " +
                   std::to_string(bytes.size()) + " bytes");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + header_at), header_size);
  const Header h = HeaderParser(text, name, header_at).parse();
  if (!h.descr) fail(name, ".npy header has no 'descr'");
  if (!h.fortran_order) fail(name, ".npy header has no 'fortran_order'");
  if (!h.shape) fail(name, ".npy header has no 'shape'");
  if (*h.fortran_order)
    fail(name, "the array is in Fortran order; save it in C order (np.ascontiguousarray)");
  const DType dtype = dtype_of(*h.descr, name);
  const uint64_t numel = checked_numel(*h.shape, name);
  const uint64_t data_at = header_at + header_size;
  const uint64_t want = numel * static_cast<uint64_t>(block_bytes(dtype));
  const uint64_t have = bytes.size() - data_at;
  if (have != want)
    fail(name, "the data of a " + *h.descr + " array of shape " + to_string(*h.shape) + " is " +
                   std::to_string(want) + " bytes from byte " + std::to_string(data_at) +
                   ", but the file holds " + std::to_string(have) +
                   (have < want ? " (truncated)" : " (trailing bytes)"));
  if (dtype == DType::kBool) {
    for (uint64_t i = 0; i < numel; ++i)
      if (bytes[data_at + i] > 1)
        fail(name, "bool element " + std::to_string(i) + " at byte " + std::to_string(data_at + i) +
                       " is " + std::to_string(bytes[data_at + i]) + ", not 0 or 1");
  }
  return Tensor::from_host(bytes.data() + data_at, *h.shape, dtype, device);
}

Tensor load_npy(const std::string& path, const Device& device) {
  compile::detail::MappedFile file(path);  // an Error naming the file when unreadable
  return parse_npy(std::span<const uint8_t>(file.data(), file.size()), path, device);
}

Tensor load_npy(const std::string& path) { return load_npy(path, host_device()); }

std::vector<uint8_t> encode_npy(const Tensor& tensor) {
  if (!tensor.defined())
    throw Error(ErrorCode::kInvalidArgument, "cannot write an undefined tensor as .npy");
  const std::string descr = npy_descr(tensor.dtype());
  std::string dims;
  for (int64_t d : tensor.shape()) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
  if (tensor.shape().size() == 1) dims += ",";
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Version 1.0 has a u16 header length; longer headers (many dims) need 2.0.
  const bool v2 = header.size() + 1 + 10 > 65535;
  const size_t preamble = v2 ? 12 : 10;
  header.append(
      (kHeaderAlignment - (preamble + header.size() + 1) % kHeaderAlignment) % kHeaderAlignment,
      ' ');
  header += '\n';
  const std::vector<uint8_t> data = tensor.to_host_bytes();
  std::vector<uint8_t> out(preamble + header.size() + data.size());
  std::memcpy(out.data(), kMagic, kMagicSize);
  out[6] = v2 ? 2 : 1;
  out[7] = 0;
  if (v2) {
    compile::detail::put_u32(out.data() + 8, static_cast<uint32_t>(header.size()));
  } else {
    out[8] = static_cast<uint8_t>(header.size() & 0xff);
    out[9] = static_cast<uint8_t>(header.size() >> 8);
  }
  std::memcpy(out.data() + preamble, header.data(), header.size());
  if (!data.empty()) std::memcpy(out.data() + preamble + header.size(), data.data(), data.size());
  return out;
}

void save_npy(const std::string& path, const Tensor& tensor) {
  const std::vector<uint8_t> bytes = encode_npy(tensor);
  compile::detail::AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

Tensor bf16_to_f32_tensor(const Tensor& tensor) {
  if (tensor.dtype() != DType::kBF16)
    throw Error(ErrorCode::kInvalidArgument,
                "bf16_to_f32_tensor: the tensor is " + tensor.describe() + ", not bf16");
  const std::vector<uint8_t> bytes = tensor.to_host_bytes();
  std::vector<float> values(bytes.size() / 2);
  for (size_t i = 0; i < values.size(); ++i) {
    uint16_t h;
    std::memcpy(&h, bytes.data() + 2 * i, 2);
    values[i] = bf16_to_f32(h);
  }
  return Tensor::from_vector(values, tensor.shape(), DType::kF32, host_device());
}

}  // namespace rma
