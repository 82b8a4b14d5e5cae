// Names of ops and of their arguments, in ABI order.
#include <array>

#include "rma/ops.h"

namespace rma {
namespace {

struct OpTable {
  std::string_view name;
  std::vector<std::string> inputs;  // "?" suffix: optional
  std::vector<std::string> outputs;
  size_t attrs_size;
  bool variadic = false;  // the one input repeats (concat)
};

const std::array<OpTable, RMA_OP_COUNT>& table() {
  static const std::array<OpTable, RMA_OP_COUNT> t = {{
      {"linear", {"x", "w", "bias?"}, {"y"}, sizeof(rma_linear_attrs)},
      {"quant_linear", {"x", "w", "bias?"}, {"y"}, sizeof(rma_linear_attrs)},
      {"rms_norm", {"x", "w"}, {"y"}, sizeof(rma_norm_attrs)},
      {"add_rms_norm", {"x", "residual", "w"}, {"y", "residual_out"}, sizeof(rma_norm_attrs)},
      {"layer_norm", {"x", "w", "b?"}, {"y"}, sizeof(rma_norm_attrs)},
      {"rope", {"q", "k", "positions"}, {"q_out", "k_out"}, sizeof(rma_rope_attrs)},
      {"fill_kv_cache", {"k", "v", "slot_mapping"}, {"k_cache", "v_cache"}, 0},
      {"prefill_attention",
       {"q", "k", "v", "cu_seqlens", "alibi_slopes?"},
       {"o"},
       sizeof(rma_attention_attrs)},
      {"paged_decode_attention",
       {"q", "k_cache", "v_cache", "block_table", "context_lens", "alibi_slopes?"},
       {"o"},
       sizeof(rma_attention_attrs)},
      {"silu_and_mul", {"x"}, {"y"}, 0},
      {"gelu_and_mul", {"x"}, {"y"}, sizeof(rma_gelu_attrs)},
      {"embedding", {"ids", "table"}, {"y"}, 0},
      {"moe_gating_topk_softmax", {"logits"}, {"weights", "ids"}, sizeof(rma_moe_gating_attrs)},
      {"sample", {"logits", "prev_tokens?"}, {"ids"}, sizeof(rma_sample_attrs)},
      {"softmax", {"x"}, {"y"}, sizeof(rma_softmax_attrs)},
      {"add", {"a", "b"}, {"y"}, 0},
      {"mul", {"a", "b"}, {"y"}, 0},
      {"unary", {"x"}, {"y"}, sizeof(rma_unary_attrs)},
      {"binary", {"a", "b"}, {"y"}, sizeof(rma_binary_attrs)},
      {"matmul", {"a", "b"}, {"y"}, 0},
      {"reduce", {"x"}, {"y"}, sizeof(rma_reduce_attrs)},
      {"cast", {"x"}, {"y"}, sizeof(rma_cast_attrs)},
      {"where", {"cond", "a", "b"}, {"y"}, 0},
      {"gather", {"data", "indices"}, {"y"}, sizeof(rma_axis_attrs)},
      {"concat", {"x"}, {"y"}, sizeof(rma_axis_attrs), true},
      {"slice", {"x"}, {"y"}, sizeof(rma_slice_attrs)},
      {"transpose", {"x"}, {"y"}, sizeof(rma_transpose_attrs)},
      {"expand", {"x"}, {"y"}, sizeof(rma_shape_attrs)},
      {"conv2d", {"x", "w", "bias?"}, {"y"}, sizeof(rma_conv2d_attrs)},
      {"pool2d", {"x"}, {"y"}, sizeof(rma_pool2d_attrs)},
  }};
  return t;
}

// Kind names, in enum order.
constexpr std::array<std::string_view, RMA_UNARY_COUNT> kUnaryNames = {
    "neg",  "abs",   "exp",  "log",     "sqrt", "rsqrt",      "reciprocal", "sin",
    "cos",  "erf",   "tanh", "sigmoid", "relu", "leaky_relu", "gelu",       "gelu_tanh",
    "silu", "floor", "ceil", "round",   "sign", "clip",       "not"};
constexpr std::array<std::string_view, RMA_BINARY_COUNT> kBinaryNames = {
    "add",   "sub",  "mul",        "div",     "pow",           "max", "min", "mod",
    "equal", "less", "less_equal", "greater", "greater_equal", "and", "or",  "xor"};
constexpr std::array<std::string_view, RMA_REDUCE_COUNT> kReduceNames = {
    "sum", "mean", "max", "min", "prod", "sum_square", "argmax", "argmin"};

template <size_t N>
std::string_view kind_name(const std::array<std::string_view, N>& names, int32_t kind) {
  return kind >= 0 && static_cast<size_t>(kind) < N ? names[kind] : "unknown";
}

template <class E, size_t N>
std::optional<E> parse_kind(const std::array<std::string_view, N>& names, std::string_view name) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == name) return static_cast<E>(i);
  return std::nullopt;
}

}  // namespace

std::string_view op_name(rma_op op) {
  if (op < 0 || op >= RMA_OP_COUNT) return "unknown_op";
  return table()[op].name;
}

std::optional<rma_op> parse_op(std::string_view name) {
  for (int i = 0; i < RMA_OP_COUNT; ++i)
    if (table()[i].name == name) return static_cast<rma_op>(i);
  return std::nullopt;
}

std::vector<rma_op> all_ops() {
  std::vector<rma_op> ops;
  for (int i = 0; i < RMA_OP_COUNT; ++i) ops.push_back(static_cast<rma_op>(i));
  return ops;
}

const std::vector<std::string>& op_input_names(rma_op op) { return table().at(op).inputs; }
bool op_is_variadic(rma_op op) { return table().at(op).variadic; }
std::string op_input_name(rma_op op, size_t i) {
  const OpTable& t = table().at(op);
  if (t.variadic) return t.inputs.at(0) + std::to_string(i);
  return i < t.inputs.size() ? t.inputs[i] : "input " + std::to_string(i);
}
const std::vector<std::string>& op_output_names(rma_op op) { return table().at(op).outputs; }
size_t op_attrs_size(rma_op op) { return table().at(op).attrs_size; }

std::string_view unary_kind_name(int32_t kind) { return kind_name(kUnaryNames, kind); }
std::string_view binary_kind_name(int32_t kind) { return kind_name(kBinaryNames, kind); }
std::string_view reduce_kind_name(int32_t kind) { return kind_name(kReduceNames, kind); }
std::optional<rma_unary_kind> parse_unary_kind(std::string_view name) {
  return parse_kind<rma_unary_kind>(kUnaryNames, name);
}
std::optional<rma_binary_kind> parse_binary_kind(std::string_view name) {
  return parse_kind<rma_binary_kind>(kBinaryNames, name);
}
std::optional<rma_reduce_kind> parse_reduce_kind(std::string_view name) {
  return parse_kind<rma_reduce_kind>(kReduceNames, name);
}

}  // namespace rma
