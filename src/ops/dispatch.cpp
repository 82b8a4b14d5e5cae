// ops::run: one place where every op call is checked, allocated and sent
// to its device's plugin.
#include "rma/error.h"
#include "rma/log.h"
#include "rma/ops.h"

namespace rma::ops {

std::vector<Tensor> run(rma_op op, const std::vector<Tensor>& inputs, const void* attrs,
                        std::vector<Tensor> outputs) {
  if (op < 0 || op >= RMA_OP_COUNT)
    throw Error(ErrorCode::kInvalidArgument, "unknown op id " + std::to_string(op));
  const std::string opname(op_name(op));
  const auto& in_names = op_input_names(op);
  const auto& out_names = op_output_names(op);
  // A variadic op (concat) takes its one input 1 to kMaxVariadicInputs times.
  const bool variadic = op_is_variadic(op);
  const size_t max_inputs = variadic ? kMaxVariadicInputs : in_names.size();
  if (inputs.size() > max_inputs)
    throw Error(ErrorCode::kInvalidArgument,
                "takes " + std::string(variadic ? "at most " : "") + std::to_string(max_inputs) +
                    " inputs, got " + std::to_string(inputs.size()),
                opname);
  const auto input_name = [&](size_t i) { return variadic ? op_input_name(op, i) : in_names[i]; };

  // One device for everything; copies are the caller's to make.
  const Tensor* first = nullptr;
  std::string first_name;
  auto check_device = [&](const Tensor& t, const std::string& arg) {
    if (!t.defined()) return;
    if (!first) {
      first = &t;
      first_name = arg;
      return;
    }
    if (t.device() != first->device())
      throw Error(ErrorCode::kInvalidArgument,
                  "argument '" + arg + "' is on " + t.device().name() + " but argument '" +
                      first_name + "' is on " + first->device().name() +
                      "; move one with Tensor::to()",
                  opname);
  };
  for (size_t i = 0; i < inputs.size(); ++i) check_device(inputs[i], input_name(i));
  for (size_t i = 0; i < outputs.size() && i < out_names.size(); ++i)
    check_device(outputs[i], out_names[i]);
  if (!first) throw Error(ErrorCode::kInvalidArgument, "no input tensor given", opname);
  const Device device = first->device();

  std::vector<rma_tensor> abi_in;
  const size_t num_in = variadic ? inputs.size() : in_names.size();
  for (size_t i = 0; i < num_in; ++i) {
    if (i >= inputs.size() || !inputs[i].defined()) {
      abi_in.push_back(absent_tensor());
      continue;
    }
    if (!inputs[i].is_contiguous())
      throw Error(ErrorCode::kInvalidArgument,
                  "argument '" + input_name(i) + "' (" + inputs[i].describe() +
                      ") is not contiguous; call contiguous() first",
                  opname, device.name());
    abi_in.push_back(inputs[i].to_abi());
  }
  std::vector<rma_tensor> abi_given;
  for (const Tensor& t : outputs) abi_given.push_back(t.defined() ? t.to_abi() : absent_tensor());

  const std::vector<TensorDesc> descs = infer_outputs(op, abi_in, attrs, abi_given);
  outputs.resize(descs.size());
  for (size_t i = 0; i < descs.size(); ++i)
    if (!outputs[i].defined()) outputs[i] = Tensor::empty(descs[i].shape, descs[i].dtype, device);
  std::vector<rma_tensor> abi_out;
  for (const Tensor& t : outputs) abi_out.push_back(t.to_abi());

  rma_op_call call{};
  call.struct_size = sizeof(call);
  call.abi_version = RMA_ABI_VERSION;
  call.op = op;
  call.num_inputs = static_cast<int32_t>(abi_in.size());
  call.inputs = abi_in.data();
  call.num_outputs = static_cast<int32_t>(abi_out.size());
  call.outputs = abi_out.data();
  call.attrs = attrs;

  // No separate op_supported round trip on this hot path: op_run declines
  // what the device cannot run with RMA_STATUS_UNSUPPORTED and its reason,
  // which check_status turns into Error(kUnsupported).
  rma_error err{sizeof(rma_error), RMA_ABI_VERSION, {0}};
  check_status(device.api().op_run(device.handle(), device.default_stream().handle(), &call, &err),
               err, opname, device.name());
  return outputs;
}

}  // namespace rma::ops
