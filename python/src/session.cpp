// Sessions seen from Python: rm_abstract.Session over an .onnx (compiled
// through the compile cache) or an .rmx, and rm_abstract.compile.
#include "rma/session.h"

#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <map>
#include <string>

#include "bindings.h"
#include "rma/error.h"

namespace rma::python {

namespace {

SessionOptions session_options(const std::string& device, int opt_level,
                               const std::optional<int64_t>& batch_size,
                               const std::map<std::string, int64_t>& dims, bool strict,
                               bool use_cache) {
  SessionOptions o;
  o.device = device;
  o.opt_level = opt_level;
  o.batch_size = batch_size;
  o.dims = dims;
  o.strict = strict;
  o.use_cache = use_cache;
  return o;
}

nb::list describe(const std::vector<SessionIo>& ios) {
  nb::list out;
  for (const SessionIo& io : ios) {
    nb::list shape;
    for (const graph::Dim& d : io.shape) {
      if (d.known())
        shape.append(d.value);
      else
        shape.append(d.symbol);
    }
    out.append(nb::make_tuple(io.name, std::string(name(io.dtype)), shape));
  }
  return out;
}

}  // namespace

void bind_session(nb::module_& m) {
  nb::class_<Session>(m, "Session")
      .def_static(
          "open",
          [](const std::string& path, const std::string& device, int opt_level,
             const std::optional<int64_t>& batch_size, const std::map<std::string, int64_t>& dims,
             bool strict, bool use_cache) {
            const SessionOptions o =
                session_options(device, opt_level, batch_size, dims, strict, use_cache);
            nb::gil_scoped_release no_gil;
            return Session::open(path, o);
          },
          nb::arg("path"), nb::arg("device"), nb::arg("opt_level"), nb::arg("batch_size").none(),
          nb::arg("dims"), nb::arg("strict"), nb::arg("use_cache"))
      .def_prop_ro("inputs", [](const Session& s) { return describe(s.inputs()); })
      .def_prop_ro("outputs", [](const Session& s) { return describe(s.outputs()); })
      .def_prop_ro("device", [](const Session& s) { return s.device().name(); })
      .def_prop_ro("path", &Session::path)
      .def_prop_ro("cache_hit", &Session::cache_hit)
      .def_prop_ro("cache_key", &Session::cache_key)
      .def("report", [](const Session& s) { return s.report().to_text(); })
      .def(
          "save", [](const Session& s, const std::string& path) { s.compiled().save(path); },
          nb::arg("path"), "Writes the compiled model as an .rmx.")
      .def(
          "run",
          [](Session& s, const std::map<std::string, nb::ndarray<nb::ro>>& inputs,
             const std::string& framework) {
            const Framework fw = parse_framework(framework);
            const Device cpu = runtime().device("cpu");
            std::map<std::string, Tensor> tensors;
            for (const auto& [name, array] : inputs)
              tensors[name] = tensor_from_array(array, cpu, "input '" + name + "'");
            std::map<std::string, Tensor> outputs;
            {
              nb::gil_scoped_release no_gil;
              outputs = s.run(tensors);
            }
            nb::dict out;
            for (const auto& [name, t] : outputs) out[name.c_str()] = array_from_tensor(t, fw);
            return out;
          },
          nb::arg("inputs"), nb::arg("framework") = "numpy");
}

}  // namespace rma::python
