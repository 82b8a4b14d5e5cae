// Python arrays <-> rma::Tensor. Arrays arrive C-contiguous and on the host
// (rm_abstract.ops moves them there); on a host-memory device they are
// wrapped without a copy, and results come back as views of the tensor.
#include <memory>
#include <optional>
#include <string>

#include "bindings.h"
#include "rma/error.h"

namespace rma::python {

namespace {

[[noreturn]] void invalid(const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, what);
}

nb::dlpack::dtype dlpack_dtype(DType dtype) {
  using nb::dlpack::dtype_code;
  auto make = [](dtype_code code, int bits) {
    return nb::dlpack::dtype{static_cast<uint8_t>(code), static_cast<uint8_t>(bits), 1};
  };
  switch (dtype) {
    case DType::kF32:
      return make(dtype_code::Float, 32);
    case DType::kF16:
      return make(dtype_code::Float, 16);
    case DType::kBF16:
      return make(dtype_code::Bfloat, 16);
    case DType::kI8:
      return make(dtype_code::Int, 8);
    case DType::kI32:
      return make(dtype_code::Int, 32);
    case DType::kI64:
      return make(dtype_code::Int, 64);
    case DType::kBool:
      return make(dtype_code::Bool, 8);
    default:
      return make(dtype_code::UInt, 8);  // quantized blocks: their bytes
  }
}

// Holds an array (and so the Python object it came from) from C++, as a
// tensor's keep_alive; released with the GIL held, whichever thread lets the
// tensor go.
template <class Array>
std::shared_ptr<void> keep_array_alive(const Array& array) {
  return std::shared_ptr<void>(new Array(array), [](void* p) {
    nb::gil_scoped_acquire gil;
    delete static_cast<Array*>(p);
  });
}

template <class Array>
Tensor to_tensor(const Array& array, const Device& device, const std::string& what,
                 std::optional<DType> packed) {
  if (array.device_type() != nb::device::cpu::value)
    invalid(what + ": expected an array in host memory, got one on DLPack device type " +
            std::to_string(array.device_type()));
  Shape shape(array.ndim());
  int64_t expected_stride = 1;
  for (int i = static_cast<int>(array.ndim()) - 1; i >= 0; --i) {
    shape[i] = static_cast<int64_t>(array.shape(i));
    if (shape[i] != 1 && array.stride(i) != expected_stride)
      invalid(what + ": expected a C-contiguous array");
    expected_stride *= shape[i];
  }
  DType dtype;
  if (packed) {
    // Quantized blocks arrive as their bytes: u8[..., bytes per row].
    const auto u8 = nb::dlpack::dtype{static_cast<uint8_t>(nb::dlpack::dtype_code::UInt), 8, 1};
    if (array.dtype() != u8 || shape.empty())
      invalid(what + ": a " + std::string(name(*packed)) +
              " tensor is passed as its bytes, a uint8 array with at least one dim");
    if (shape.back() % block_bytes(*packed) != 0)
      invalid(what + ": last dim " + std::to_string(shape.back()) + " is not a multiple of " +
              std::string(name(*packed)) + "'s block of " + std::to_string(block_bytes(*packed)) +
              " bytes");
    shape.back() = shape.back() / block_bytes(*packed) * block_elems(*packed);
    dtype = *packed;
  } else {
    dtype = dtype_from_dlpack(array.dtype(), what);
  }
  void* data = const_cast<void*>(static_cast<const void*>(array.data()));
  if (device.host_memory() && array.size() > 0)
    return Tensor::wrap_host(data, shape, dtype, device, keep_array_alive(array));
  return Tensor::from_host(data, shape, dtype, device);
}

}  // namespace

DType dtype_from_dlpack(const nb::dlpack::dtype& dt, const std::string& what) {
  using nb::dlpack::dtype_code;
  const auto code = static_cast<dtype_code>(dt.code);
  if (dt.lanes == 1) {
    if (code == dtype_code::Float && dt.bits == 32) return DType::kF32;
    if (code == dtype_code::Float && dt.bits == 16) return DType::kF16;
    if (code == dtype_code::Bfloat && dt.bits == 16) return DType::kBF16;
    if (code == dtype_code::Int && dt.bits == 8) return DType::kI8;
    if (code == dtype_code::Int && dt.bits == 32) return DType::kI32;
    if (code == dtype_code::Int && dt.bits == 64) return DType::kI64;
    if (code == dtype_code::Bool && dt.bits == 8) return DType::kBool;
  }
  const char* kind = code == dtype_code::Int      ? "int"
                     : code == dtype_code::UInt   ? "uint"
                     : code == dtype_code::Float  ? "float"
                     : code == dtype_code::Bfloat ? "bfloat"
                     : code == dtype_code::Bool   ? "bool"
                                                  : "DLPack type code ";
  std::string got = kind;
  if (got.back() == ' ') got += std::to_string(dt.code) + " of ";
  got += std::to_string(dt.bits);
  if (dt.lanes != 1) got += "x" + std::to_string(dt.lanes);
  invalid(what + ": element type " + got +
          " is not one of float32, float16, bfloat16, int8, int32, int64, bool");
}

Framework parse_framework(const std::string& name) {
  if (name == "numpy") return Framework::kNumpy;
  if (name == "torch") return Framework::kTorch;
  invalid("framework '" + name + "' is not numpy or torch");
}

Tensor tensor_from_array(const nb::ndarray<nb::ro>& array, const Device& device,
                         const std::string& what, std::optional<DType> packed) {
  return to_tensor(array, device, what, packed);
}

Tensor tensor_from_writable_array(const nb::ndarray<>& array, const Device& device,
                                  const std::string& what) {
  return to_tensor(array, device, what, std::nullopt);
}

nb::object array_from_tensor(const Tensor& tensor, Framework framework) {
  Tensor host = tensor.contiguous();
  if (!host.device().host_memory()) {
    nb::gil_scoped_release no_gil;
    host = host.to(runtime().device("cpu"));
  }
  // Quantized tensors come back as their bytes: [..., bytes per row] u8.
  std::vector<size_t> shape(host.shape().begin(), host.shape().end());
  if (is_quantized(host.dtype()) && !shape.empty())
    shape.back() = static_cast<size_t>(bytes_for(host.dtype(), host.shape().back()));
  auto* owner = new Tensor(host);
  nb::capsule keep(owner, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
  void* data = host.host_data();
  const nb::dlpack::dtype dt = dlpack_dtype(host.dtype());
  if (framework == Framework::kTorch)
    return nb::cast(nb::ndarray<nb::pytorch>(data, shape.size(), shape.data(), keep, nullptr, dt));
  return nb::cast(nb::ndarray<nb::numpy>(data, shape.size(), shape.data(), keep, nullptr, dt));
}

}  // namespace rma::python
