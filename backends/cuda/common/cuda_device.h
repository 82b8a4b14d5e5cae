// The plugin's device and stream state, shared by plugin.cu and the op
// modules that need more than cuda_op.h offers (cuBLASLt handles and
// workspaces for linear and quant_linear).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/caching_allocator.h"
#include "common/cuda_op.h"

namespace rma::cuda {

// The allocator's view of one device.
class CudaAllocatorBackend : public AllocatorBackend {
 public:
  explicit CudaAllocatorBackend(int ordinal) : ordinal_(ordinal) {}
  void* device_alloc(uint64_t bytes) override;
  void device_free(void* ptr) override;
  void synchronize() override;

 private:
  int ordinal_;
};

// Pinned host chunks that host<->device copies of pageable memory go
// through, so copies are asynchronous and run at full bus speed. A chunk is
// reused once the event recorded after its copy has completed.
class PinnedStaging {
 public:
  static constexpr uint64_t kChunkBytes = 4ull << 20;
  static constexpr int kMaxChunks = 8;

  struct Chunk {
    void* host = nullptr;
    cudaEvent_t done = nullptr;
    bool in_flight = false;  // `done` recorded after its last copy
    bool busy = false;       // handed out by acquire(), not yet released
  };

  ~PinnedStaging();
  // A free chunk (waiting for the oldest when all are in flight), or
  // nullptr when pinned memory cannot be had (the caller copies directly).
  Chunk* acquire();
  // The chunk's copy (and host callback) were enqueued on `stream`.
  void release_after(Chunk* chunk, cudaStream_t stream);
  void free_all();

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  size_t next_wait_ = 0;  // round-robin choice of the chunk to wait for
};

struct CudaDevice {
  explicit CudaDevice(int device_ordinal)
      : ordinal(device_ordinal), allocator_backend(device_ordinal) {}
  CudaDevice(const CudaDevice&) = delete;
  CudaDevice& operator=(const CudaDevice&) = delete;

  int ordinal;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  uint64_t memory_total = 0;
  size_t shared_memory_optin = 0;  // per block, with cudaFuncAttributeMaxDynamicSharedMemorySize
  int driver_version = 0, runtime_version = 0;  // 13000 = 13.0

  CudaAllocatorBackend allocator_backend;
  CachingAllocator scratch{allocator_backend};
  PinnedStaging staging;

  std::mutex mu;                      // guards the fields below
  std::map<void*, uint64_t> buffers;  // buffer_alloc'd, by address
  uint64_t buffer_bytes = 0, buffer_peak = 0;
};

struct CudaStream {
  CudaDevice* dev = nullptr;
  cudaStream_t stream = nullptr;
  // cuBLASLt handle and workspace, made on the first linear on this stream.
  cublasLtHandle_t lt = nullptr;
  void* lt_workspace = nullptr;
  uint64_t lt_workspace_bytes = 0;
  // While a capture records on this stream: the scratch blocks its ops take
  // (owned by the capture from capture_end on, so the graph's addresses stay
  // valid however the device's scratch cache is trimmed meanwhile).
  std::unique_ptr<CachingAllocator> capture_scratch;
};

// A captured stream: the instantiated graph and the scratch it uses.
struct CudaCapture {
  cudaGraphExec_t exec = nullptr;
  std::unique_ptr<CachingAllocator> scratch;
};

// What a Context carries for the plugin: the stream and the scratch blocks
// this call took (given back when the call has been enqueued).
struct CallState {
  CudaStream* stream = nullptr;
  int32_t op = -1;
  std::vector<void*> scratch;
};

// Makes `dev` current on the calling thread.
rma_status use_device(const CudaDevice& dev, rma_error* err);

// The cuBLASLt handle and workspace of the stream `ctx` runs on.
rma_status cublaslt_of(const Context& ctx, cublasLtHandle_t* handle, void** workspace,
                       uint64_t* workspace_bytes, rma_error* err);

// "linear", "rms_norm", ... ("op <n>" for an unknown id).
const char* op_label(int32_t op);

}  // namespace rma::cuda
