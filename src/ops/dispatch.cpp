// ops::run and ops::run_prepared: one place where every op call is checked,
// allocated and sent to its device's plugin; ops::prepare offers a call to
// the plugin's op_prepare (rma/prepared.h).
#include <cstddef>
#include <cstdint>
#include <sstream>

#include "rma/error.h"
#include "rma/log.h"
#include "rma/ops.h"
#include "rma/prepared.h"

namespace rma::ops {
namespace {

rma_error make_error() { return rma_error{sizeof(rma_error), RMA_ABI_VERSION, {0}}; }

// A call checked against the op's schema, with its outputs allocated, in
// the ABI's form (pointing into this object: not copyable).
struct CheckedCall {
  Device device;
  std::vector<Tensor> outputs;
  std::vector<rma_tensor> abi_in, abi_out;
  rma_op_call call{};

  CheckedCall(rma_op op, const std::vector<Tensor>& inputs, const void* attrs,
              std::vector<Tensor> given_outputs);
  CheckedCall(const CheckedCall&) = delete;
  CheckedCall& operator=(const CheckedCall&) = delete;
};

void check_op_id(rma_op op) {
  if (op < 0 || op >= RMA_OP_COUNT)
    throw Error(ErrorCode::kInvalidArgument, "unknown op id " + std::to_string(op));
}

rma_op_call make_call(rma_op op, const std::vector<rma_tensor>& in,
                      const std::vector<rma_tensor>& out, const void* attrs) {
  rma_op_call call{};
  call.struct_size = sizeof(call);
  call.abi_version = RMA_ABI_VERSION;
  call.op = op;
  call.num_inputs = static_cast<int32_t>(in.size());
  call.inputs = in.data();
  call.num_outputs = static_cast<int32_t>(out.size());
  call.outputs = out.data();
  call.attrs = attrs;
  return call;
}

CheckedCall::CheckedCall(rma_op op, const std::vector<Tensor>& inputs, const void* attrs,
                         std::vector<Tensor> given_outputs)
    : outputs(std::move(given_outputs)) {
  check_op_id(op);
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
  device = first->device();

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
  for (const Tensor& t : outputs) abi_out.push_back(t.to_abi());
  call = make_call(op, abi_in, abi_out, attrs);
}

// A dense row-major descriptor with no data (capability queries, prepare).
rma_tensor desc_tensor(const TensorDesc& d) {
  rma_tensor t = absent_tensor();
  t.dtype = static_cast<int32_t>(d.dtype);
  t.ndim = static_cast<int32_t>(d.shape.size());
  int64_t stride = 1;
  for (int i = t.ndim - 1; i >= 0; --i) {
    t.shape[i] = d.shape[static_cast<size_t>(i)];
    t.strides[i] = stride;
    stride *= t.shape[i];
  }
  t.data = nullptr;
  t.offset = 0;
  return t;
}

bool has_prepare(const rma_plugin_api& api) {
  return api.struct_size >= offsetof(rma_plugin_api, prepared_destroy) + sizeof(void*) &&
         api.op_prepare && api.prepared_run && api.prepared_export && api.prepared_import &&
         api.prepared_destroy && api.blob_free;
}

}  // namespace

std::vector<Tensor> run(rma_op op, const std::vector<Tensor>& inputs, const void* attrs,
                        std::vector<Tensor> outputs) {
  CheckedCall c(op, inputs, attrs, std::move(outputs));
  // No separate op_supported round trip on this hot path: op_run declines
  // what the device cannot run with RMA_STATUS_UNSUPPORTED and its reason,
  // which check_status turns into Error(kUnsupported).
  rma_error err = make_error();
  check_status(
      c.device.api().op_run(c.device.handle(), c.device.default_stream().handle(), &c.call, &err),
      err, std::string(op_name(op)), c.device.name());
  return std::move(c.outputs);
}

// ------------------------------------------------------------ prepared ops

PreparedOp::PreparedOp(Device device, rma_op op, rma_prepared_op handle)
    : device_(std::move(device)), op_(op), handle_(handle) {}

PreparedOp::~PreparedOp() { device_.api().prepared_destroy(device_.handle(), handle_); }

std::vector<uint8_t> PreparedOp::export_bytes() const {
  rma_blob blob{sizeof(rma_blob), RMA_ABI_VERSION, nullptr, 0};
  rma_error err = make_error();
  check_status(device_.api().prepared_export(device_.handle(), handle_, &blob, &err), err,
               std::string(op_name(op_)) + " prepared_export", device_.name());
  const auto* data = static_cast<const uint8_t*>(blob.data);
  std::vector<uint8_t> bytes(data, data + (data ? blob.size : 0));
  device_.api().blob_free(&blob);
  return bytes;
}

bool supports_prepare(const Device& device) { return has_prepare(device.api()); }

std::shared_ptr<PreparedOp> prepare(const Device& device, rma_op op,
                                    const std::vector<PrepareArg>& inputs, const void* attrs,
                                    const std::vector<TensorDesc>& outputs,
                                    std::span<const uint8_t> exported) {
  check_op_id(op);
  if (!has_prepare(device.api())) return nullptr;
  const std::string opname(op_name(op));
  if (inputs.size() > 64)
    throw Error(ErrorCode::kInvalidArgument, "prepare: more than 64 inputs", opname);
  std::vector<rma_tensor> in, out;
  uint64_t const_mask = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const PrepareArg& a = inputs[i];
    if (a.absent) {
      in.push_back(absent_tensor());
      continue;
    }
    if (a.constant.defined()) {
      if (a.constant.device() != device || !a.constant.is_contiguous())
        throw Error(ErrorCode::kInvalidArgument,
                    "prepare: constant input #" + std::to_string(i) + " (" + a.constant.describe() +
                        ") must be contiguous and on " + device.name(),
                    opname, device.name());
      in.push_back(a.constant.to_abi());
      const_mask |= uint64_t{1} << i;
    } else {
      in.push_back(desc_tensor(a.desc));
    }
  }
  for (const TensorDesc& d : outputs) out.push_back(desc_tensor(d));
  const rma_op_call call = make_call(op, in, out, attrs);
  const rma_plugin_api& api = device.api();

  rma_prepared_op handle = nullptr;
  if (!exported.empty()) {
    rma_error err = make_error();
    const rma_status s = api.prepared_import(device.handle(), &call, const_mask, exported.data(),
                                             exported.size(), &handle, &err);
    if (s == RMA_STATUS_OK && handle) return std::make_shared<PreparedOp>(device, op, handle);
    if (s != RMA_STATUS_UNSUPPORTED && s != RMA_STATUS_OK)
      check_status(s, err, opname + " prepared_import", device.name());
    log::debug(opname + " on " + device.name() + ": the stored prepared op does not fit here (" +
               err.message + "); preparing it again");
  }
  rma_error err = make_error();
  check_status(api.op_prepare(device.handle(), &call, const_mask, &handle, &err), err,
               opname + " op_prepare", device.name());
  if (!handle) return nullptr;
  return std::make_shared<PreparedOp>(device, op, handle);
}

std::shared_ptr<PreparedOp> PreparedCache::get(const Device& device, rma_op op,
                                               const std::vector<PrepareArg>& inputs,
                                               const void* attrs, size_t attrs_size,
                                               const std::vector<TensorDesc>& outputs) {
  // GCC 12 flags chains of string + on -Wrestrict falsely: a stream.
  std::ostringstream k;
  k << device.name() << '/' << static_cast<int>(op) << '/';
  k.write(static_cast<const char*>(attrs), attrs ? static_cast<std::streamsize>(attrs_size) : 0);
  for (const PrepareArg& a : inputs) {
    if (!a.constant.defined()) {
      k << "|-";
      continue;
    }
    const rma_tensor t = a.constant.to_abi();
    k << '|' << reinterpret_cast<uintptr_t>(t.data) << '+' << t.offset << ':' << t.dtype;
    for (int d = 0; d < t.ndim; ++d) k << ',' << t.shape[d];
  }
  std::string key = k.str();
  if (auto it = entries_.find(key); it != entries_.end()) return it->second;
  std::shared_ptr<PreparedOp> p = prepare(device, op, inputs, attrs, outputs);
  // Nothing to prepare for this call's shapes may still mean something for
  // another's (a larger batch): only what was prepared is kept.
  if (p) entries_.emplace(std::move(key), p);
  return p;
}

std::vector<Tensor> run_prepared(const PreparedOp& prepared, const std::vector<Tensor>& inputs,
                                 const void* attrs, std::vector<Tensor> outputs) {
  CheckedCall c(prepared.op(), inputs, attrs, std::move(outputs));
  if (c.device != prepared.device())
    throw Error(ErrorCode::kInvalidArgument,
                "the call is on " + c.device.name() + " but the op was prepared for " +
                    prepared.device().name(),
                std::string(op_name(prepared.op())));
  rma_error err = make_error();
  check_status(c.device.api().prepared_run(c.device.handle(), c.device.default_stream().handle(),
                                           prepared.handle(), &c.call, &err),
               err, std::string(op_name(prepared.op())), c.device.name());
  return std::move(c.outputs);
}

}  // namespace rma::ops
