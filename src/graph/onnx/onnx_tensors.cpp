// ONNX TensorProto -> host Tensor: element types, the three places data can
// live (raw_data, the typed repeated fields, an external file) and the
// checks that keep a bad file from reading out of bounds.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <iterator>
#include <limits>

#include "onnx_internal.h"
#include "rma/graph/onnx.h"
#include "rma/half.h"

namespace rma::graph::onnx_import {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, message);
}

// Bytes of one element of an ONNX type as stored in raw_data; 0 if the IR
// cannot import it.
int64_t stored_bytes(int32_t t) {
  switch (t) {
    case pb::TensorProto_DataType_FLOAT:
      return 4;
    case pb::TensorProto_DataType_UINT8:
      return 1;
    case pb::TensorProto_DataType_INT8:
      return 1;
    case pb::TensorProto_DataType_UINT16:
      return 2;
    case pb::TensorProto_DataType_INT16:
      return 2;
    case pb::TensorProto_DataType_INT32:
      return 4;
    case pb::TensorProto_DataType_INT64:
      return 8;
    case pb::TensorProto_DataType_BOOL:
      return 1;
    case pb::TensorProto_DataType_FLOAT16:
      return 2;
    case pb::TensorProto_DataType_DOUBLE:
      return 8;
    case pb::TensorProto_DataType_UINT32:
      return 4;
    case pb::TensorProto_DataType_UINT64:
      return 8;
    case pb::TensorProto_DataType_BFLOAT16:
      return 2;
    default:
      return 0;
  }
}

// Whether raw bytes of `t` already are the IR dtype's layout.
bool same_layout(int32_t t) {
  switch (t) {
    case pb::TensorProto_DataType_FLOAT:
    case pb::TensorProto_DataType_INT8:
    case pb::TensorProto_DataType_INT32:
    case pb::TensorProto_DataType_INT64:
    case pb::TensorProto_DataType_BOOL:
    case pb::TensorProto_DataType_FLOAT16:
    case pb::TensorProto_DataType_BFLOAT16:
      return true;
    default:
      return false;
  }
}

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <class T>
void store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

// Element i of raw little-endian data of ONNX type t, written into `out` as
// IR dtype element i. `what` names the tensor for range errors.
void convert_element(int32_t t, const uint8_t* in, uint8_t* out, int64_t i,
                     const std::string& what) {
  const int64_t sb = stored_bytes(t);
  const uint8_t* p = in + i * sb;
  switch (t) {
    case pb::TensorProto_DataType_DOUBLE:
      store<float>(out + i * 4, static_cast<float>(load<double>(p)));
      return;
    case pb::TensorProto_DataType_UINT8:
      store<int32_t>(out + i * 4, *p);
      return;
    case pb::TensorProto_DataType_UINT16:
      store<int32_t>(out + i * 4, load<uint16_t>(p));
      return;
    case pb::TensorProto_DataType_INT16:
      store<int32_t>(out + i * 4, load<int16_t>(p));
      return;
    case pb::TensorProto_DataType_UINT32:
      store<int64_t>(out + i * 8, load<uint32_t>(p));
      return;
    case pb::TensorProto_DataType_UINT64: {
      const uint64_t v = load<uint64_t>(p);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(what + ": UINT64 element " + std::to_string(i) + " (" + std::to_string(v) +
             ") does not fit the i64 it is imported as");
      store<int64_t>(out + i * 8, static_cast<int64_t>(v));
      return;
    }
    case pb::TensorProto_DataType_BOOL:
      out[i] = *p != 0;
      return;
    default:
      std::memcpy(out + i * sb, p, static_cast<size_t>(sb));
      return;
  }
}

int64_t parse_int(const std::string& s, const std::string& what) {
  int64_t v = 0;
  const char* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, v);
  if (s.empty() || r.ec != std::errc() || r.ptr != end || v < 0)
    fail(what + " is '" + s + "', expected a non-negative integer");
  return v;
}

bool escapes_folder(const std::string& location) {
  if (location.empty() || location[0] == '/') return true;
  size_t begin = 0;
  while (begin <= location.size()) {
    size_t end = location.find('/', begin);
    if (end == std::string::npos) end = location.size();
    if (location.compare(begin, end - begin, "..") == 0 && end - begin == 2) return true;
    begin = end + 1;
  }
  return false;
}

}  // namespace

MappedFile map_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw Error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInvalidArgument,
                path + ": cannot open: " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path + ": not a regular file");
  }
  MappedFile mapped;
  mapped.size = static_cast<uint64_t>(st.st_size);
  if (mapped.size == 0) {  // mmap refuses length 0
    ::close(fd);
    return mapped;
  }
  void* addr = ::mmap(nullptr, mapped.size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping keeps its own reference to the file
  if (addr == MAP_FAILED)
    fail(path + ": cannot memory-map " + std::to_string(mapped.size) +
         " bytes: " + std::strerror(err));
  const uint64_t size = mapped.size;
  mapped.data = static_cast<const uint8_t*>(addr);
  mapped.keep_alive = std::shared_ptr<void>(addr, [size](void* p) { ::munmap(p, size); });
  return mapped;
}

std::optional<DType> import_dtype(int32_t t) {
  switch (t) {
    case pb::TensorProto_DataType_FLOAT:
    case pb::TensorProto_DataType_DOUBLE:
      return DType::kF32;
    case pb::TensorProto_DataType_FLOAT16:
      return DType::kF16;
    case pb::TensorProto_DataType_BFLOAT16:
      return DType::kBF16;
    case pb::TensorProto_DataType_INT8:
      return DType::kI8;
    case pb::TensorProto_DataType_UINT8:
    case pb::TensorProto_DataType_INT16:
    case pb::TensorProto_DataType_UINT16:
    case pb::TensorProto_DataType_INT32:
      return DType::kI32;
    case pb::TensorProto_DataType_UINT32:
    case pb::TensorProto_DataType_UINT64:
    case pb::TensorProto_DataType_INT64:
      return DType::kI64;
    case pb::TensorProto_DataType_BOOL:
      return DType::kBool;
    default:
      return std::nullopt;
  }
}

std::string onnx_type_name(int32_t t) {
  if (pb::TensorProto_DataType_IsValid(t))
    return pb::TensorProto_DataType_Name(static_cast<pb::TensorProto_DataType>(t));
  // Types newer than the onnx.proto this build was generated from.
  static const char* const kNewer[] = {
      "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4",
      "INT4",         "FLOAT4E2M1",     "FLOAT8E8M0", "UINT2",          "INT2"};
  constexpr int32_t kFirstNewer = 17;
  if (t >= kFirstNewer && t < kFirstNewer + static_cast<int32_t>(std::size(kNewer)))
    return kNewer[t - kFirstNewer];
  return "type " + std::to_string(t);
}

TensorReader::TensorReader(std::string data_dir, std::shared_ptr<const void> model_keep_alive,
                           Device host)
    : data_dir_(std::move(data_dir)),
      model_keep_alive_(std::move(model_keep_alive)),
      host_(std::move(host)) {}

const MappedFile& TensorReader::external_file(const std::string& location,
                                              const std::string& what) {
  if (escapes_folder(location))
    fail(what + ": external data location '" + location +
         "' must be a relative path inside the model's folder");
  if (data_dir_.empty())
    fail(what + ": has external data ('" + location +
         "') but no folder to find it in (set OnnxImportOptions::external_data_dir)");
  auto it = files_.find(location);
  if (it != files_.end()) return it->second;
  const std::string path = data_dir_ + "/" + location;
  MappedFile file;
  try {
    file = map_file(path);
  } catch (const Error& e) {
    throw Error(e.code(), what + ": external data: " + e.message());
  }
  return files_.emplace(location, std::move(file)).first->second;
}

Tensor TensorReader::read(const pb::TensorProto& t, const std::string& what) {
  const int32_t type = t.data_type();
  const std::optional<DType> dtype = import_dtype(type);
  if (!dtype)
    throw Error(ErrorCode::kUnsupported,
                what + ": element type " + onnx_type_name(type) + " is not supported");
  if (t.dims_size() > RMA_MAX_DIMS)
    fail(what + ": " + std::to_string(t.dims_size()) + " dims, at most " +
         std::to_string(RMA_MAX_DIMS) + " are supported");
  Shape shape;
  int64_t numel = 1;
  constexpr int64_t kMaxElements = int64_t{1} << 40;
  for (int64_t d : t.dims()) {
    if (d < 0) fail(what + ": negative dim " + std::to_string(d));
    shape.push_back(d);
    if (d != 0 && numel > kMaxElements / d)
      fail(what + ": shape " + rma::to_string(shape) + " is too large");
    numel *= d;
  }
  if (t.has_segment()) fail(what + ": segmented tensors are not supported");
  const int64_t sb = stored_bytes(type);
  const int64_t in_bytes = numel * sb;
  const int64_t out_bytes = bytes_for(*dtype, numel);

  // Raw little-endian bytes: from the file, from raw_data, or none (typed
  // fields, below).
  const uint8_t* raw = nullptr;
  std::shared_ptr<const void> raw_owner;
  if (t.data_location() == pb::TensorProto_DataLocation_EXTERNAL) {
    std::string location;
    int64_t offset = 0;
    std::optional<int64_t> length;
    for (const auto& kv : t.external_data()) {
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "offset")
        offset = parse_int(kv.value(), what + ": external data offset");
      else if (kv.key() == "length")
        length = parse_int(kv.value(), what + ": external data length");
    }
    if (location.empty()) fail(what + ": external data without a 'location'");
    const MappedFile& file = external_file(location, what);
    const int64_t want = length.value_or(in_bytes);
    if (want != in_bytes)
      fail(what + ": external data length " + std::to_string(want) + " in '" + location +
           "', but shape " + rma::to_string(shape) + " of " + onnx_type_name(type) + " needs " +
           std::to_string(in_bytes) + " bytes");
    if (static_cast<uint64_t>(offset) > file.size ||
        static_cast<uint64_t>(want) > file.size - static_cast<uint64_t>(offset))
      fail(what + ": external data at offset " + std::to_string(offset) + ", length " +
           std::to_string(want) + " is past the end of '" + location + "' (" +
           std::to_string(file.size) + " bytes)");
    raw = file.data ? file.data + offset : nullptr;
    raw_owner = file.keep_alive;
  } else if (t.has_raw_data()) {
    if (static_cast<int64_t>(t.raw_data().size()) != in_bytes)
      fail(what + ": raw_data has " + std::to_string(t.raw_data().size()) + " bytes, shape " +
           rma::to_string(shape) + " of " + onnx_type_name(type) + " needs " +
           std::to_string(in_bytes));
    raw = reinterpret_cast<const uint8_t*>(t.raw_data().data());
    raw_owner = model_keep_alive_;
  }

  if (raw || numel == 0) {
    if (numel == 0) return Tensor::zeros(shape, *dtype, host_);
    const bool aligned = reinterpret_cast<uintptr_t>(raw) % static_cast<uintptr_t>(sb) == 0;
    bool wrap = same_layout(type) && aligned;
    if (wrap && type == pb::TensorProto_DataType_BOOL)  // wrap only canonical 0/1 bytes
      for (int64_t i = 0; i < numel && wrap; ++i) wrap = raw[i] <= 1;
    if (wrap)
      return Tensor::wrap_host(const_cast<uint8_t*>(raw), shape, *dtype, host_,
                               std::const_pointer_cast<void>(raw_owner));
    std::vector<uint8_t> out(static_cast<size_t>(out_bytes));
    for (int64_t i = 0; i < numel; ++i) convert_element(type, raw, out.data(), i, what);
    return Tensor::from_host(out.data(), shape, *dtype, host_);
  }

  // Typed fields: each element widened to the field's type. The count is
  // checked before anything is allocated.
  int64_t given = 0;
  const char* field = "int32_data";
  switch (type) {
    case pb::TensorProto_DataType_FLOAT:
      given = t.float_data_size();
      field = "float_data";
      break;
    case pb::TensorProto_DataType_DOUBLE:
      given = t.double_data_size();
      field = "double_data";
      break;
    case pb::TensorProto_DataType_INT64:
      given = t.int64_data_size();
      field = "int64_data";
      break;
    case pb::TensorProto_DataType_UINT32:
    case pb::TensorProto_DataType_UINT64:
      given = t.uint64_data_size();
      field = "uint64_data";
      break;
    default:
      given = t.int32_data_size();
      break;
  }
  if (given != numel)
    fail(what + ": " + field + " has " + std::to_string(given) + " values, shape " +
         rma::to_string(shape) + " of " + onnx_type_name(type) + " needs " + std::to_string(numel));
  std::vector<uint8_t> out(static_cast<size_t>(out_bytes));
  switch (type) {
    case pb::TensorProto_DataType_FLOAT:
      for (int64_t i = 0; i < numel; ++i) store<float>(out.data() + i * 4, t.float_data(i));
      break;
    case pb::TensorProto_DataType_DOUBLE:
      for (int64_t i = 0; i < numel; ++i)
        store<float>(out.data() + i * 4, static_cast<float>(t.double_data(i)));
      break;
    case pb::TensorProto_DataType_INT64:
      for (int64_t i = 0; i < numel; ++i) store<int64_t>(out.data() + i * 8, t.int64_data(i));
      break;
    case pb::TensorProto_DataType_UINT32:
    case pb::TensorProto_DataType_UINT64:
      for (int64_t i = 0; i < numel; ++i) {
        const uint64_t v = t.uint64_data(i);
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          fail(what + ": element " + std::to_string(i) + " (" + std::to_string(v) +
               ") does not fit the i64 it is imported as");
        store<int64_t>(out.data() + i * 8, static_cast<int64_t>(v));
      }
      break;
    default:  // int32_data holds every narrower type, f16/bf16 as their bits
      for (int64_t i = 0; i < numel; ++i) {
        const int32_t v = t.int32_data(i);
        switch (*dtype) {
          case DType::kF16:
          case DType::kBF16:
            store<uint16_t>(out.data() + i * 2, static_cast<uint16_t>(v));
            break;
          case DType::kI8:
            store<int8_t>(out.data() + i, static_cast<int8_t>(v));
            break;
          case DType::kBool:
            out[i] = v != 0;
            break;
          default:
            store<int32_t>(out.data() + i * 4, v);
            break;
        }
      }
      break;
  }
  return Tensor::from_host(out.data(), shape, *dtype, host_);
}

}  // namespace rma::graph::onnx_import

namespace rma::graph {

OnnxTensor read_onnx_tensor(const void* data, size_t size, const std::string& source_name) {
  namespace oi = onnx_import;
  auto proto = std::make_shared<oi::pb::TensorProto>();
  if (size > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !proto->ParseFromArray(data, static_cast<int>(size)))
    throw Error(ErrorCode::kInvalidArgument,
                source_name + ": not a serialized ONNX TensorProto (truncated or corrupt)");
  // Raw data of a native layout is wrapped, so the parsed proto stays alive
  // with the tensor.
  oi::TensorReader reader("", proto, Runtime::get().device("cpu"));
  OnnxTensor out;
  out.name = proto->name();
  out.onnx_type = oi::onnx_type_name(proto->data_type());
  out.tensor = reader.read(*proto, source_name);
  return out;
}

}  // namespace rma::graph
