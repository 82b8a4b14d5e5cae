// rma::Error -> the Python exception hierarchy of rm_abstract.errors: the
// class is picked by the error code; the exception carries code, op and
// device attributes.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include "bindings.h"
#include "rma/error.h"

namespace rma::python {

namespace {

const char* class_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "InvalidArgumentError";
    case ErrorCode::kUnsupported:
      return "UnsupportedError";
    case ErrorCode::kOutOfMemory:
      return "OutOfMemoryError";
    case ErrorCode::kDevice:
      return "DeviceError";
    case ErrorCode::kAbiMismatch:
      return "ABIMismatchError";
    case ErrorCode::kNotFound:
      return "NotFoundError";
    case ErrorCode::kInternal:
      break;
  }
  return "InternalError";
}

void raise(const Error& e) {
  nb::module_ errors = nb::module_::import_("rm_abstract.errors");
  nb::object cls = errors.attr(class_name(e.code()));
  nb::object exc = cls(e.what());
  exc.attr("code") = to_string(e.code());
  exc.attr("op") = e.op().empty() ? nb::none() : nb::cast(e.op());
  exc.attr("device") = e.device().empty() ? nb::none() : nb::cast(e.device());
  PyErr_SetObject(cls.ptr(), exc.ptr());
}

}  // namespace

void bind_errors(nb::module_&) {
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      try {
        raise(e);
      } catch (nb::python_error& pe) {
        pe.restore();  // rm_abstract.errors could not be imported: say why
      }
    }
  });
}

}  // namespace rma::python
