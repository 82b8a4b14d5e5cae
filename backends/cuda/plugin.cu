// The CUDA backend: every NVIDIA GPU of compute capability 8.0 or newer,
// buffers from cudaMalloc, streams as non-blocking CUDA streams, events,
// asynchronous copies through pinned staging chunks, a stream-ordered
// caching allocator for op scratch, and the op modules under ops/ that
// registered themselves with register_op().
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/cuda_device.h"
#include "common/cublaslt_loader.h"
#include "rma/dtype.h"

namespace rma::cuda {
namespace {

struct Registry {
  std::array<SupportedFn, RMA_OP_COUNT> supported{};
  std::array<RunFn, RMA_OP_COUNT> run{};
};
Registry& registry() {
  static Registry r;
  return r;
}

// Oldest architecture the plugin carries code for (CMAKE_CUDA_ARCHITECTURES).
constexpr int kMinComputeCapability = 80;

const rma_host_api* g_host = nullptr;
// Never destroyed: buffers may be freed by tensors held in statics after
// the CUDA runtime itself has been torn down at exit.
std::vector<std::unique_ptr<CudaDevice>>& devices() {
  static auto* d = new std::vector<std::unique_ptr<CudaDevice>>();
  return *d;
}

CudaDevice* dev_of(rma_device d) { return reinterpret_cast<CudaDevice*>(d); }
CudaStream* stream_of(rma_stream s) { return reinterpret_cast<CudaStream*>(s); }
// Where a call's scratch comes from: the capture's own blocks while the
// stream records, else the device's cache.
CachingAllocator& scratch_of(CudaStream& s) {
  return s.capture_scratch ? *s.capture_scratch : s.dev->scratch;
}
cudaEvent_t event_of(rma_event e) { return reinterpret_cast<cudaEvent_t>(e); }

void plugin_log(int32_t level, const std::string& message) {
  if (g_host && g_host->struct_size >= offsetof(rma_host_api, log) + sizeof(g_host->log) &&
      g_host->log)
    g_host->log(level, "cuda", message.c_str());
}

std::string mib(uint64_t bytes) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", double(bytes) / (1024.0 * 1024.0));
  return buf;
}

// "cuda:0 (NVIDIA H100 80GB HBM3)" for messages.
std::string where(const CudaDevice& d) {
  return "cuda:" + std::to_string(d.ordinal) + " (" + d.name + ")";
}

rma_status cuda_fail(rma_error* err, const CudaDevice& d, const char* what, cudaError_t e) {
  return fail(err, RMA_STATUS_DEVICE_ERROR, "%s: %s: %s (%s)", where(d).c_str(), what,
              cudaGetErrorName(e), cudaGetErrorString(e));
}

std::string version_string(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

// Finds every device the plugin can run on. Returns a one-line reason when
// there is none.
std::string enumerate_devices() {
  int count = 0;
  const cudaError_t st = cudaGetDeviceCount(&count);
  if (st != cudaSuccess) {
    cudaGetLastError();
    return std::string("no CUDA device (cudaGetDeviceCount: ") + cudaGetErrorString(st) + ")";
  }
  if (count == 0) return "no CUDA device (cudaGetDeviceCount: 0 devices)";
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  std::string too_old;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    const int cc = prop.major * 10 + prop.minor;
    if (cc < kMinComputeCapability) {
      too_old += (too_old.empty() ? "" : ", ") + std::string("GPU ") + std::to_string(i) + " (" +
                 prop.name + ") is sm_" + std::to_string(cc);
      continue;
    }
    auto d = std::make_unique<CudaDevice>(i);
    d->name = prop.name;
    d->cc_major = prop.major;
    d->cc_minor = prop.minor;
    d->memory_total = prop.totalGlobalMem;
    int sms = 0, smem = 0;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, i);
    cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, i);
    d->sm_count = sms;
    d->shared_memory_optin = size_t(smem);
    d->driver_version = driver;
    d->runtime_version = runtime;
    devices().push_back(std::move(d));
  }
  if (!too_old.empty())
    plugin_log(devices().empty() ? RMA_LOG_INFO : RMA_LOG_WARN,
               "left out: " + too_old + "; this plugin carries code for sm_80 and newer");
  if (devices().empty())
    return "no usable CUDA device: " + too_old + "; this plugin carries code for sm_80 and newer";
  return "";
}

// ---------------------------------------------------------------- devices
int32_t device_count() { return static_cast<int32_t>(devices().size()); }

rma_status device_open(int32_t index, rma_device* out, rma_error* err) {
  if (index < 0 || index >= device_count())
    return fail(err, RMA_STATUS_NOT_FOUND, "cuda has %d device(s), asked for %d", device_count(),
                index);
  CudaDevice& d = *devices()[size_t(index)];
  if (rma_status st = use_device(d, err)) return st;
  // Creates the primary context now, so a broken device fails here, named.
  if (const cudaError_t e = cudaFree(nullptr); e != cudaSuccess) {
    cudaGetLastError();
    return cuda_fail(err, d, "creating the CUDA context", e);
  }
  *out = reinterpret_cast<rma_device>(&d);
  return RMA_STATUS_OK;
}

void device_close(rma_device dv) {
  CudaDevice& d = *dev_of(dv);
  if (use_device(d, nullptr) == RMA_STATUS_OK) d.scratch.release_cached();
}

rma_status device_get_info(rma_device dv, rma_device_info* out, rma_error* err) {
  if (!out || out->struct_size < sizeof(rma_device_info))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "rma_device_info too small");
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  size_t free_bytes = 0, total_bytes = 0;
  if (const cudaError_t e = cudaMemGetInfo(&free_bytes, &total_bytes); e != cudaSuccess) {
    cudaGetLastError();
    return cuda_fail(err, d, "cudaMemGetInfo", e);
  }
  std::snprintf(out->name, sizeof(out->name), "%s", d.name.c_str());
  std::snprintf(out->vendor, sizeof(out->vendor), "NVIDIA");
  std::snprintf(out->driver_version, sizeof(out->driver_version), "CUDA driver %s, runtime %s",
                version_string(d.driver_version).c_str(),
                version_string(d.runtime_version).c_str());
  std::snprintf(out->arch, sizeof(out->arch), "sm_%d%d", d.cc_major, d.cc_minor);
  out->type = RMA_DEVICE_GPU;
  out->compute_units = d.sm_count;
  out->memory_total = total_bytes;
  out->memory_free = free_bytes;
  // Everything we build for (sm_80+) has native bf16 conversions.
  out->capabilities =
      RMA_CAP_OP_KERNELS | RMA_CAP_ASYNC | RMA_CAP_F16 | RMA_CAP_QUANTIZED | RMA_CAP_CAPTURE;
  if (d.cc_major * 10 + d.cc_minor >= 80) out->capabilities |= RMA_CAP_BF16;
  return RMA_STATUS_OK;
}

// ----------------------------------------------------------------- memory
std::string memory_report(CudaDevice& d) {
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) cudaGetLastError();
  uint64_t buffers;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    buffers = d.buffer_bytes;
  }
  const AllocatorStats s = d.scratch.stats();
  return "device has " + std::to_string(free_bytes) + " bytes (" + mib(free_bytes) + ") free of " +
         std::to_string(total_bytes) + "; the cuda plugin holds " + std::to_string(buffers) +
         " bytes in buffers, " + std::to_string(s.bytes_in_use) + " in op scratch and " +
         std::to_string(s.bytes_cached) + " cached (scratch peak " +
         std::to_string(s.peak_bytes_in_use) + ")";
}

rma_status buffer_alloc(rma_device dv, uint64_t size, uint64_t alignment, void** out,
                        rma_error* err) {
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  if (alignment > 256)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "%s: buffer alignment %llu requested; cudaMalloc guarantees 256", where(d).c_str(),
                static_cast<unsigned long long>(alignment));
  // A zero-byte tensor still needs a distinct handle.
  const uint64_t bytes = size ? size : 256;
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky; clear it so no later launch check reports it
    d.scratch.release_cached();
    e = cudaMalloc(&p, bytes);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    const std::string report = memory_report(d);
    return fail(err,
                e == cudaErrorMemoryAllocation ? RMA_STATUS_OUT_OF_MEMORY : RMA_STATUS_DEVICE_ERROR,
                "%s: cannot allocate %llu bytes (%s): %s; %s", where(d).c_str(),
                static_cast<unsigned long long>(size), mib(size).c_str(), cudaGetErrorString(e),
                report.c_str());
  }
  std::lock_guard<std::mutex> lock(d.mu);
  d.buffers[p] = bytes;
  d.buffer_bytes += bytes;
  d.buffer_peak = std::max(d.buffer_peak, d.buffer_bytes);
  *out = p;
  return RMA_STATUS_OK;
}

void buffer_free(rma_device dv, void* buffer) {
  if (!buffer) return;
  CudaDevice& d = *dev_of(dv);
  {
    std::lock_guard<std::mutex> lock(d.mu);
    auto it = d.buffers.find(buffer);
    if (it == d.buffers.end()) return;  // not ours: never hand it to cudaFree
    d.buffer_bytes -= it->second;
    d.buffers.erase(it);
  }
  if (use_device(d, nullptr) != RMA_STATUS_OK) return;
  // cudaFree waits for the device, so work still reading the buffer finishes.
  if (cudaFree(buffer) != cudaSuccess) cudaGetLastError();
}

void* buffer_host_ptr(rma_device, void*) { return nullptr; }

// ---------------------------------------------------------- streams/events
rma_status stream_create(rma_device dv, rma_stream* out, rma_error* err) {
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  cudaStream_t s = nullptr;
  // Non-blocking: no implicit ordering with the legacy default stream.
  if (const cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
      e != cudaSuccess) {
    cudaGetLastError();
    return cuda_fail(err, d, "cudaStreamCreateWithFlags", e);
  }
  auto* cs = new CudaStream;
  cs->dev = &d;
  cs->stream = s;
  *out = reinterpret_cast<rma_stream>(cs);
  return RMA_STATUS_OK;
}

void stream_destroy(rma_device dv, rma_stream s) {
  CudaStream* cs = stream_of(s);
  if (!cs) return;
  CudaDevice& d = *dev_of(dv);
  if (use_device(d, nullptr) == RMA_STATUS_OK) {
    if (cudaStreamSynchronize(cs->stream) != cudaSuccess) cudaGetLastError();
    if (cs->lt_workspace) d.scratch.free(cs->lt_workspace);
    if (cs->lt) cublasLtDestroy(cs->lt);
    d.scratch.retire_stream(cs->stream);
    cudaStreamDestroy(cs->stream);
  }
  delete cs;
}

rma_status stream_synchronize(rma_device dv, rma_stream s, rma_error* err) {
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  if (const cudaError_t e = cudaStreamSynchronize(stream_of(s)->stream); e != cudaSuccess) {
    cudaGetLastError();
    return fail(err, RMA_STATUS_DEVICE_ERROR,
                "%s: stream_synchronize: %s (%s); an earlier kernel failed (run with "
                "RMA_CUDA_SYNC=1 to name the op)",
                where(d).c_str(), cudaGetErrorName(e), cudaGetErrorString(e));
  }
  return RMA_STATUS_OK;
}

rma_status event_create(rma_device dv, rma_event* out, rma_error* err) {
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  cudaEvent_t e = nullptr;
  if (const cudaError_t st = cudaEventCreateWithFlags(&e, cudaEventDisableTiming);
      st != cudaSuccess) {
    cudaGetLastError();
    return cuda_fail(err, d, "cudaEventCreateWithFlags", st);
  }
  *out = reinterpret_cast<rma_event>(e);
  return RMA_STATUS_OK;
}

void event_destroy(rma_device dv, rma_event e) {
  if (!e) return;
  if (use_device(*dev_of(dv), nullptr) == RMA_STATUS_OK) cudaEventDestroy(event_of(e));
}

rma_status event_record(rma_device dv, rma_event e, rma_stream s, rma_error* err) {
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  if (const cudaError_t st = cudaEventRecord(event_of(e), stream_of(s)->stream);
      st != cudaSuccess) {
    cudaGetLastError();
    return cuda_fail(err, d, "event_record", st);
  }
  return RMA_STATUS_OK;
}

rma_status event_synchronize(rma_device dv, rma_event e, rma_error* err) {
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  // An event never recorded completes at once (CUDA's rule, and the ABI's).
  if (const cudaError_t st = cudaEventSynchronize(event_of(e)); st != cudaSuccess) {
    cudaGetLastError();
    return cuda_fail(err, d, "event_synchronize", st);
  }
  return RMA_STATUS_OK;
}

rma_status stream_wait_event(rma_device dv, rma_stream s, rma_event e, rma_error* err) {
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  if (const cudaError_t st = cudaStreamWaitEvent(stream_of(s)->stream, event_of(e), 0);
      st != cudaSuccess) {
    cudaGetLastError();
    return cuda_fail(err, d, "stream_wait_event", st);
  }
  return RMA_STATUS_OK;
}

// ----------------------------------------------------------------- copies
bool is_pinned(const void* host) {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, host) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeHost;
}

std::string copy_what(const char* kind, uint64_t bytes, uint64_t offset) {
  return std::string(kind) + " copy of " + std::to_string(bytes) + " bytes at offset " +
         std::to_string(offset);
}

// Pageable host memory goes through pinned chunks: the host copies into a
// chunk and the DMA runs asynchronously while the next chunk is filled.
rma_status copy_h2d(rma_device dv, rma_stream s, void* dst, uint64_t dst_off, const void* src,
                    uint64_t bytes, rma_error* err) {
  if (stream_of(s)->capture_scratch)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "cuda: copy_host_to_device while the stream is capturing (host copies cannot be replayed)");
  if (!bytes) return RMA_STATUS_OK;
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  cudaStream_t stream = stream_of(s)->stream;
  char* dev_dst = static_cast<char*>(dst) + dst_off;
  const char* host_src = static_cast<const char*>(src);
  auto failed = [&](cudaError_t e) {
    cudaGetLastError();
    return cuda_fail(err, d, copy_what("host-to-device", bytes, dst_off).c_str(), e);
  };
  if (is_pinned(src)) {
    const cudaError_t e = cudaMemcpyAsync(dev_dst, src, bytes, cudaMemcpyHostToDevice, stream);
    return e == cudaSuccess ? RMA_STATUS_OK : failed(e);
  }
  for (uint64_t done = 0; done < bytes;) {
    const uint64_t n = std::min<uint64_t>(bytes - done, PinnedStaging::kChunkBytes);
    PinnedStaging::Chunk* chunk = d.staging.acquire();
    if (!chunk) {  // no pinned memory: the driver stages it (the call blocks)
      const cudaError_t e = cudaMemcpyAsync(dev_dst + done, host_src + done, bytes - done,
                                            cudaMemcpyHostToDevice, stream);
      return e == cudaSuccess ? RMA_STATUS_OK : failed(e);
    }
    std::memcpy(chunk->host, host_src + done, n);
    const cudaError_t e =
        cudaMemcpyAsync(dev_dst + done, chunk->host, n, cudaMemcpyHostToDevice, stream);
    d.staging.release_after(chunk, stream);
    if (e != cudaSuccess) return failed(e);
    done += n;
  }
  return RMA_STATUS_OK;
}

// A chunk's bytes go to the caller's pageable memory from a host callback
// that runs once the device-to-host DMA into the chunk has completed.
struct CopyOut {
  void* dst;
  const void* src;
  uint64_t bytes;
};
void CUDART_CB copy_out(void* job) {
  auto* c = static_cast<CopyOut*>(job);
  std::memcpy(c->dst, c->src, c->bytes);
  delete c;
}

rma_status copy_d2h(rma_device dv, rma_stream s, void* dst, const void* src, uint64_t src_off,
                    uint64_t bytes, rma_error* err) {
  if (stream_of(s)->capture_scratch)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "cuda: copy_device_to_host while the stream is capturing (host copies cannot be replayed)");
  if (!bytes) return RMA_STATUS_OK;
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  cudaStream_t stream = stream_of(s)->stream;
  const char* dev_src = static_cast<const char*>(src) + src_off;
  char* host_dst = static_cast<char*>(dst);
  auto failed = [&](cudaError_t e) {
    cudaGetLastError();
    return cuda_fail(err, d, copy_what("device-to-host", bytes, src_off).c_str(), e);
  };
  if (is_pinned(dst)) {
    const cudaError_t e = cudaMemcpyAsync(dst, dev_src, bytes, cudaMemcpyDeviceToHost, stream);
    return e == cudaSuccess ? RMA_STATUS_OK : failed(e);
  }
  for (uint64_t done = 0; done < bytes;) {
    const uint64_t n = std::min<uint64_t>(bytes - done, PinnedStaging::kChunkBytes);
    PinnedStaging::Chunk* chunk = d.staging.acquire();
    if (!chunk) {  // pageable destination: the driver's copy blocks until done
      const cudaError_t e = cudaMemcpyAsync(host_dst + done, dev_src + done, bytes - done,
                                            cudaMemcpyDeviceToHost, stream);
      return e == cudaSuccess ? RMA_STATUS_OK : failed(e);
    }
    cudaError_t e = cudaMemcpyAsync(chunk->host, dev_src + done, n, cudaMemcpyDeviceToHost, stream);
    if (e == cudaSuccess) {
      auto* job = new CopyOut{host_dst + done, chunk->host, n};
      e = cudaLaunchHostFunc(stream, copy_out, job);
      if (e != cudaSuccess) {
        delete job;
        cudaGetLastError();
        // No callback: wait here and copy out ourselves.
        e = cudaStreamSynchronize(stream);
        if (e == cudaSuccess) std::memcpy(host_dst + done, chunk->host, n);
      }
    }
    d.staging.release_after(chunk, stream);
    if (e != cudaSuccess) return failed(e);
    done += n;
  }
  return RMA_STATUS_OK;
}

rma_status copy_d2d(rma_device dv, rma_stream s, void* dst, uint64_t dst_off, const void* src,
                    uint64_t src_off, uint64_t bytes, rma_error* err) {
  if (!bytes) return RMA_STATUS_OK;
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  const cudaError_t e =
      cudaMemcpyAsync(static_cast<char*>(dst) + dst_off, static_cast<const char*>(src) + src_off,
                      bytes, cudaMemcpyDeviceToDevice, stream_of(s)->stream);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return cuda_fail(err, d, copy_what("device-to-device", bytes, src_off).c_str(), e);
  }
  return RMA_STATUS_OK;
}

// ------------------------------------------------------ context services
rma_status scratch(const Context& ctx, size_t bytes, void** out, rma_error* err) {
  CallState& st = *ctx.state;
  CachingAllocator& from = scratch_of(*st.stream);
  void* p = from.allocate(bytes ? bytes : 1, ctx.stream);
  if (!p) {
    cudaGetLastError();
    return fail(err, RMA_STATUS_OUT_OF_MEMORY,
                "%s: %s: cannot allocate %llu bytes (%s) of scratch memory: out of memory; %s",
                where(ctx.dev).c_str(), op_label(st.op), static_cast<unsigned long long>(bytes),
                mib(bytes).c_str(), memory_report(ctx.dev).c_str());
  }
  st.scratch.push_back(p);
  *out = p;
  return RMA_STATUS_OK;
}

rma_status read_back(const Context& ctx, const void* src, size_t bytes, void* dst, rma_error* err) {
  if (!bytes) return RMA_STATUS_OK;
  cudaError_t e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx.stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(ctx.stream);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return fail(err, RMA_STATUS_DEVICE_ERROR,
                "%s: %s: reading %llu bytes of an index tensor: %s (%s)", where(ctx.dev).c_str(),
                op_label(ctx.state->op), static_cast<unsigned long long>(bytes),
                cudaGetErrorName(e), cudaGetErrorString(e));
  }
  return RMA_STATUS_OK;
}

// -------------------------------------------------------------------- ops
rma_status op_supported(rma_device dv, const rma_op_call* call, rma_error* err) {
  if (!call || call->struct_size < sizeof(rma_op_call))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "rma_op_call missing or too small");
  if (call->op < 0 || call->op >= RMA_OP_COUNT || !registry().supported[call->op])
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "the cuda backend has no kernel for op %d (%s; it runs the Tier-1 ops, see "
                "docs/cuda-backend.md)",
                call->op, op_label(call->op));
  return registry().supported[call->op](*dev_of(dv), *call, err);
}

rma_status op_run(rma_device dv, rma_stream s, const rma_op_call* call, rma_error* err) {
  const rma_status supported = op_supported(dv, call, err);
  if (supported != RMA_STATUS_OK) return supported;
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  CallState state;
  state.stream = stream_of(s);
  state.op = call->op;
  const Context ctx{d, state.stream->stream, scratch, read_back, &state};
  const rma_status st = registry().run[call->op](ctx, *call, err);
  // Stream-ordered: the next request on this stream may reuse the blocks
  // at once, since its work runs after this op's.
  for (void* p : state.scratch) scratch_of(*state.stream).free(p);
  return st;
}

// ---------------------------------------------------------------- capture
// CUDA graphs: the stream is captured in relaxed mode (so an op may still
// allocate its scratch with cudaMalloc), instantiated once, and launched as
// one unit. Index read-backs are skipped while capturing (the kernels then
// bound-check instead; see ops/fill_kv_cache/index_tensors.cuh).
rma_status capture_begin(rma_device dv, rma_stream s, rma_error* err) {
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  CudaStream& cs = *stream_of(s);
  if (cs.capture_scratch)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: the stream is already capturing",
                where(d).c_str());
  if (const cudaError_t e = cudaStreamBeginCapture(cs.stream, cudaStreamCaptureModeRelaxed);
      e != cudaSuccess) {
    cudaGetLastError();
    return cuda_fail(err, d, "cudaStreamBeginCapture", e);
  }
  cs.capture_scratch = std::make_unique<CachingAllocator>(d.allocator_backend);
  return RMA_STATUS_OK;
}

rma_status capture_end(rma_device dv, rma_stream s, rma_capture* out, uint64_t* num_ops,
                       rma_error* err) {
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  CudaStream& cs = *stream_of(s);
  if (!cs.capture_scratch)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "%s: the stream is not capturing",
                where(d).c_str());
  auto capture = std::make_unique<CudaCapture>();
  capture->scratch = std::move(cs.capture_scratch);
  cudaGraph_t graph = nullptr;
  if (const cudaError_t e = cudaStreamEndCapture(cs.stream, &graph); e != cudaSuccess) {
    cudaGetLastError();
    capture->scratch->release_cached();
    return cuda_fail(err, d, "cudaStreamEndCapture (an op in the capture failed or is not capturable)", e);
  }
  size_t nodes = 0;
  cudaError_t e = cudaGraphGetNodes(graph, nullptr, &nodes);
  if (e == cudaSuccess) e = cudaGraphInstantiate(&capture->exec, graph, 0);
  cudaGraphDestroy(graph);
  if (e != cudaSuccess) {
    cudaGetLastError();
    capture->scratch->release_cached();
    return cuda_fail(err, d, "cudaGraphInstantiate", e);
  }
  *num_ops = nodes;
  *out = reinterpret_cast<rma_capture>(capture.release());
  return RMA_STATUS_OK;
}

rma_status capture_launch(rma_device dv, rma_stream s, rma_capture c, rma_error* err) {
  CudaDevice& d = *dev_of(dv);
  if (rma_status st = use_device(d, err)) return st;
  if (const cudaError_t e =
          cudaGraphLaunch(reinterpret_cast<CudaCapture*>(c)->exec, stream_of(s)->stream);
      e != cudaSuccess) {
    cudaGetLastError();
    return cuda_fail(err, d, "cudaGraphLaunch", e);
  }
  return RMA_STATUS_OK;
}

void capture_destroy(rma_device dv, rma_capture c) {
  auto* capture = reinterpret_cast<CudaCapture*>(c);
  if (!capture) return;
  if (use_device(*dev_of(dv), nullptr) == RMA_STATUS_OK) {
    if (capture->exec) cudaGraphExecDestroy(capture->exec);
    capture->scratch->release_cached();  // waits for the device first
  }
  delete capture;
}

void shutdown() {
  for (auto& d : devices()) {
    if (use_device(*d, nullptr) != RMA_STATUS_OK) continue;
    const AllocatorStats s = d->scratch.stats();
    plugin_log(RMA_LOG_DEBUG, where(*d) + ": scratch peak " + mib(s.peak_bytes_in_use) + ", " +
                                  std::to_string(s.device_allocs) + " device allocations, " +
                                  std::to_string(s.cache_hits) + " cache hits; buffers peak " +
                                  mib(d->buffer_peak));
    d->scratch.release_cached();
    d->staging.free_all();
  }
  g_host = nullptr;
}

rma_plugin_api make_api() {
  rma_plugin_api a{};
  a.struct_size = sizeof(a);
  a.abi_version = RMA_ABI_VERSION;
  a.name = "cuda";
  a.version = "0.1.0";
  a.shutdown = shutdown;
  a.device_count = device_count;
  a.device_open = device_open;
  a.device_close = device_close;
  a.device_get_info = device_get_info;
  a.buffer_alloc = buffer_alloc;
  a.buffer_free = buffer_free;
  a.buffer_host_ptr = buffer_host_ptr;
  a.stream_create = stream_create;
  a.stream_destroy = stream_destroy;
  a.stream_synchronize = stream_synchronize;
  a.event_create = event_create;
  a.event_destroy = event_destroy;
  a.event_record = event_record;
  a.event_synchronize = event_synchronize;
  a.stream_wait_event = stream_wait_event;
  a.copy_host_to_device = copy_h2d;
  a.copy_device_to_host = copy_d2h;
  a.copy_device_to_device = copy_d2d;
  a.op_supported = op_supported;
  a.op_run = op_run;
  a.capture_begin = capture_begin;
  a.capture_end = capture_end;
  a.capture_launch = capture_launch;
  a.capture_destroy = capture_destroy;
  return a;
}

}  // namespace

// ------------------------------------------------------- allocator backend
void* CudaAllocatorBackend::device_alloc(uint64_t bytes) {
  void* p = nullptr;
  if (cudaMalloc(&p, bytes) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return p;
}

void CudaAllocatorBackend::device_free(void* ptr) {
  if (cudaFree(ptr) != cudaSuccess) cudaGetLastError();
}

void CudaAllocatorBackend::synchronize() {
  if (cudaDeviceSynchronize() != cudaSuccess) cudaGetLastError();
}

// ---------------------------------------------------------- pinned staging
PinnedStaging::~PinnedStaging() = default;  // chunks are freed by free_all()

PinnedStaging::Chunk* PinnedStaging::acquire() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : chunks_) {
    if (c->busy) continue;
    bool idle = !c->in_flight;
    if (!idle) {
      const cudaError_t e = cudaEventQuery(c->done);
      idle = e == cudaSuccess;
      if (e != cudaSuccess && e != cudaErrorNotReady) cudaGetLastError();
    }
    if (idle) {
      c->in_flight = false;
      c->busy = true;
      return c.get();
    }
  }
  if (chunks_.size() < size_t(kMaxChunks)) {
    auto c = std::make_unique<Chunk>();
    if (cudaHostAlloc(&c->host, kChunkBytes, cudaHostAllocDefault) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    if (cudaEventCreateWithFlags(&c->done, cudaEventDisableTiming) != cudaSuccess) {
      cudaGetLastError();
      cudaFreeHost(c->host);
      return nullptr;
    }
    c->busy = true;
    chunks_.push_back(std::move(c));
    return chunks_.back().get();
  }
  // All in flight: wait for one (round robin approximates the oldest).
  for (size_t i = 0; i < chunks_.size(); ++i) {
    Chunk* c = chunks_[(next_wait_ + i) % chunks_.size()].get();
    if (c->busy) continue;
    next_wait_ = (next_wait_ + i + 1) % chunks_.size();
    if (cudaEventSynchronize(c->done) != cudaSuccess) cudaGetLastError();
    c->in_flight = false;
    c->busy = true;
    return c;
  }
  return nullptr;  // every chunk is being filled by other threads
}

void PinnedStaging::release_after(Chunk* chunk, cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(mu_);
  chunk->busy = false;
  if (cudaEventRecord(chunk->done, stream) != cudaSuccess) {
    // Without an event to wait on, wait for the stream itself.
    cudaGetLastError();
    if (cudaStreamSynchronize(stream) != cudaSuccess) cudaGetLastError();
    chunk->in_flight = false;
    return;
  }
  chunk->in_flight = true;
}

void PinnedStaging::free_all() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : chunks_) {
    if (c->done) {
      cudaEventSynchronize(c->done);
      cudaEventDestroy(c->done);
    }
    if (c->host) cudaFreeHost(c->host);
  }
  chunks_.clear();
}

// ------------------------------------------------------------ shared helpers
rma_status use_device(const CudaDevice& dev, rma_error* err) {
  int current = -1;
  if (cudaGetDevice(&current) == cudaSuccess && current == dev.ordinal) return RMA_STATUS_OK;
  if (const cudaError_t e = cudaSetDevice(dev.ordinal); e != cudaSuccess) {
    cudaGetLastError();
    return cuda_fail(err, dev, "cudaSetDevice", e);
  }
  return RMA_STATUS_OK;
}

rma_status cublaslt_of(const Context& ctx, cublasLtHandle_t* handle, void** workspace,
                       uint64_t* workspace_bytes, rma_error* err) {
  CudaStream& s = *ctx.state->stream;
  if (!s.lt) {
    if (const char* why = cublaslt_load_error())
      return fail(err, RMA_STATUS_DEVICE_ERROR, "%s: %s", where(ctx.dev).c_str(), why);
    if (const cublasStatus_t st = cublasLtCreate(&s.lt); st != CUBLAS_STATUS_SUCCESS) {
      s.lt = nullptr;
      return fail(err, RMA_STATUS_DEVICE_ERROR, "%s: cublasLtCreate: %s", where(ctx.dev).c_str(),
                  cublasLtGetStatusString(st));
    }
    // cuBLAS asks for 32 MiB on Hopper, 4 MiB before; without it (memory
    // short) fewer algorithms qualify, nothing fails.
    const uint64_t want = ctx.dev.cc_major >= 9 ? (32ull << 20) : (4ull << 20);
    s.lt_workspace = ctx.dev.scratch.allocate(want, s.stream);
    s.lt_workspace_bytes = s.lt_workspace ? want : 0;
  }
  *handle = s.lt;
  *workspace = s.lt_workspace;
  *workspace_bytes = s.lt_workspace_bytes;
  return RMA_STATUS_OK;
}

const char* op_label(int32_t op) {
  static const char* const kNames[] = {"linear",
                                                   "quant_linear",
                                                   "rms_norm",
                                                   "add_rms_norm",
                                                   "layer_norm",
                                                   "rope",
                                                   "fill_kv_cache",
                                                   "prefill_attention",
                                                   "paged_decode_attention",
                                                   "silu_and_mul",
                                                   "gelu_and_mul",
                                                   "embedding",
                                                   "moe_gating_topk_softmax",
                                                   "sample",
                                                   "softmax",
                                                   "add",
                                                   "mul",
                                                   "unary",
                                                   "binary",
                                                   "matmul",
                                                   "reduce",
                                                   "cast",
                                                   "where",
                                                   "gather",
                                                   "concat",
                                                   "slice",
                                                   "transpose",
                                                   "expand",
                                                   "conv2d",
                                                   "pool2d"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == RMA_OP_COUNT, "one name per op");
  return op >= 0 && op < RMA_OP_COUNT ? kNames[op] : "unknown op";
}

bool register_op(rma_op op, SupportedFn supported, RunFn run) {
  registry().supported[op] = supported;
  registry().run[op] = run;
  return true;
}

int compute_capability(const CudaDevice& dev) { return dev.cc_major * 10 + dev.cc_minor; }
const char* device_name(const CudaDevice& dev) { return dev.name.c_str(); }
int multiprocessor_count(const CudaDevice& dev) { return dev.sm_count; }
size_t shared_memory_per_block_optin(const CudaDevice& dev) { return dev.shared_memory_optin; }

const char* dtype_label(int32_t dt) {
  return is_valid(dt) ? kDTypeInfo[dt].name.data() : "invalid";
}

std::string describe_call(const rma_op_call& call) {
  auto describe = [](const rma_tensor& t) {
    if (t.ndim < 0) return std::string("absent");
    std::string s = dtype_label(t.dtype);
    s += '[';
    for (int i = 0; i < t.ndim; ++i) {
      if (i) s += ',';
      s += std::to_string(t.shape[i]);
    }
    return s + ']';
  };
  std::string s = "inputs ";
  for (int i = 0; i < call.num_inputs; ++i) {
    if (i) s += ", ";
    s += describe(call.inputs[i]);
  }
  s += "; outputs ";
  for (int i = 0; i < call.num_outputs; ++i) {
    if (i) s += ", ";
    s += describe(call.outputs[i]);
  }
  return s;
}

rma_status check_launch(const char* op, const rma_op_call& call, rma_error* err) {
  cudaError_t e = cudaGetLastError();
  // RMA_CUDA_SYNC=1 waits after every kernel, so a fault inside one is
  // reported here, naming the op, rather than at the next synchronisation.
  static const bool sync_each = [] {
    const char* v = std::getenv("RMA_CUDA_SYNC");
    return v && std::strcmp(v, "0") != 0 && *v;
  }();
  if (e == cudaSuccess && sync_each) {
    e = cudaDeviceSynchronize();
    if (e != cudaSuccess) cudaGetLastError();
  }
  if (e == cudaSuccess) return RMA_STATUS_OK;
  return fail(err, RMA_STATUS_DEVICE_ERROR, "cuda: %s: kernel failed: %s (%s); %s", op,
              cudaGetErrorName(e), cudaGetErrorString(e), describe_call(call).c_str());
}

}  // namespace rma::cuda

extern "C" RMA_PLUGIN_EXPORT rma_status rma_plugin_open(uint32_t core_abi_version,
                                                        const rma_host_api* host,
                                                        const rma_plugin_api** out,
                                                        rma_error* err) {
  using namespace rma::cuda;
  if (core_abi_version < RMA_ABI_MIN_VERSION)
    return fail(err, RMA_STATUS_ABI_MISMATCH,
                "cuda plugin implements ABI v%u; the core speaks up to v%u", RMA_ABI_VERSION,
                core_abi_version);
  g_host = host;
  if (devices().empty()) {
    const std::string why = enumerate_devices();
    if (!why.empty()) return fail(err, RMA_STATUS_NOT_FOUND, "cuda: %s", why.c_str());
  }
  static const rma_plugin_api api = make_api();
  *out = &api;
  return RMA_STATUS_OK;
}
