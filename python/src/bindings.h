// Shared pieces of the rm_abstract._rma extension: each bind_*() adds one
// part of the API to the module; the tensor helpers convert between Python
// arrays (numpy, anything with DLPack: torch) and rma::Tensor.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <optional>
#include <string>

#include "rma/device.h"
#include "rma/tensor.h"

namespace rma::python {

namespace nb = nanobind;

void bind_errors(nb::module_& m);
void bind_runtime(nb::module_& m);
void bind_ops(nb::module_& m);
void bind_llm(nb::module_& m);
void bind_session(nb::module_& m);

// The process-wide runtime, started with defaults when init() did not come
// first; marks it started for runtime_started().
Runtime& runtime();

// Which Python array type a result is returned as.
enum class Framework { kNumpy, kTorch };
Framework parse_framework(const std::string& name);

// A C-contiguous host array (the Python layer makes arrays contiguous and
// moves them to the host first) as a tensor on `device`: wrapped without
// copying on a host-memory device (the array is kept alive by the tensor),
// copied otherwise. `what` names the argument in errors. `packed`: the
// array holds blocks of this quantized dtype as bytes (u8[..., row bytes]).
Tensor tensor_from_array(const nb::ndarray<nb::ro>& array, const Device& device,
                         const std::string& what, std::optional<DType> packed = std::nullopt);
// The same, for an array the op writes into (in-place outputs).
Tensor tensor_from_writable_array(const nb::ndarray<>& array, const Device& device,
                                  const std::string& what);
// A tensor as a host array of `framework`: a view of its memory when it is
// on a host-memory device (the array keeps the tensor alive), else a copy.
nb::object array_from_tensor(const Tensor& tensor, Framework framework);

DType dtype_from_dlpack(const nb::dlpack::dtype& dt, const std::string& what);

}  // namespace rma::python
