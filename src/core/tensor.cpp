#include "rma/tensor.h"

#include <cstring>
#include <numeric>

#include "rma/error.h"

namespace rma {
namespace {

rma_error make_error() { return rma_error{sizeof(rma_error), RMA_ABI_VERSION, {0}}; }

void check_shape(const Shape& shape, DType dtype) {
  if (shape.size() > RMA_MAX_DIMS)
    throw Error(ErrorCode::kInvalidArgument, "tensor of " + std::to_string(shape.size()) +
                                                 " dims; at most " + std::to_string(RMA_MAX_DIMS));
  int64_t elems = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(ErrorCode::kInvalidArgument, "negative dimension in shape " + to_string(shape));
    // Byte counts are computed in int64: refuse shapes whose size overflows it.
    if (__builtin_mul_overflow(elems, d, &elems) || elems > (int64_t{1} << 60))
      throw Error(ErrorCode::kInvalidArgument,
                  "shape " + to_string(shape) + " has more elements than can be addressed");
  }
  if (is_quantized(dtype) && !shape.empty() && shape.back() % block_elems(dtype) != 0)
    throw Error(ErrorCode::kInvalidArgument,
                std::string(name(dtype)) + " tensor's last dimension must be a multiple of " +
                    std::to_string(block_elems(dtype)) + ", got shape " + to_string(shape));
}

}  // namespace

std::string to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t numel(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t s = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

void Tensor::check_host_size(uint64_t bytes, const Shape& shape, DType dtype) {
  check_shape(shape, dtype);
  const uint64_t need = bytes_for(dtype, rma::numel(shape));
  if (bytes != need)
    throw Error(ErrorCode::kInvalidArgument, "host data has " + std::to_string(bytes) +
                                                 " bytes; " + std::string(name(dtype)) +
                                                 to_string(shape) + " needs " + std::to_string(need));
}

Tensor Tensor::empty(const Shape& shape, DType dtype, const Device& device) {
  if (!device.valid()) throw Error(ErrorCode::kInvalidArgument, "Tensor::empty on an invalid device");
  check_shape(shape, dtype);
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  t.buffer_ = device.allocate(std::max<uint64_t>(64, bytes_for(dtype, rma::numel(shape))));
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, const Device& device) {
  Tensor t = empty(shape, dtype, device);
  std::vector<uint8_t> z(t.nbytes(), 0);
  if (!z.empty()) t.copy_from_host_bytes(z.data(), z.size());
  return t;
}

Tensor Tensor::from_host(const void* data, const Shape& shape, DType dtype, const Device& device) {
  Tensor t = empty(shape, dtype, device);
  if (t.nbytes() > 0) t.copy_from_host_bytes(data, t.nbytes());
  return t;
}

Tensor Tensor::wrap_host(void* data, const Shape& shape, DType dtype, const Device& device,
                         std::shared_ptr<void> keep_alive) {
  check_shape(shape, dtype);
  if (!device.host_memory())
    throw Error(ErrorCode::kInvalidArgument,
                "wrap_host needs a device that shares host memory", "", device.name());
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  // A host-memory device's buffer handle is the host address itself.
  t.buffer_ = std::make_shared<Buffer>(device.impl(), data, bytes_for(dtype, rma::numel(shape)),
                                       nullptr);
  t.keep_alive_ = std::move(keep_alive);
  return t;
}

int64_t Tensor::dim(int i) const {
  const int n = ndim();
  if (i < -n || i >= n)
    throw Error(ErrorCode::kInvalidArgument,
                "dim " + std::to_string(i) + " out of range for " + describe());
  return shape_[i < 0 ? i + n : i];
}

uint64_t Tensor::nbytes() const { return bytes_for(dtype_, numel()); }

bool Tensor::is_contiguous() const { return strides_ == contiguous_strides(shape_); }

Tensor Tensor::reshape(const Shape& shape) const {
  if (!is_contiguous())
    throw Error(ErrorCode::kInvalidArgument, "reshape of a non-contiguous " + describe() +
                                                 "; call contiguous() first");
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) throw Error(ErrorCode::kInvalidArgument, "reshape with two -1 dims: " + to_string(shape));
      infer = static_cast<int>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) s[infer] = known == 0 ? 0 : numel() / known;
  if (rma::numel(s) != numel())
    throw Error(ErrorCode::kInvalidArgument,
                "cannot reshape " + describe() + " to " + to_string(shape));
  check_shape(s, dtype_);
  Tensor t = *this;
  t.shape_ = s;
  t.strides_ = contiguous_strides(s);
  return t;
}

Tensor Tensor::slice(int d, int64_t start, int64_t end) const {
  const int n = ndim();
  if (d < 0) d += n;
  if (d < 0 || d >= n) throw Error(ErrorCode::kInvalidArgument, "slice dim out of range for " + describe());
  if (start < 0 || end < start || end > shape_[d])
    throw Error(ErrorCode::kInvalidArgument, "slice [" + std::to_string(start) + ", " +
                                                 std::to_string(end) + ") out of range for dim " +
                                                 std::to_string(d) + " of " + describe());
  if (is_quantized(dtype_) && d == n - 1 &&
      (start % block_elems(dtype_) || end % block_elems(dtype_)))
    throw Error(ErrorCode::kInvalidArgument, "slice of a quantized tensor's last dim must align to blocks");
  Tensor t = *this;
  t.offset_ += bytes_for(dtype_, start * strides_[d]);
  t.shape_[d] = end - start;
  return t;
}

Tensor Tensor::transpose(int d0, int d1) const {
  const int n = ndim();
  if (d0 < 0) d0 += n;
  if (d1 < 0) d1 += n;
  if (d0 < 0 || d1 < 0 || d0 >= n || d1 >= n)
    throw Error(ErrorCode::kInvalidArgument, "transpose dims out of range for " + describe());
  if (is_quantized(dtype_) && (d0 == n - 1 || d1 == n - 1) && d0 != d1)
    throw Error(ErrorCode::kInvalidArgument, "cannot transpose the block dimension of " + describe());
  Tensor t = *this;
  std::swap(t.shape_[d0], t.shape_[d1]);
  std::swap(t.strides_[d0], t.strides_[d1]);
  return t;
}

Tensor Tensor::view_bytes(uint64_t byte_offset, const Shape& shape, DType dtype) const {
  if (!defined() || !is_contiguous())
    throw Error(ErrorCode::kInvalidArgument,
                "view_bytes of a non-contiguous or undefined " + describe());
  check_shape(shape, dtype);
  const uint64_t bytes = bytes_for(dtype, rma::numel(shape));
  if (byte_offset > nbytes() || bytes > nbytes() - byte_offset)
    throw Error(ErrorCode::kInvalidArgument,
                "view_bytes of " + std::to_string(bytes) + " bytes at offset " +
                    std::to_string(byte_offset) + " exceeds the " + std::to_string(nbytes()) +
                    " bytes of " + describe());
  Tensor t = *this;
  t.offset_ += byte_offset;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

void* Tensor::host_data() const {
  if (!buffer_) return nullptr;
  void* base = buffer_->host_ptr();
  return base ? static_cast<uint8_t*>(base) + offset_ : nullptr;
}

rma_tensor Tensor::to_abi() const {
  rma_tensor t{};
  t.struct_size = sizeof(rma_tensor);
  t.abi_version = RMA_ABI_VERSION;
  t.dtype = static_cast<int32_t>(dtype_);
  t.ndim = ndim();
  for (int i = 0; i < ndim(); ++i) {
    t.shape[i] = shape_[i];
    t.strides[i] = strides_[i];
  }
  t.data = buffer_ ? buffer_->handle() : nullptr;
  t.offset = offset_;
  return t;
}

rma_tensor absent_tensor() {
  rma_tensor t{};
  t.struct_size = sizeof(rma_tensor);
  t.abi_version = RMA_ABI_VERSION;
  t.ndim = -1;
  return t;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return std::string(name(dtype_)) + to_string(shape_) + " on " + device_.name();
}

// ------------------------------------------------------------------ copies
void Tensor::copy_from_host(const void* src, uint64_t bytes) {
  if (!defined() || !is_contiguous() || bytes != nbytes())
    throw Error(ErrorCode::kInvalidArgument,
                "copy_from_host: " + std::to_string(bytes) + " bytes into " +
                    (defined() ? describe() : std::string("an undefined tensor")) +
                    " (a contiguous tensor of exactly that many bytes is needed)");
  if (bytes) copy_from_host_bytes(src, bytes);
}

void Tensor::copy_from_host_bytes(const void* src, uint64_t bytes) {
  rma_error err = make_error();
  Stream& s = device_.default_stream();
  check_status(device_.api().copy_host_to_device(device_.handle(), s.handle(), buffer_->handle(),
                                                 offset_, src, bytes, &err),
               err, "copy_host_to_device", device_.name());
  s.synchronize();  // `src` may go away once we return
}

void Tensor::copy_to_host(void* dst) const {
  if (!is_contiguous()) return contiguous().copy_to_host(dst);
  if (nbytes() == 0) return;
  rma_error err = make_error();
  Stream& s = device_.default_stream();
  check_status(device_.api().copy_device_to_host(device_.handle(), s.handle(), dst,
                                                 buffer_->handle(), offset_, nbytes(), &err),
               err, "copy_device_to_host", device_.name());
  s.synchronize();
}

std::vector<uint8_t> Tensor::to_host_bytes() const {
  std::vector<uint8_t> out(nbytes());
  copy_to_host(out.data());
  return out;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  // Gather on the host: read the span the view covers, then restride.
  const int64_t unit = is_quantized(dtype_) ? block_elems(dtype_) : 1;
  const int64_t ubytes = block_bytes(dtype_);
  int64_t span = 1;  // elements from element 0 to the furthest one, inclusive
  for (int i = 0; i < ndim(); ++i) span += (shape_[i] - 1) * strides_[i];
  if (numel() == 0) return empty(shape_, dtype_, device_);
  std::vector<uint8_t> raw(bytes_for(dtype_, (span + unit - 1) / unit * unit));
  {
    rma_error err = make_error();
    Stream& s = device_.default_stream();
    check_status(device_.api().copy_device_to_host(device_.handle(), s.handle(), raw.data(),
                                                   buffer_->handle(), offset_, raw.size(), &err),
                 err, "copy_device_to_host", device_.name());
    s.synchronize();
  }
  std::vector<uint8_t> dense(nbytes());
  const int n = ndim();
  std::vector<int64_t> idx(n, 0);
  const int64_t inner = n ? shape_[n - 1] : 1;  // innermost run (stride may not be 1)
  const int64_t rows = numel() / std::max<int64_t>(inner, 1);
  uint8_t* out = dense.data();
  for (int64_t r = 0; r < rows; ++r) {
    int64_t base = 0;
    for (int i = 0; i < n - 1; ++i) base += idx[i] * strides_[i];
    if (n && strides_[n - 1] == 1) {
      const uint64_t b = bytes_for(dtype_, inner);
      std::memcpy(out, raw.data() + bytes_for(dtype_, base), b);
      out += b;
    } else {
      for (int64_t j = 0; j < inner; ++j) {
        std::memcpy(out, raw.data() + (base + j * (n ? strides_[n - 1] : 0)) * ubytes, ubytes);
        out += ubytes;
      }
    }
    for (int i = n - 2; i >= 0; --i) {
      if (++idx[i] < shape_[i]) break;
      idx[i] = 0;
    }
  }
  return from_host(dense.data(), shape_, dtype_, device_);
}

Tensor Tensor::to(const Device& device) const {
  if (!defined()) throw Error(ErrorCode::kInvalidArgument, "to() on an undefined tensor");
  Tensor t = empty(shape_, dtype_, device);
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  if (!defined() || !src.defined())
    throw Error(ErrorCode::kInvalidArgument, "copy_from with an undefined tensor");
  if (src.shape_ != shape_ || src.dtype_ != dtype_)
    throw Error(ErrorCode::kInvalidArgument,
                "copy_from: destination " + describe() + " and source " + src.describe() +
                    " differ in shape or dtype");
  if (!is_contiguous())
    throw Error(ErrorCode::kInvalidArgument, "copy_from into a non-contiguous " + describe());
  const Tensor s = src.contiguous();
  if (nbytes() == 0) return;
  if (s.device_ == device_) {
    rma_error err = make_error();
    check_status(device_.api().copy_device_to_device(device_.handle(),
                                                     device_.default_stream().handle(),
                                                     buffer_->handle(), offset_,
                                                     s.buffer_->handle(), s.offset_, nbytes(), &err),
                 err, "copy_device_to_device", device_.name());
    return;
  }
  // Across devices: straight from host memory when the source shares it,
  // else through a host staging copy.
  if (const void* p = s.host_data()) {
    s.device_.synchronize();
    copy_from_host_bytes(p, nbytes());
    return;
  }
  const std::vector<uint8_t> staging = s.to_host_bytes();
  copy_from_host_bytes(staging.data(), staging.size());
}

}  // namespace rma
