// The per-op convenience functions of rma::ops and the attribute helpers.
// Each op is a thin wrapper over ops::run, which validates (infer_outputs),
// allocates and dispatches; nothing here checks arguments itself, beyond
// lists too long for an attribute struct.
#include <string>

#include "rma/error.h"
#include "rma/ops.h"

namespace rma {

// ------------------------------------------------------- attribute helpers

rma_linear_attrs linear_attrs(Activation act, bool trans_a, bool trans_b, float act_param,
                              float alpha, Precision precision) {
  rma_linear_attrs a{};
  a.struct_size = sizeof(a);
  a.abi_version = RMA_ABI_VERSION;
  a.trans_a = trans_a;
  a.trans_b = trans_b;
  a.activation = static_cast<int32_t>(act);
  a.activation_param = act_param;
  a.alpha = alpha;
  a.precision = static_cast<int32_t>(precision);
  return a;
}

rma_linear_attrs with_precision(rma_linear_attrs a, Precision precision) {
  a.precision = static_cast<int32_t>(precision);
  return a;
}

rma_norm_attrs norm_attrs(float eps) {
  rma_norm_attrs a{};
  a.struct_size = sizeof(a);
  a.abi_version = RMA_ABI_VERSION;
  a.eps = eps;
  return a;
}

rma_rope_attrs rope_attrs(float theta, rma_rope_style style, int rotary_dim) {
  rma_rope_attrs a{};
  a.struct_size = sizeof(a);
  a.abi_version = RMA_ABI_VERSION;
  a.style = style;
  a.rotary_dim = rotary_dim;
  a.theta = theta;
  // No scaling; the llama3 fields hold Llama 3.1's values so that switching
  // `scaling` on needs only `factor`.
  a.scaling = RMA_ROPE_SCALING_NONE;
  a.factor = 1.f;
  a.low_freq_factor = 1.f;
  a.high_freq_factor = 4.f;
  a.original_max_position = 8192;
  return a;
}

rma_attention_attrs attention_attrs(float scale, bool causal, int sliding_window) {
  rma_attention_attrs a{};
  a.struct_size = sizeof(a);
  a.abi_version = RMA_ABI_VERSION;
  a.scale = scale;
  a.causal = causal;
  a.sliding_window = sliding_window;
  return a;
}

rma_gelu_attrs gelu_attrs(bool approximate_tanh) {
  rma_gelu_attrs a{};
  a.struct_size = sizeof(a);
  a.abi_version = RMA_ABI_VERSION;
  a.approximate = approximate_tanh;
  return a;
}

rma_moe_gating_attrs moe_gating_attrs(int k, bool renormalize) {
  rma_moe_gating_attrs a{};
  a.struct_size = sizeof(a);
  a.abi_version = RMA_ABI_VERSION;
  a.k = k;
  a.renormalize = renormalize;
  return a;
}

rma_sample_attrs sample_attrs(float temperature, int top_k, float top_p, float min_p,
                              float repetition_penalty, uint64_t seed) {
  rma_sample_attrs a{};
  a.struct_size = sizeof(a);
  a.abi_version = RMA_ABI_VERSION;
  a.temperature = temperature;
  a.top_k = top_k;
  a.top_p = top_p;
  a.min_p = min_p;
  a.repetition_penalty = repetition_penalty;
  a.seed = seed;
  return a;
}

rma_softmax_attrs softmax_attrs(bool log) {
  rma_softmax_attrs a{};
  a.struct_size = sizeof(a);
  a.abi_version = RMA_ABI_VERSION;
  a.axis = -1;
  a.log = log;
  return a;
}

namespace {

// A zeroed attribute struct with its header filled in.
template <class A>
A header() {
  A a{};
  a.struct_size = sizeof(a);
  a.abi_version = RMA_ABI_VERSION;
  return a;
}

// At most RMA_MAX_DIMS entries for a per-axis attribute list.
void check_list(const char* builder, const char* list, size_t n) {
  if (n > RMA_MAX_DIMS)
    throw Error(ErrorCode::kInvalidArgument,
                std::string(builder) + ": " + list + " has " + std::to_string(n) +
                    " entries, more than RMA_MAX_DIMS = " + std::to_string(RMA_MAX_DIMS));
}

}  // namespace

rma_unary_attrs unary_attrs(rma_unary_kind kind, float param0, float param1) {
  auto a = header<rma_unary_attrs>();
  a.kind = kind;
  a.param0 = param0;
  a.param1 = param1;
  return a;
}

rma_binary_attrs binary_attrs(rma_binary_kind kind) {
  auto a = header<rma_binary_attrs>();
  a.kind = kind;
  return a;
}

rma_reduce_attrs reduce_attrs(rma_reduce_kind kind, uint32_t axes, bool keepdims) {
  auto a = header<rma_reduce_attrs>();
  a.kind = kind;
  a.axes = axes;
  a.keepdims = keepdims;
  return a;
}

rma_cast_attrs cast_attrs(DType dtype) {
  auto a = header<rma_cast_attrs>();
  a.dtype = static_cast<int32_t>(dtype);
  return a;
}

rma_axis_attrs axis_attrs(int axis) {
  auto a = header<rma_axis_attrs>();
  a.axis = axis;
  return a;
}

rma_slice_attrs slice_attrs(const std::vector<int64_t>& start, const std::vector<int64_t>& step,
                            const std::vector<int64_t>& size) {
  check_list("slice_attrs", "start", start.size());
  check_list("slice_attrs", "step", step.size());
  check_list("slice_attrs", "size", size.size());
  if (start.size() != step.size() || start.size() != size.size())
    throw Error(ErrorCode::kInvalidArgument,
                "slice_attrs: start, step and size must have one entry per axis, got " +
                    std::to_string(start.size()) + ", " + std::to_string(step.size()) + " and " +
                    std::to_string(size.size()));
  auto a = header<rma_slice_attrs>();
  for (size_t d = 0; d < start.size(); ++d) {
    a.start[d] = start[d];
    a.step[d] = step[d];
    a.size[d] = size[d];
  }
  return a;
}

rma_transpose_attrs transpose_attrs(const std::vector<int>& perm) {
  check_list("transpose_attrs", "perm", perm.size());
  auto a = header<rma_transpose_attrs>();
  for (size_t d = 0; d < perm.size(); ++d) a.perm[d] = perm[d];
  return a;
}

rma_shape_attrs shape_attrs(const Shape& shape) {
  check_list("shape_attrs", "shape", shape.size());
  auto a = header<rma_shape_attrs>();
  a.ndim = static_cast<int32_t>(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) a.shape[d] = shape[d];
  return a;
}

rma_conv2d_attrs conv2d_attrs(std::array<int, 2> stride, std::array<int, 2> dilation,
                              std::array<int, 4> pad, int group, Activation act, float act_param) {
  auto a = header<rma_conv2d_attrs>();
  for (int i = 0; i < 2; ++i) {
    a.stride[i] = stride[i];
    a.dilation[i] = dilation[i];
  }
  for (int i = 0; i < 4; ++i) a.pad[i] = pad[i];
  a.group = group;
  a.activation = static_cast<int32_t>(act);
  a.activation_param = act_param;
  return a;
}

rma_pool2d_attrs pool2d_attrs(rma_pool_kind kind, std::array<int, 2> kernel,
                              std::array<int, 2> stride, std::array<int, 4> pad,
                              std::array<int, 2> dilation, bool ceil_mode, bool count_include_pad) {
  auto a = header<rma_pool2d_attrs>();
  a.kind = kind;
  for (int i = 0; i < 2; ++i) {
    a.kernel[i] = kernel[i];
    a.stride[i] = stride[i];
    a.dilation[i] = dilation[i];
  }
  for (int i = 0; i < 4; ++i) a.pad[i] = pad[i];
  a.ceil_mode = ceil_mode;
  a.count_include_pad = count_include_pad;
  return a;
}

int64_t window_out_extent(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                          int64_t pad_begin, int64_t pad_end, bool ceil_mode) {
  if (stride < 1) return 0;
  const int64_t span = dilation * (kernel - 1) + 1;
  const int64_t room = in + pad_begin + pad_end - span;
  if (room < 0) return 0;
  int64_t out = (ceil_mode ? (room + stride - 1) / stride : room / stride) + 1;
  // ceil_mode: a last window starting inside the end padding is dropped.
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

namespace ops {
namespace {

// ops::run returns exactly the op's outputs (the schema says how many).
Tensor first(std::vector<Tensor> outs) { return std::move(outs.at(0)); }
std::pair<Tensor, Tensor> both(std::vector<Tensor> outs) {
  return {std::move(outs.at(0)), std::move(outs.at(1))};
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias, const rma_linear_attrs& attrs) {
  return first(run(RMA_OP_LINEAR, {x, w, bias}, &attrs));
}

Tensor quant_linear(const Tensor& x, const Tensor& w, const Tensor& bias,
                    const rma_linear_attrs& attrs) {
  return first(run(RMA_OP_QUANT_LINEAR, {x, w, bias}, &attrs));
}

Tensor rms_norm(const Tensor& x, const Tensor& w, float eps) {
  const rma_norm_attrs attrs = norm_attrs(eps);
  return first(run(RMA_OP_RMS_NORM, {x, w}, &attrs));
}

std::pair<Tensor, Tensor> add_rms_norm(const Tensor& x, const Tensor& residual, const Tensor& w,
                                       float eps) {
  const rma_norm_attrs attrs = norm_attrs(eps);
  return both(run(RMA_OP_ADD_RMS_NORM, {x, residual, w}, &attrs));
}

Tensor layer_norm(const Tensor& x, const Tensor& w, const Tensor& b, float eps) {
  const rma_norm_attrs attrs = norm_attrs(eps);
  return first(run(RMA_OP_LAYER_NORM, {x, w, b}, &attrs));
}

std::pair<Tensor, Tensor> rope(const Tensor& q, const Tensor& k, const Tensor& positions,
                               const rma_rope_attrs& attrs) {
  return both(run(RMA_OP_ROPE, {q, k, positions}, &attrs));
}

void fill_kv_cache(const Tensor& k, const Tensor& v, const Tensor& slot_mapping, Tensor& k_cache,
                   Tensor& v_cache) {
  // In place: the caches are the outputs, updated in their own storage.
  run(RMA_OP_FILL_KV_CACHE, {k, v, slot_mapping}, nullptr, {k_cache, v_cache});
}

Tensor prefill_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                         const Tensor& cu_seqlens, const rma_attention_attrs& attrs,
                         const Tensor& alibi_slopes) {
  return first(run(RMA_OP_PREFILL_ATTENTION, {q, k, v, cu_seqlens, alibi_slopes}, &attrs));
}

Tensor paged_decode_attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                              const Tensor& block_table, const Tensor& context_lens,
                              const rma_attention_attrs& attrs, const Tensor& alibi_slopes) {
  return first(run(RMA_OP_PAGED_DECODE_ATTENTION,
                   {q, k_cache, v_cache, block_table, context_lens, alibi_slopes}, &attrs));
}

Tensor silu_and_mul(const Tensor& x) { return first(run(RMA_OP_SILU_AND_MUL, {x}, nullptr)); }

Tensor gelu_and_mul(const Tensor& x, bool approximate_tanh) {
  const rma_gelu_attrs attrs = gelu_attrs(approximate_tanh);
  return first(run(RMA_OP_GELU_AND_MUL, {x}, &attrs));
}

Tensor embedding(const Tensor& ids, const Tensor& table, std::optional<DType> out_dtype) {
  // ops::run has no out_dtype: the output is allocated here in the chosen
  // dtype and given, and the schema takes its dtype as the choice.
  if (out_dtype && ids.defined() && table.defined()) {
    const std::vector<rma_tensor> abi = {ids.to_abi(), table.to_abi()};
    const TensorDesc y = infer_outputs(RMA_OP_EMBEDDING, abi, nullptr, {}, out_dtype).at(0);
    return first(run(RMA_OP_EMBEDDING, {ids, table}, nullptr,
                     {Tensor::empty(y.shape, y.dtype, table.device())}));
  }
  return first(run(RMA_OP_EMBEDDING, {ids, table}, nullptr));
}

std::pair<Tensor, Tensor> moe_gating_topk_softmax(const Tensor& logits, int k, bool renormalize) {
  const rma_moe_gating_attrs attrs = moe_gating_attrs(k, renormalize);
  return both(run(RMA_OP_MOE_GATING_TOPK_SOFTMAX, {logits}, &attrs));
}

Tensor sample(const Tensor& logits, const rma_sample_attrs& attrs, const Tensor& prev_tokens) {
  return first(run(RMA_OP_SAMPLE, {logits, prev_tokens}, &attrs));
}

Tensor softmax(const Tensor& x) {
  const rma_softmax_attrs attrs = softmax_attrs();
  return first(run(RMA_OP_SOFTMAX, {x}, &attrs));
}

Tensor log_softmax(const Tensor& x) {
  const rma_softmax_attrs attrs = softmax_attrs(true);
  return first(run(RMA_OP_SOFTMAX, {x}, &attrs));
}

Tensor add(const Tensor& a, const Tensor& b) { return first(run(RMA_OP_ADD, {a, b}, nullptr)); }
Tensor mul(const Tensor& a, const Tensor& b) { return first(run(RMA_OP_MUL, {a, b}, nullptr)); }

// ------------------------------------------------------------------ Tier 2

Tensor unary(const Tensor& x, rma_unary_kind kind, float param0, float param1) {
  const rma_unary_attrs attrs = unary_attrs(kind, param0, param1);
  return first(run(RMA_OP_UNARY, {x}, &attrs));
}

Tensor binary(const Tensor& a, const Tensor& b, rma_binary_kind kind) {
  const rma_binary_attrs attrs = binary_attrs(kind);
  return first(run(RMA_OP_BINARY, {a, b}, &attrs));
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  return first(run(RMA_OP_MATMUL, {a, b}, nullptr));
}

Tensor reduce(const Tensor& x, rma_reduce_kind kind, uint32_t axes, bool keepdims) {
  const rma_reduce_attrs attrs = reduce_attrs(kind, axes, keepdims);
  return first(run(RMA_OP_REDUCE, {x}, &attrs));
}

Tensor cast(const Tensor& x, DType dtype) {
  const rma_cast_attrs attrs = cast_attrs(dtype);
  return first(run(RMA_OP_CAST, {x}, &attrs));
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  return first(run(RMA_OP_WHERE, {cond, a, b}, nullptr));
}

Tensor gather(const Tensor& data, const Tensor& indices, int axis) {
  const rma_axis_attrs attrs = axis_attrs(axis);
  return first(run(RMA_OP_GATHER, {data, indices}, &attrs));
}

Tensor concat(const std::vector<Tensor>& xs, int axis) {
  const rma_axis_attrs attrs = axis_attrs(axis);
  return first(run(RMA_OP_CONCAT, xs, &attrs));
}

Tensor slice(const Tensor& x, const rma_slice_attrs& attrs) {
  return first(run(RMA_OP_SLICE, {x}, &attrs));
}

Tensor transpose(const Tensor& x, const std::vector<int>& perm) {
  const rma_transpose_attrs attrs = transpose_attrs(perm);
  return first(run(RMA_OP_TRANSPOSE, {x}, &attrs));
}

Tensor expand(const Tensor& x, const Shape& shape) {
  const rma_shape_attrs attrs = shape_attrs(shape);
  return first(run(RMA_OP_EXPAND, {x}, &attrs));
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const rma_conv2d_attrs& attrs) {
  return first(run(RMA_OP_CONV2D, {x, w, bias}, &attrs));
}

Tensor pool2d(const Tensor& x, const rma_pool2d_attrs& attrs) {
  return first(run(RMA_OP_POOL2D, {x}, &attrs));
}

}  // namespace ops
}  // namespace rma
