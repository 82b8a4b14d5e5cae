// opencl reduce: tuning knobs and the rows / groups choice.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rma::opencl::reduce_config {
// Work-items per output in reduce_groups (a power of two), by device type;
// the launcher caps it at the kernel's CL_KERNEL_WORK_GROUP_SIZE. As for
// softmax: PoCL runs a group's items in a loop on one core, so a few
// suffice there; GPUs want enough lanes to hide memory latency.
constexpr size_t kCpuLocalSize = 16;
constexpr size_t kGpuLocalSize = 256;
// Outputs reducing at least kGroupMinCount elements take one work-group
// each (reduce_groups) when the reduced elements are contiguous (a last-axis
// reduction) or the outputs are too few to occupy the device on their own
// (fewer than kGroupMaxStridedOutputs); the rest one work-item each
// (reduce_rows), where neighbouring work-items read neighbouring elements.
// A few long rows (logits) then spread over every core or lane. PoCL (2
// cores), f32: [512, 4096] over axis 1 0.53-0.58 ms either way; over axis 0
// 2.2-2.5 ms either way (a GPU would read the groups' strided elements
// uncoalesced).
constexpr int64_t kGroupMinCount = 256;
constexpr int64_t kGroupMaxStridedOutputs = 64;
}  // namespace rma::opencl::reduce_config
