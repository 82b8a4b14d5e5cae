// rma/tensor.h — n-dimensional tensors on a device.
//
// A Tensor is a view (shape, element strides, byte offset, dtype) of a
// reference-counted device Buffer: copying a Tensor shares its storage, and
// views (reshape, slice, transpose) never copy. Quantized dtypes pack their
// innermost dimension in blocks. Copies between devices are explicit
// (to(), copy_from()). Not thread safe for concurrent writes to one buffer.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "rma/device.h"
#include "rma/dtype.h"

namespace rma {

using Shape = std::vector<int64_t>;

std::string to_string(const Shape& shape);  // "[2, 3, 4]"
int64_t numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;  // undefined: an absent optional argument

  // Uninitialised storage from the device's pool.
  static Tensor empty(const Shape& shape, DType dtype, const Device& device);
  static Tensor zeros(const Shape& shape, DType dtype, const Device& device);
  // Copies `bytes` (dense row-major) from host memory to a new tensor.
  static Tensor from_host(const void* data, const Shape& shape, DType dtype,
                          const Device& device);
  template <class T>
  static Tensor from_vector(const std::vector<T>& v, const Shape& shape, DType dtype,
                            const Device& device) {
    check_host_size(v.size() * sizeof(T), shape, dtype);
    return from_host(v.data(), shape, dtype, device);
  }
  // Wraps existing host memory without copying on a host-memory device;
  // `keep_alive` is held as long as any view of the tensor lives.
  static Tensor wrap_host(void* data, const Shape& shape, DType dtype, const Device& device,
                          std::shared_ptr<void> keep_alive);

  bool defined() const { return device_.valid(); }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const;  // negative i counts from the back
  int ndim() const { return static_cast<int>(shape_.size()); }
  const std::vector<int64_t>& strides() const { return strides_; }
  DType dtype() const { return dtype_; }
  const Device& device() const { return device_; }
  int64_t numel() const { return rma::numel(shape_); }
  uint64_t nbytes() const;  // of the elements in view, when contiguous
  uint64_t offset() const { return offset_; }
  const std::shared_ptr<Buffer>& buffer() const { return buffer_; }
  bool is_contiguous() const;

  // Views sharing storage.
  Tensor reshape(const Shape& shape) const;  // contiguous only; one -1 allowed
  Tensor slice(int dim, int64_t start, int64_t end) const;
  Tensor transpose(int d0, int d1) const;
  // A dense `dtype`[`shape`] view of this contiguous tensor's bytes starting
  // `byte_offset` after its element 0 (typed slots of one arena buffer).
  Tensor view_bytes(uint64_t byte_offset, const Shape& shape, DType dtype) const;

  // Copies.
  Tensor to(const Device& device) const;  // dense copy on `device`
  void copy_from(const Tensor& src);      // same shape and dtype, any devices
  void copy_to_host(void* dst) const;     // dense row-major bytes
  // Fills this contiguous tensor from `bytes` (== nbytes()) of host memory.
  void copy_from_host(const void* src, uint64_t bytes);
  std::vector<uint8_t> to_host_bytes() const;
  template <class T>
  std::vector<T> to_vector() const {
    std::vector<T> out(nbytes() / sizeof(T));
    copy_to_host(out.data());
    return out;
  }
  Tensor contiguous() const;  // this if already contiguous, else a dense copy

  // Host address of element 0 on host-memory devices, nullptr otherwise.
  void* host_data() const;
  // The descriptor handed to plugins.
  rma_tensor to_abi() const;

  std::string describe() const;  // "f32[2, 3] on cpu"

 private:
  static void check_host_size(uint64_t bytes, const Shape& shape, DType dtype);
  void copy_from_host_bytes(const void* src, uint64_t bytes);  // into this view, synchronously

  std::shared_ptr<Buffer> buffer_;
  uint64_t offset_ = 0;
  Shape shape_;
  std::vector<int64_t> strides_;
  DType dtype_ = DType::kF32;
  Device device_;
  std::shared_ptr<void> keep_alive_;  // owner of wrapped host memory
};

// An absent optional tensor in the ABI (ndim == -1).
rma_tensor absent_tensor();

}  // namespace rma
