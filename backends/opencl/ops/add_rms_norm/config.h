// opencl add_rms_norm: tuning knobs.
#pragma once
#include <cstddef>

namespace rma::opencl::add_rms_norm_config {
// Work-items per row (a power of two), by device type; the launcher caps it
// at the kernel's CL_KERNEL_WORK_GROUP_SIZE on the device. The kernel reads
// float8 chunks with a scalar tail.
// PoCL CPU: it runs a work-group's items in a loop on one core, so more
// items only add reduction and barrier cost; 16 matches softmax's sweep.
constexpr size_t kCpuLocalSize = 16;
// GPUs: enough lanes to spread a 4096-wide row, within the 256 every device
// allows (not measured here: no GPU OpenCL device).
constexpr size_t kGpuLocalSize = 128;
}  // namespace rma::opencl::add_rms_norm_config
