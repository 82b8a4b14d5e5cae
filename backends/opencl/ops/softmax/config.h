// opencl softmax: tuning knobs.
#pragma once
#include <cstddef>

namespace rma::opencl::softmax_config {
// Work-items per row (a power of two), by device type; the launcher caps it
// at the kernel's CL_KERNEL_WORK_GROUP_SIZE on the device. The kernel reads
// float8 chunks and evaluates exp once per element.
// PoCL CPU (2 cores), T=128 N=49152, float8 kernel: 8 -> 3.6-4.4 ms,
// 16 -> 3.5 ms (3.5-5.8 ms across runs: the host is noisy); float4
// kernel: 16 -> 4.8 ms, 64 -> 8.3 ms, 256 -> 18 ms
// (PoCL runs a work-group's items in a loop on one core; more items only
// add reduction and barrier cost).
constexpr size_t kCpuLocalSize = 16;
// GPUs: enough lanes to hide memory latency on one row, within the 256
// every device allows (not measured here: no GPU OpenCL device).
constexpr size_t kGpuLocalSize = 256;
}  // namespace rma::opencl::softmax_config
