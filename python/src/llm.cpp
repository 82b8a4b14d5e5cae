// The LLM engine seen from Python: rm_abstract's transformers hooks build an
// engine over a loaded model's weights (ModelFile::from_memory, zero-copy on
// a host-memory device) and drive forward() step by step; the GIL is
// released while it runs.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "rma/error.h"
#include "rma/llm/engine.h"
#include "rma/llm/model_file.h"

namespace rma::python {

namespace {

using llm::Engine;
using llm::EngineOptions;

EngineOptions engine_options(const std::string& device, int max_batch, int max_context,
                             const std::string& kv_dtype) {
  EngineOptions o;
  o.device = device;
  o.max_batch = max_batch;
  o.max_context = max_context;
  const std::optional<DType> kv = parse_dtype(kv_dtype);
  if (!kv || (*kv != DType::kF32 && *kv != DType::kF16))
    throw Error(ErrorCode::kInvalidArgument, "kv_dtype '" + kv_dtype + "' is not f32 or f16");
  o.kv_dtype = *kv;
  return o;
}

std::unique_ptr<Engine> engine_from_memory(
    const std::string& config_json,
    const std::vector<std::pair<std::string, nb::ndarray<nb::ro>>>& tensors, nb::handle owner,
    const std::string& name, const std::string& device, int max_batch, int max_context,
    const std::string& kv_dtype) {
  std::vector<llm::HostTensor> host;
  for (const auto& [tensor_name, array] : tensors) {
    if (array.device_type() != nb::device::cpu::value)
      throw Error(ErrorCode::kInvalidArgument,
                  name + ": tensor '" + tensor_name + "' is not in host memory");
    Shape shape(array.ndim());
    int64_t expected_stride = 1;
    for (int i = static_cast<int>(array.ndim()) - 1; i >= 0; --i) {
      shape[i] = static_cast<int64_t>(array.shape(i));
      if (shape[i] != 1 && array.stride(i) != expected_stride)
        throw Error(ErrorCode::kInvalidArgument,
                    name + ": tensor '" + tensor_name + "' is not C-contiguous");
      expected_stride *= shape[i];
    }
    host.push_back({tensor_name, dtype_from_dlpack(array.dtype(), name + ": " + tensor_name), shape,
                    array.data()});
  }
  // The engine may wrap the weights: `owner` (the arrays) lives as long as it.
  std::shared_ptr<void> keep(new nb::object(nb::borrow(owner)), [](void* p) {
    nb::gil_scoped_acquire gil;
    delete static_cast<nb::object*>(p);
  });
  const EngineOptions options = engine_options(device, max_batch, max_context, kv_dtype);
  nb::gil_scoped_release no_gil;
  auto file = llm::ModelFile::from_memory(config_json, host, std::move(keep), name);
  return Engine::create(std::move(file), options);
}

nb::dict config_dict(const llm::ModelConfig& c) {
  nb::dict d;
  d["architecture"] = c.architecture;
  d["n_layer"] = c.n_layer;
  d["hidden"] = c.hidden;
  d["n_head"] = c.n_head;
  d["n_kv_head"] = c.n_kv_head;
  d["head_dim"] = c.head_dim;
  d["vocab"] = c.vocab;
  d["context_length"] = c.context_length;
  d["sliding_window"] = c.sliding_window;
  return d;
}

}  // namespace

void bind_llm(nb::module_& m) {
  nb::class_<Engine>(m, "Engine")
      .def_static(
          "load",
          [](const std::string& model, const std::string& device, int max_batch, int max_context,
             const std::string& kv_dtype) {
            const EngineOptions o = engine_options(device, max_batch, max_context, kv_dtype);
            nb::gil_scoped_release no_gil;
            return Engine::load(model, o);
          },
          nb::arg("model"), nb::arg("device") = "auto", nb::arg("max_batch") = 8,
          nb::arg("max_context") = 0, nb::arg("kv_dtype") = "f32")
      .def_static("from_memory", &engine_from_memory, nb::arg("config_json"), nb::arg("tensors"),
                  nb::arg("owner"), nb::arg("name"), nb::arg("device") = "auto",
                  nb::arg("max_batch") = 8, nb::arg("max_context") = 0, nb::arg("kv_dtype") = "f32",
                  "An engine over weights in host memory (Hugging Face names); `owner` is "
                  "kept alive as long as the engine.")
      .def_prop_ro("device", [](const Engine& e) { return e.device().name(); })
      .def_prop_ro("max_context", &Engine::max_context)
      .def_prop_ro("config", [](const Engine& e) { return config_dict(e.config()); })
      .def_prop_ro("vocab", [](const Engine& e) { return e.config().vocab; })
      .def("new_sequence", &Engine::new_sequence)
      .def("free_sequence", &Engine::free_sequence, nb::arg("seq"))
      .def("sequence_length", &Engine::sequence_length, nb::arg("seq"))
      .def(
          "forward",
          [](Engine& e, const std::vector<int32_t>& seqs,
             const std::vector<std::vector<int32_t>>& tokens, bool all_logits) {
            Tensor host;
            {
              nb::gil_scoped_release no_gil;
              const Tensor logits = e.forward(seqs, tokens, all_logits);
              // A copy: the engine reuses its logits buffer on the next step.
              host = Tensor::empty(logits.shape(), logits.dtype(), runtime().device("cpu"));
              host.copy_from(logits);
              host.device().synchronize();
            }
            return array_from_tensor(host, Framework::kNumpy);
          },
          nb::arg("seqs"), nb::arg("tokens"), nb::arg("all_logits") = false,
          "Appends tokens[i] to sequence seqs[i]; logits f32 numpy [rows, vocab].");
}

}  // namespace rma::python
