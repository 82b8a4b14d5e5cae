// rma/ops.h — the op interface, C++ side.
//
// Each function checks its arguments against the op's schema once (an
// rma::Error names the op, the argument, what was expected and what came),
// allocates outputs on the inputs' device, and runs the op there through the
// device's plugin on its default stream. All tensor arguments must be on one
// device: nothing is copied implicitly. Optional tensors are passed as
// Tensor{} (undefined). Semantics: docs/ops.md and include/rma/plugin.h.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rma/plugin.h"
#include "rma/tensor.h"

namespace rma {

std::string_view op_name(rma_op op);
std::optional<rma_op> parse_op(std::string_view name);
std::vector<rma_op> all_ops();

// Names of the Tier-2 kinds ("exp", "less_equal", "argmax"), "unknown" out
// of range; parse_* is the inverse.
std::string_view unary_kind_name(int32_t kind);
std::string_view binary_kind_name(int32_t kind);
std::string_view reduce_kind_name(int32_t kind);
std::optional<rma_unary_kind> parse_unary_kind(std::string_view name);
std::optional<rma_binary_kind> parse_binary_kind(std::string_view name);
std::optional<rma_reduce_kind> parse_reduce_kind(std::string_view name);

enum class Activation : int32_t {
  kNone = RMA_ACT_NONE,
  kRelu = RMA_ACT_RELU,
  kLeakyRelu = RMA_ACT_LEAKY_RELU,
  kGelu = RMA_ACT_GELU,
  kGeluTanh = RMA_ACT_GELU_TANH,
  kSilu = RMA_ACT_SILU,
  kSigmoid = RMA_ACT_SIGMOID,
  kTanh = RMA_ACT_TANH,
};

// quant_linear's arithmetic contract (rma_precision; docs/ops.md).
enum class Precision : int32_t {
  kAccurate = RMA_PRECISION_ACCURATE,  // as if f32 from the dequantized weights
  kFast = RMA_PRECISION_FAST,          // activations may be rounded to 8 bits
};

// Attribute structs with the ABI's defaults filled in.
rma_linear_attrs linear_attrs(Activation act = Activation::kNone, bool trans_a = false,
                              bool trans_b = true, float act_param = 0.01f, float alpha = 1.f,
                              Precision precision = Precision::kAccurate);
// `a` with its precision set (quant_linear; linear ignores it).
rma_linear_attrs with_precision(rma_linear_attrs a, Precision precision);
rma_norm_attrs norm_attrs(float eps);
rma_rope_attrs rope_attrs(float theta = 10000.f, rma_rope_style style = RMA_ROPE_NEOX,
                          int rotary_dim = 0);
rma_attention_attrs attention_attrs(float scale, bool causal = true, int sliding_window = 0);
rma_gelu_attrs gelu_attrs(bool approximate_tanh = false);
rma_moe_gating_attrs moe_gating_attrs(int k, bool renormalize);
rma_sample_attrs sample_attrs(float temperature = 0.f, int top_k = 0, float top_p = 1.f,
                              float min_p = 0.f, float repetition_penalty = 1.f, uint64_t seed = 0);
// log: log_softmax.
rma_softmax_attrs softmax_attrs(bool log = false);

// Tier 2 (docs/ops.md "Tier 2"). The builders taking lists throw
// Error(kInvalidArgument) for more than RMA_MAX_DIMS entries; everything else
// is checked by the op's schema.
rma_unary_attrs unary_attrs(rma_unary_kind kind, float param0 = 0.f, float param1 = 0.f);
rma_binary_attrs binary_attrs(rma_binary_kind kind);
// axes: bit i reduces axis i.
rma_reduce_attrs reduce_attrs(rma_reduce_kind kind, uint32_t axes, bool keepdims = false);
rma_cast_attrs cast_attrs(DType dtype);
rma_axis_attrs axis_attrs(int axis);
// One entry per axis of x: y[i] = x[start + i * step] for i < size.
rma_slice_attrs slice_attrs(const std::vector<int64_t>& start, const std::vector<int64_t>& step,
                            const std::vector<int64_t>& size);
rma_transpose_attrs transpose_attrs(const std::vector<int>& perm);
rma_shape_attrs shape_attrs(const Shape& shape);
// conv2d / pool2d: pairs are (h, w), pads (top, left, bottom, right).
rma_conv2d_attrs conv2d_attrs(std::array<int, 2> stride = {1, 1},
                              std::array<int, 2> dilation = {1, 1},
                              std::array<int, 4> pad = {0, 0, 0, 0}, int group = 1,
                              Activation act = Activation::kNone, float act_param = 0.01f);
rma_pool2d_attrs pool2d_attrs(rma_pool_kind kind, std::array<int, 2> kernel,
                              std::array<int, 2> stride = {1, 1},
                              std::array<int, 4> pad = {0, 0, 0, 0},
                              std::array<int, 2> dilation = {1, 1}, bool ceil_mode = false,
                              bool count_include_pad = false);
// The output extent of a conv2d / pool2d window along one axis (the rule in
// rma/plugin.h); < 1 when not even one window fits.
int64_t window_out_extent(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                          int64_t pad_begin, int64_t pad_end, bool ceil_mode = false);

namespace ops {

// The general entry: validates `inputs` and `attrs` against the op's schema,
// allocates the outputs (or, for in-place ops, checks `outputs` given), runs.
// Returns the outputs.
std::vector<Tensor> run(rma_op op, const std::vector<Tensor>& inputs, const void* attrs,
                        std::vector<Tensor> outputs = {});

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias = {},
              const rma_linear_attrs& attrs = linear_attrs());
Tensor quant_linear(const Tensor& x, const Tensor& w, const Tensor& bias = {},
                    const rma_linear_attrs& attrs = linear_attrs());
Tensor rms_norm(const Tensor& x, const Tensor& w, float eps);
// Returns {normed, x + residual}.
std::pair<Tensor, Tensor> add_rms_norm(const Tensor& x, const Tensor& residual, const Tensor& w,
                                       float eps);
Tensor layer_norm(const Tensor& x, const Tensor& w, const Tensor& b, float eps);
// Returns {q', k'}.
std::pair<Tensor, Tensor> rope(const Tensor& q, const Tensor& k, const Tensor& positions,
                               const rma_rope_attrs& attrs);
void fill_kv_cache(const Tensor& k, const Tensor& v, const Tensor& slot_mapping, Tensor& k_cache,
                   Tensor& v_cache);
Tensor prefill_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                         const Tensor& cu_seqlens, const rma_attention_attrs& attrs,
                         const Tensor& alibi_slopes = {});
Tensor paged_decode_attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                              const Tensor& block_table, const Tensor& context_lens,
                              const rma_attention_attrs& attrs, const Tensor& alibi_slopes = {});
Tensor silu_and_mul(const Tensor& x);
Tensor gelu_and_mul(const Tensor& x, bool approximate_tanh = false);
// Output dtype: `out_dtype` when given, else the table's for float tables
// and f32 for quantized ones.
Tensor embedding(const Tensor& ids, const Tensor& table,
                 std::optional<DType> out_dtype = std::nullopt);
// Returns {weights f32[T,k], ids i32[T,k]}.
std::pair<Tensor, Tensor> moe_gating_topk_softmax(const Tensor& logits, int k, bool renormalize);
Tensor sample(const Tensor& logits, const rma_sample_attrs& attrs, const Tensor& prev_tokens = {});
Tensor softmax(const Tensor& x);
Tensor log_softmax(const Tensor& x);
Tensor add(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);

// Tier 2: general tensor ops (docs/ops.md "Tier 2"). Axes are in [0, ndim).
Tensor unary(const Tensor& x, rma_unary_kind kind, float param0 = 0.f, float param1 = 0.f);
Tensor binary(const Tensor& a, const Tensor& b, rma_binary_kind kind);
// numpy matmul: a[..., M, K] . b[..., K, N] with batch broadcasting; a 1-D
// a is a row [K] and a 1-D b a column [K], their dim dropped from y.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor reduce(const Tensor& x, rma_reduce_kind kind, uint32_t axes, bool keepdims = false);
Tensor cast(const Tensor& x, DType dtype);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor gather(const Tensor& data, const Tensor& indices, int axis);
Tensor concat(const std::vector<Tensor>& xs, int axis);
Tensor slice(const Tensor& x, const rma_slice_attrs& attrs);
Tensor transpose(const Tensor& x, const std::vector<int>& perm);
Tensor expand(const Tensor& x, const Shape& shape);
// x[N, C, H, W], w[M, C/group, kH, kW], bias[M] or Tensor{} -> y[N, M, oH, oW].
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = {},
              const rma_conv2d_attrs& attrs = conv2d_attrs());
// x[N, C, H, W] -> y[N, C, oH, oW]: max or average over each window.
Tensor pool2d(const Tensor& x, const rma_pool2d_attrs& attrs);

}  // namespace ops

// ----------------------------------------------------------------- schemas
// Shape and dtype of one output as the schema gives it.
struct TensorDesc {
  Shape shape;
  DType dtype;
};

// Checks a call's inputs and attributes; returns the outputs' descriptions.
// For in-place outputs (fill_kv_cache) `given_outputs` are checked and
// returned. `out_dtype` picks the output dtype where the op leaves it free
// (embedding). Throws Error(kInvalidArgument) naming the op and the argument.
std::vector<TensorDesc> infer_outputs(rma_op op, const std::vector<rma_tensor>& inputs,
                                      const void* attrs,
                                      const std::vector<rma_tensor>& given_outputs = {},
                                      std::optional<DType> out_dtype = std::nullopt);

// Names of an op's inputs and outputs, in order ("x", "w", "bias?"...).
// A variadic op (concat) lists its one repeated input ("x"), which a call
// gives 1 to kMaxVariadicInputs times, named x0, x1, ... in messages.
const std::vector<std::string>& op_input_names(rma_op op);
constexpr int kMaxVariadicInputs = 64;
bool op_is_variadic(rma_op op);
// Input i's name as messages give it: "bias?" for linear's input 2, "x3"
// for concat's input 3.
std::string op_input_name(rma_op op, size_t i);
const std::vector<std::string>& op_output_names(rma_op op);
// Bytes of the op's attribute struct (0 when it has none).
size_t op_attrs_size(rma_op op);

}  // namespace rma
