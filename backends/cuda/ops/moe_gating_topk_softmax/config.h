// cuda moe_gating_topk_softmax: tuning knobs.
#pragma once

namespace rma::cuda::moe_gating_config {
// One warp per token row (routers have 8 to a few hundred experts); warps per
// block.
constexpr int kWarpsPerBlock = 4;
}  // namespace rma::cuda::moe_gating_config
