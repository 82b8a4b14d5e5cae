// cuda paged_decode_attention: tuning knobs (the kernel's fixed shape, 128
// threads, at most 8 query heads per block and 4 rows in flight per key
// group, is in kernels/paged_decode.cuh).
#pragma once

namespace rma::cuda::paged_decode_attention_config {
// Keys per partition (split-K): a context longer than this is cut into
// partitions, one block each, merged by a second kernel. Shorter contexts
// run in one pass and write the output directly.
constexpr int kPartitionTokens = 512;
// When the batch x kv heads x partitions would give fewer than
// kMinBlocksPerSm blocks per multiprocessor, partitions are halved (down to
// kMinPartitionTokens keys) so a small batch still spreads over the GPU.
constexpr int kMinPartitionTokens = 128;
constexpr int kMinBlocksPerSm = 2;
}  // namespace rma::cuda::paged_decode_attention_config
