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
      {"prefill_attention", {"q", "k", "v", "cu_seqlens", "alibi_slopes?"}, {"o"},
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
  }};
  return t;
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
const std::vector<std::string>& op_output_names(rma_op op) { return table().at(op).outputs; }
size_t op_attrs_size(rma_op op) { return table().at(op).attrs_size; }

}  // namespace rma
