// rm_abstract.ops: one entry, run_op(), that every per-op Python function
// calls. It turns the attribute dict into the op's ABI struct, the arrays
// into tensors on the chosen device (zero-copy on a host-memory device),
// runs the op with the GIL released and returns the outputs as arrays of the
// caller's framework. device="reference" runs the reference implementation
// (src/ops/reference) on the host: the oracle tests compare against.
#include "rma/ops.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "bindings.h"
#include "reference/reference.h"
#include "rma/error.h"

namespace rma::python {

namespace {

[[noreturn]] void invalid(rma_op op, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, what, std::string(op_name(op)));
}

// Attribute values from the dict the Python function built (every key
// present; the Python layer fills the defaults).
class Attrs {
 public:
  Attrs(rma_op op, const nb::dict& values) : op_(op), values_(values) {}

  nb::handle get(const char* key) const {
    if (!values_.contains(key)) invalid(op_, "attribute '" + std::string(key) + "' missing");
    return values_[key];
  }
  float f(const char* key) const { return convert<float>(key, "a number"); }
  int i(const char* key) const { return convert<int>(key, "an integer"); }
  bool b(const char* key) const { return convert<bool>(key, "True or False"); }
  uint64_t u64(const char* key) const { return convert<uint64_t>(key, "an unsigned integer"); }
  std::string s(const char* key) const { return convert<std::string>(key, "a string"); }

  // One of `names` (index = value); an error lists them.
  int choice(const char* key, std::initializer_list<const char*> names) const {
    const std::string v = s(key);
    int index = 0;
    std::string known;
    for (const char* n : names) {
      if (v == n) return index;
      known += (known.empty() ? "" : ", ") + std::string(n);
      ++index;
    }
    invalid(op_, "argument '" + std::string(key) + "': '" + v + "' is not one of " + known);
  }

 private:
  template <class T>
  T convert(const char* key, const char* expected) const {
    T out;
    if (!nb::try_cast(get(key), out))
      invalid(op_, "argument '" + std::string(key) + "': expected " + expected + ", got " +
                       nb::cast<std::string>(nb::repr(get(key))));
    return out;
  }

  rma_op op_;
  const nb::dict& values_;
};

template <class T>
std::vector<uint8_t> bytes_of(const T& attrs) {
  std::vector<uint8_t> out(sizeof(T));
  std::memcpy(out.data(), &attrs, sizeof(T));
  return out;
}

// The op's attribute struct, or no bytes for ops without attributes.
std::vector<uint8_t> build_attrs(rma_op op, const nb::dict& values) {
  const Attrs a(op, values);
  switch (op) {
    case RMA_OP_LINEAR:
    case RMA_OP_QUANT_LINEAR: {
      const int act = a.choice("activation", {"none", "relu", "leaky_relu", "gelu", "gelu_tanh",
                                              "silu", "sigmoid", "tanh"});
      const int precision = a.choice("precision", {"accurate", "fast"});
      return bytes_of(linear_attrs(static_cast<Activation>(act), a.b("trans_a"), a.b("trans_b"),
                                   a.f("act_param"), a.f("alpha"),
                                   static_cast<Precision>(precision)));
    }
    case RMA_OP_RMS_NORM:
    case RMA_OP_ADD_RMS_NORM:
    case RMA_OP_LAYER_NORM:
      return bytes_of(norm_attrs(a.f("eps")));
    case RMA_OP_ROPE: {
      const int style = a.choice("style", {"neox", "gptj"});
      rma_rope_attrs r =
          rope_attrs(a.f("theta"), static_cast<rma_rope_style>(style), a.i("rotary_dim"));
      r.scaling = a.choice("scaling", {"none", "linear", "llama3"});
      r.factor = a.f("factor");
      r.low_freq_factor = a.f("low_freq_factor");
      r.high_freq_factor = a.f("high_freq_factor");
      r.original_max_position = a.i("original_max_position");
      return bytes_of(r);
    }
    case RMA_OP_PREFILL_ATTENTION:
    case RMA_OP_PAGED_DECODE_ATTENTION:
      return bytes_of(attention_attrs(a.f("scale"), a.b("causal"), a.i("sliding_window")));
    case RMA_OP_GELU_AND_MUL:
      return bytes_of(gelu_attrs(a.b("approximate_tanh")));
    case RMA_OP_MOE_GATING_TOPK_SOFTMAX:
      return bytes_of(moe_gating_attrs(a.i("k"), a.b("renormalize")));
    case RMA_OP_SAMPLE:
      return bytes_of(sample_attrs(a.f("temperature"), a.i("top_k"), a.f("top_p"), a.f("min_p"),
                                   a.f("repetition_penalty"), a.u64("seed")));
    case RMA_OP_SOFTMAX:
      return bytes_of(softmax_attrs(a.b("log")));
    default:
      if (op_attrs_size(op) != 0)
        invalid(op, "has attributes rm_abstract.ops does not build (a Tier-2 op)");
      return {};
  }
}

// Runs the reference implementation on host tensors (outputs allocated here
// unless in place).
std::vector<Tensor> run_reference(rma_op op, const std::vector<Tensor>& inputs, const void* attrs,
                                  std::vector<Tensor> outputs, std::optional<DType> out_dtype,
                                  const Device& cpu) {
  std::vector<rma_tensor> in_abi;
  for (const Tensor& t : inputs) in_abi.push_back(t.defined() ? t.to_abi() : absent_tensor());
  std::vector<rma_tensor> given;
  for (const Tensor& t : outputs) given.push_back(t.to_abi());
  const auto descs = infer_outputs(op, in_abi, attrs, given, out_dtype);
  if (outputs.empty())
    for (const TensorDesc& d : descs) outputs.push_back(Tensor::empty(d.shape, d.dtype, cpu));
  std::vector<rma_tensor> out_abi;
  for (const Tensor& t : outputs) out_abi.push_back(t.to_abi());
  rma_op_call call{};
  call.struct_size = sizeof(call);
  call.abi_version = RMA_ABI_VERSION;
  call.op = op;
  call.num_inputs = static_cast<int32_t>(in_abi.size());
  call.inputs = in_abi.data();
  call.num_outputs = static_cast<int32_t>(out_abi.size());
  call.outputs = out_abi.data();
  call.attrs = attrs;
  reference::run(call);
  return outputs;
}

nb::list run_op(const std::string& op_str,
                const std::vector<std::optional<nb::ndarray<nb::ro>>>& arrays,
                const std::vector<std::optional<std::string>>& packed_dtypes,
                const nb::dict& attr_values, const std::vector<nb::ndarray<>>& inplace,
                const std::string& device_spec, const std::string& framework_name,
                const std::optional<std::string>& out_dtype_name) {
  const std::optional<rma_op> parsed = parse_op(op_str);
  if (!parsed) throw Error(ErrorCode::kInvalidArgument, "unknown op '" + op_str + "'");
  const rma_op op = *parsed;
  const Framework framework = parse_framework(framework_name);
  const bool reference = device_spec == "reference";
  const Device device = runtime().device(reference ? "cpu" : device_spec);

  std::optional<DType> out_dtype;
  if (out_dtype_name) {
    out_dtype = parse_dtype(*out_dtype_name);
    if (!out_dtype) invalid(op, "argument 'out_dtype': unknown dtype '" + *out_dtype_name + "'");
  }
  const std::vector<uint8_t> attrs = build_attrs(op, attr_values);
  const void* attrs_ptr = attrs.empty() ? nullptr : attrs.data();

  std::vector<Tensor> inputs;
  for (size_t i = 0; i < arrays.size(); ++i) {
    if (!arrays[i]) {
      inputs.emplace_back();
      continue;
    }
    std::string arg = op_input_name(op, i);
    if (!arg.empty() && arg.back() == '?') arg.pop_back();
    const std::string what = std::string(op_name(op)) + ": argument '" + arg + "'";
    std::optional<DType> packed;
    if (i < packed_dtypes.size() && packed_dtypes[i]) {
      packed = parse_dtype(*packed_dtypes[i]);
      if (!packed || !is_quantized(*packed))
        invalid(op, "argument '" + arg + "': '" + *packed_dtypes[i] +
                        "' is not a quantized dtype (q8_0, q4_0, q4_1, q4_k, q5_k, q6_k)");
    }
    inputs.push_back(tensor_from_array(*arrays[i], device, what, packed));
  }
  std::vector<Tensor> given;
  for (size_t i = 0; i < inplace.size(); ++i)
    given.push_back(tensor_from_writable_array(
        inplace[i], device,
        std::string(op_name(op)) + ": argument '" + op_output_names(op).at(i) + "'"));

  std::vector<Tensor> outputs;
  {
    nb::gil_scoped_release no_gil;
    if (reference) {
      outputs = run_reference(op, inputs, attrs_ptr, given, out_dtype, device);
    } else if (op == RMA_OP_EMBEDDING) {
      outputs = {ops::embedding(inputs.at(0), inputs.at(1), out_dtype)};
    } else {
      outputs = ops::run(op, inputs, attrs_ptr, given);
    }
    device.synchronize();
    // In-place results on a device with its own memory go back to the arrays.
    for (size_t i = 0; i < inplace.size(); ++i)
      if (!device.host_memory()) outputs[i].copy_to_host(const_cast<void*>(inplace[i].data()));
  }
  nb::list out;
  for (const Tensor& t : outputs) out.append(array_from_tensor(t, framework));
  return out;
}

}  // namespace

void bind_ops(nb::module_& m) {
  m.def("run_op", &run_op, nb::arg("op"), nb::arg("inputs"), nb::arg("packed_dtypes"),
        nb::arg("attrs"), nb::arg("inplace"), nb::arg("device"), nb::arg("framework"),
        nb::arg("out_dtype").none(),
        "Runs one op: arrays in (None for an absent optional input), arrays out.");
  m.def(
      "op_signature",
      [](const std::string& op_str) {
        const std::optional<rma_op> op = parse_op(op_str);
        if (!op) throw Error(ErrorCode::kInvalidArgument, "unknown op '" + op_str + "'");
        return nb::make_tuple(op_input_names(*op), op_output_names(*op));
      },
      nb::arg("op"), "(input names, output names) of an op.");
}

}  // namespace rma::python
