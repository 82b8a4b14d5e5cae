// opencl sample: repetition penalty, greedy argmax or temperature / top-k /
// top-p / min-p sampling with docs/ops.md's counter-based RNG, choosing the
// very tokens src/ops/reference/op_sample.cpp chooses. f32, f16 or bf16
// logits (widened to f32), i32 prev_tokens and ids. One work-group per row
// over a global scratch (the penalised logits and their ids); non-greedy
// sampling sums in double as the reference does, so it needs cl_khr_fp64 and
// is declined without it.
#include <string>
#include <vector>

#include "common/cl_device.h"
#include "ops/sample/config.h"

namespace rma::opencl {
namespace {

constexpr const char* kOp = "sample";

bool has_fp64(const ClDevice& dev) { return dev.extensions.find("cl_khr_fp64") != std::string::npos; }

const rma_tensor* prev_of(const rma_op_call& call) {
  return call.num_inputs > 1 && present(call.inputs[1]) ? &call.inputs[1] : nullptr;
}

int64_t next_pow2(int64_t v) {
  int64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

rma_status supported(const ClDevice& dev, const rma_op_call& call, rma_error* err) {
  if (call.num_inputs < 1 || call.num_inputs > 2 || call.num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: expected inputs (logits, prev_tokens?) and one output, got %d inputs, %d outputs",
                kOp, call.num_inputs, call.num_outputs);
  const auto* attrs = static_cast<const rma_sample_attrs*>(call.attrs);
  if (!attrs || attrs->struct_size < sizeof(rma_sample_attrs))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: rma_sample_attrs missing or too small", kOp);
  const rma_tensor &logits = call.inputs[0], &ids = call.outputs[0];
  const rma_tensor* prev = prev_of(call);
  if (rma_status st = require_float(kOp, "logits", logits, err)) return st;
  if (logits.ndim != 2)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: logits must be [B, V]", kOp);
  const int64_t batch = logits.shape[0], vocab = logits.shape[1];
  if (ids.dtype != RMA_DTYPE_I32 || ids.ndim != 1 || ids.shape[0] != batch)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: ids must be i32 [B = %lld]", kOp,
                static_cast<long long>(batch));
  if (prev) {
    if (prev->dtype != RMA_DTYPE_I32)
      return fail(err, RMA_STATUS_UNSUPPORTED,
                  "%s: the opencl backend reads i32 prev_tokens only (got %s)", kOp,
                  dtype_label(prev->dtype));
    if (prev->ndim != 2 || prev->shape[0] != batch)
      return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: prev_tokens must be [B = %lld, L]", kOp,
                  static_cast<long long>(batch));
    if (!is_dense(*prev))
      return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  }
  if (batch > 0 && vocab == 0)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: logits have an empty vocabulary (V = 0)", kOp);
  if (vocab > (int64_t{1} << 30))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl handles vocabularies up to 2^30", kOp);
  if (!is_dense(logits) || !is_dense(ids))
    return fail(err, RMA_STATUS_UNSUPPORTED, "%s: opencl runs dense tensors only", kOp);
  if (attrs->temperature > 0.f && !has_fp64(dev))
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "%s: non-greedy sampling sums probabilities in double to pick the reference's "
                "tokens exactly; this OpenCL device lacks cl_khr_fp64",
                kOp);
  return RMA_STATUS_OK;
}

rma_status run(const Context& ctx, const rma_op_call& call, rma_error* err) {
  const auto& attrs = *static_cast<const rma_sample_attrs*>(call.attrs);
  const rma_tensor &logits = call.inputs[0], &ids = call.outputs[0];
  const rma_tensor* prev = prev_of(call);
  const cl_long batch = logits.shape[0], vocab = logits.shape[1];
  if (batch == 0) return RMA_STATUS_OK;
  const cl_long prev_len = prev ? prev->shape[1] : 0;

  // The penalty reads prev_tokens: check them on the host first, as the
  // reference does (only when the penalty is on).
  if (attrs.repetition_penalty != 1.f && prev_len > 0) {
    std::vector<int32_t> pv(size_t(batch * prev_len));
    const cl_int st = clEnqueueReadBuffer(ctx.queue, mem_of(*prev), CL_TRUE, prev->offset,
                                          pv.size() * sizeof(int32_t), pv.data(), 0, nullptr,
                                          nullptr);
    if (st != CL_SUCCESS)
      return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl: %s: reading prev_tokens: %s", kOp,
                  cl_error_name(st));
    for (cl_long i = 0; i < batch * prev_len; ++i)
      if (pv[size_t(i)] >= vocab)
        return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                    "%s: prev_tokens[%lld, %lld] = %d is outside the vocabulary [0, %lld)", kOp,
                    static_cast<long long>(i / prev_len), static_cast<long long>(i % prev_len),
                    pv[size_t(i)], static_cast<long long>(vocab));
  }

  const bool greedy = attrs.temperature <= 0.f;
  const cl_long padded = greedy ? vocab : next_pow2(vocab);
  const size_t scratch_bytes = size_t(batch * padded) * (sizeof(float) + sizeof(int32_t));
  if (scratch_bytes / 2 > ctx.dev.max_alloc)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, "%s: scratch of %zu bytes exceeds the device's limit",
                kOp, scratch_bytes);
  cl_int st = CL_SUCCESS;
  cl_mem vals = clCreateBuffer(ctx.dev.context, CL_MEM_READ_WRITE,
                               size_t(batch * padded) * sizeof(float), nullptr, &st);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, "opencl: %s: scratch: %s", kOp, cl_error_name(st));
  cl_mem idx = clCreateBuffer(ctx.dev.context, CL_MEM_READ_WRITE,
                              size_t(batch * padded) * sizeof(int32_t), nullptr, &st);
  if (st != CL_SUCCESS) {
    clReleaseMemObject(vals);
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, "opencl: %s: scratch: %s", kOp, cl_error_name(st));
  }

  constexpr size_t kGroup = sample_config::kGroup;
  std::string options = "-DWG=" + std::to_string(kGroup) +
                        " -cl-fp32-correctly-rounded-divide-sqrt" +
                        dtype_option("DTYPE", logits.dtype);
  if (has_fp64(ctx.dev)) options += " -DHAS_FP64";
  rma_status s = RMA_STATUS_OK;
  {
    cl_kernel kern = nullptr;
    s = get_kernel(ctx.dev, "sample/sample", "sample", options, &kern, err);
    if (s == RMA_STATUS_OK) {
      // Without prev_tokens the kernel never reads them; logits stand in.
      const cl_mem prev_mem = prev ? mem_of(*prev) : mem_of(logits);
      const cl_ulong prev_off = prev ? prev->offset / sizeof(int32_t) : 0;
      ArgSetter set(kern);
      set(mem_of(logits))(elem_offset(logits))(vocab)(prev_mem)(prev_off)(prev_len);
      set(attrs.temperature)(attrs.repetition_penalty)(vals)(idx)(padded)(mem_of(ids))(
          cl_ulong(ids.offset / sizeof(int32_t)));
      const size_t global[1] = {size_t(batch) * kGroup}, local[1] = {kGroup};
      s = launch(ctx, kern, kOp, set.status(), 1, global, local, err);
    }
  }
  if (s == RMA_STATUS_OK && !greedy) {
    cl_kernel kern = nullptr;
    s = get_kernel(ctx.dev, "sample/sample", "sample_pick_f64", options, &kern, err);
    if (s == RMA_STATUS_OK) {
      ArgSetter set(kern);
      set(vocab)(attrs.temperature)(cl_int(attrs.top_k))(attrs.top_p)(attrs.min_p)(
          cl_ulong(attrs.seed))(vals)(idx)(padded)(batch)(mem_of(ids))(
          cl_ulong(ids.offset / sizeof(int32_t)));
      const size_t global[1] = {size_t(batch)};
      s = launch(ctx, kern, kOp, set.status(), 1, global, nullptr, err);
    }
  }
  // Released now, freed by the runtime once the kernel is done with them.
  clReleaseMemObject(vals);
  clReleaseMemObject(idx);
  return s;
}

}  // namespace

RMA_OPENCL_REGISTER_OP(RMA_OP_SAMPLE, supported, run);

}  // namespace rma::opencl
