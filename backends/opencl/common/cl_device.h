// The plugin's device state, shared by plugin.cpp and the program cache.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/cl_op.h"

namespace rma::opencl {

struct ClDevice {
  cl_platform_id platform = nullptr;
  cl_device_id id = nullptr;
  cl_context context = nullptr;
  std::string name, vendor, driver_version, version, extensions;
  cl_device_type type = 0;
  cl_uint compute_units = 0;
  cl_ulong global_mem = 0, max_alloc = 0;

  std::mutex mu;  // guards the fields below
  uint64_t bytes_allocated = 0;
  std::map<void*, uint64_t> buffer_sizes;
  std::map<std::string, cl_program> programs;  // by source name + options
  // Program binaries by cache key: those built or loaded in this process and
  // those imported (kernels_import); build_program() looks here first.
  std::map<uint64_t, std::vector<unsigned char>> binaries;
};

// Logs through the host (level: rma_log_level).
void log(int32_t level, const std::string& message);
// The host's cache folder, or "" when caching is off (RM_CACHE_ENABLED=0).
std::string cache_root();

// Builds `source` with `options` for `dev`, from the on-disk binary cache
// when a valid entry exists. Errors name the device, program and build log.
// Callers hold dev.mu (it guards dev.binaries).
rma_status build_program(ClDevice& dev, const std::string& source_name, const std::string& source,
                         const std::string& options, cl_program* out, rma_error* err);

// kernels_export / kernels_import / blob_free of the plugin table: a blob of
// every binary in `dev.binaries`, and seeding `dev.binaries` from one.
rma_status export_binaries(ClDevice& dev, rma_blob* out, rma_error* err);
rma_status import_binaries(ClDevice& dev, const void* data, uint64_t size, rma_error* err);
void free_blob(rma_blob* blob);

}  // namespace rma::opencl
