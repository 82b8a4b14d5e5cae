// The OpenCL backend: every device of every OpenCL platform, buffers as
// cl_mem, streams as in-order command queues, events as markers, and the
// op modules under ops/ that registered themselves with register_op().
#include <CL/cl_ext.h>

#include <array>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/cl_device.h"
#include "rma/dtype.h"

namespace rma::opencl {
namespace {

struct Registry {
  std::array<SupportedFn, RMA_OP_COUNT> supported{};
  std::array<RunFn, RMA_OP_COUNT> run{};
  std::array<const PreparedFns*, RMA_OP_COUNT> prepared{};
  std::map<std::string, const char*> sources;
};
Registry& registry() {
  static Registry r;
  return r;
}

const rma_host_api* g_host = nullptr;
std::vector<std::unique_ptr<ClDevice>> g_devices;  // by index, filled at open

struct ClStream {
  cl_command_queue queue = nullptr;
};
struct ClEvent {
  cl_event event = nullptr;  // the last recorded marker; null before any record
};

ClDevice* dev_of(rma_device d) { return reinterpret_cast<ClDevice*>(d); }
ClStream* stream_of(rma_stream s) { return reinterpret_cast<ClStream*>(s); }
ClEvent* event_of(rma_event e) { return reinterpret_cast<ClEvent*>(e); }

std::string device_string(cl_device_id id, cl_device_info what) {
  size_t n = 0;
  if (clGetDeviceInfo(id, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return "";
  std::string s(n, '\0');
  clGetDeviceInfo(id, what, n, s.data(), nullptr);
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}
template <class T>
T device_value(cl_device_id id, cl_device_info what) {
  T v{};
  clGetDeviceInfo(id, what, sizeof(v), &v, nullptr);
  return v;
}

// Finds every device of every platform. Returns a one-line reason when
// there is none.
std::string enumerate_devices() {
  cl_uint num_platforms = 0;
  cl_int st = clGetPlatformIDs(0, nullptr, &num_platforms);
  if (st != CL_SUCCESS || num_platforms == 0)
    return std::string("no OpenCL platform found (clGetPlatformIDs: ") +
           (st == CL_SUCCESS ? "0 platforms" : cl_error_name(st)) +
           "); install an ICD such as pocl-opencl-icd";
  std::vector<cl_platform_id> platforms(num_platforms);
  clGetPlatformIDs(num_platforms, platforms.data(), nullptr);
  for (cl_platform_id p : platforms) {
    cl_uint n = 0;
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &n) != CL_SUCCESS || n == 0) continue;
    std::vector<cl_device_id> ids(n);
    clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, n, ids.data(), nullptr);
    for (cl_device_id id : ids) {
      auto d = std::make_unique<ClDevice>();
      d->platform = p;
      d->id = id;
      d->name = device_string(id, CL_DEVICE_NAME);
      d->vendor = device_string(id, CL_DEVICE_VENDOR);
      d->driver_version = device_string(id, CL_DRIVER_VERSION);
      d->version = device_string(id, CL_DEVICE_VERSION);
      d->extensions = device_string(id, CL_DEVICE_EXTENSIONS);
      d->type = device_value<cl_device_type>(id, CL_DEVICE_TYPE);
      d->compute_units = device_value<cl_uint>(id, CL_DEVICE_MAX_COMPUTE_UNITS);
      d->global_mem = device_value<cl_ulong>(id, CL_DEVICE_GLOBAL_MEM_SIZE);
      d->max_alloc = device_value<cl_ulong>(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
      g_devices.push_back(std::move(d));
    }
  }
  if (g_devices.empty())
    return "OpenCL platforms present (" + std::to_string(num_platforms) + ") but no devices";
  return "";
}

// ---------------------------------------------------------------- devices
int32_t device_count() { return static_cast<int32_t>(g_devices.size()); }

rma_status device_open(int32_t index, rma_device* out, rma_error* err) {
  if (index < 0 || index >= device_count())
    return fail(err, RMA_STATUS_NOT_FOUND, "opencl has %d device(s), asked for %d", device_count(),
                index);
  ClDevice& d = *g_devices[size_t(index)];
  std::lock_guard<std::mutex> lock(d.mu);
  if (!d.context) {
    const cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                           reinterpret_cast<cl_context_properties>(d.platform), 0};
    cl_int st = CL_SUCCESS;
    d.context = clCreateContext(props, 1, &d.id, nullptr, nullptr, &st);
    if (st != CL_SUCCESS || !d.context) {
      d.context = nullptr;
      return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl:%d (%s): clCreateContext: %s", index,
                  d.name.c_str(), cl_error_name(st));
    }
  }
  *out = reinterpret_cast<rma_device>(&d);
  return RMA_STATUS_OK;
}

void device_close(rma_device) {}  // contexts live until shutdown

rma_status device_get_info(rma_device dv, rma_device_info* out, rma_error* err) {
  if (!out || out->struct_size < sizeof(rma_device_info))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "rma_device_info too small");
  ClDevice& d = *dev_of(dv);
  std::snprintf(out->name, sizeof(out->name), "%s", d.name.c_str());
  std::snprintf(out->vendor, sizeof(out->vendor), "%s", d.vendor.c_str());
  std::snprintf(out->driver_version, sizeof(out->driver_version), "%s", d.driver_version.c_str());
  std::snprintf(out->arch, sizeof(out->arch), "%s", d.version.c_str());
  // Types as the driver says: a CPU OpenCL device (PoCL) is a CPU. `auto`
  // never prefers a CPU-type device over an accelerator, and falls back to
  // the host cpu backend first (it shares host memory; this one does not).
  if (d.type & CL_DEVICE_TYPE_GPU)
    out->type = RMA_DEVICE_GPU;
  else if (d.type & CL_DEVICE_TYPE_ACCELERATOR)
    out->type = RMA_DEVICE_OTHER;
  else if (d.type & CL_DEVICE_TYPE_CPU)
    out->type = RMA_DEVICE_CPU;
  else
    out->type = RMA_DEVICE_OTHER;
  out->compute_units = static_cast<int32_t>(d.compute_units);
  out->memory_total = d.global_mem;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    // OpenCL has no portable free-memory query: report what we have not
    // handed out.
    out->memory_free = d.global_mem > d.bytes_allocated ? d.global_mem - d.bytes_allocated : 0;
  }
  // f16 and bf16 tensors run on every device: stored in those dtypes,
  // computed in f32 (common/kernels/dtype.cl), so cl_khr_fp16 is not needed.
  out->capabilities = RMA_CAP_OP_KERNELS | RMA_CAP_ASYNC | RMA_CAP_F16 | RMA_CAP_BF16;
  return RMA_STATUS_OK;
}

// ----------------------------------------------------------------- memory
rma_status buffer_alloc(rma_device dv, uint64_t size, uint64_t, void** out, rma_error* err) {
  ClDevice& d = *dev_of(dv);
  // clCreateBuffer rejects size 0; a zero-byte tensor still needs a handle.
  const uint64_t bytes = size ? size : 64;
  uint64_t in_use;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    in_use = d.bytes_allocated;
  }
  auto oom = [&](const char* why) {
    const uint64_t free_bytes = d.global_mem > in_use ? d.global_mem - in_use : 0;
    return fail(err, RMA_STATUS_OUT_OF_MEMORY,
                "opencl (%s): cannot allocate %llu bytes: %s; device memory %llu bytes free of "
                "%llu total (largest single allocation %llu)",
                d.name.c_str(), static_cast<unsigned long long>(size), why,
                static_cast<unsigned long long>(free_bytes),
                static_cast<unsigned long long>(d.global_mem),
                static_cast<unsigned long long>(d.max_alloc));
  };
  if (bytes > d.max_alloc) return oom("larger than CL_DEVICE_MAX_MEM_ALLOC_SIZE");
  if (in_use + bytes > d.global_mem) return oom("exceeds the device's global memory");
  cl_int st = CL_SUCCESS;
  cl_mem m = clCreateBuffer(d.context, CL_MEM_READ_WRITE, bytes, nullptr, &st);
  if (st != CL_SUCCESS || !m) return oom(cl_error_name(st));
  std::lock_guard<std::mutex> lock(d.mu);
  d.bytes_allocated += bytes;
  d.buffer_sizes[m] = bytes;
  *out = m;
  return RMA_STATUS_OK;
}

void buffer_free(rma_device dv, void* buffer) {
  if (!buffer) return;
  ClDevice& d = *dev_of(dv);
  {
    std::lock_guard<std::mutex> lock(d.mu);
    auto it = d.buffer_sizes.find(buffer);
    if (it != d.buffer_sizes.end()) {
      d.bytes_allocated -= it->second;
      d.buffer_sizes.erase(it);
    }
  }
  clReleaseMemObject(static_cast<cl_mem>(buffer));
}

void* buffer_host_ptr(rma_device, void*) { return nullptr; }

// ---------------------------------------------------------- streams/events
rma_status stream_create(rma_device dv, rma_stream* out, rma_error* err) {
  ClDevice& d = *dev_of(dv);
  cl_int st = CL_SUCCESS;
  // In-order (no CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE): commands on one
  // stream run in submission order, which is the ABI's stream contract.
  cl_command_queue q = clCreateCommandQueue(d.context, d.id, 0, &st);
  if (st != CL_SUCCESS || !q)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): clCreateCommandQueue: %s",
                d.name.c_str(), cl_error_name(st));
  *out = reinterpret_cast<rma_stream>(new ClStream{q});
  return RMA_STATUS_OK;
}

void stream_destroy(rma_device, rma_stream s) {
  ClStream* cs = stream_of(s);
  if (!cs) return;
  clFinish(cs->queue);
  clReleaseCommandQueue(cs->queue);
  delete cs;
}

rma_status stream_synchronize(rma_device dv, rma_stream s, rma_error* err) {
  const cl_int st = clFinish(stream_of(s)->queue);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): clFinish: %s", dev_of(dv)->name.c_str(),
                cl_error_name(st));
  return RMA_STATUS_OK;
}

rma_status event_create(rma_device, rma_event* out, rma_error*) {
  *out = reinterpret_cast<rma_event>(new ClEvent{});
  return RMA_STATUS_OK;
}

void event_destroy(rma_device, rma_event e) {
  ClEvent* ce = event_of(e);
  if (!ce) return;
  if (ce->event) clReleaseEvent(ce->event);
  delete ce;
}

rma_status event_record(rma_device dv, rma_event e, rma_stream s, rma_error* err) {
  ClEvent* ce = event_of(e);
  cl_event marker = nullptr;
  cl_int st = clEnqueueMarkerWithWaitList(stream_of(s)->queue, 0, nullptr, &marker);
  // Flush so the marker reaches the device even if nobody waits on this
  // queue: another stream may wait on the event.
  if (st == CL_SUCCESS) st = clFlush(stream_of(s)->queue);
  if (st != CL_SUCCESS) {
    if (marker) clReleaseEvent(marker);
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): event_record: %s",
                dev_of(dv)->name.c_str(), cl_error_name(st));
  }
  if (ce->event) clReleaseEvent(ce->event);
  ce->event = marker;
  return RMA_STATUS_OK;
}

rma_status event_synchronize(rma_device dv, rma_event e, rma_error* err) {
  ClEvent* ce = event_of(e);
  if (!ce->event) return RMA_STATUS_OK;  // never recorded: nothing to wait for
  const cl_int st = clWaitForEvents(1, &ce->event);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): clWaitForEvents: %s",
                dev_of(dv)->name.c_str(), cl_error_name(st));
  return RMA_STATUS_OK;
}

rma_status stream_wait_event(rma_device dv, rma_stream s, rma_event e, rma_error* err) {
  ClEvent* ce = event_of(e);
  if (!ce->event) return RMA_STATUS_OK;
  const cl_int st = clEnqueueBarrierWithWaitList(stream_of(s)->queue, 1, &ce->event, nullptr);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): stream_wait_event: %s",
                dev_of(dv)->name.c_str(), cl_error_name(st));
  return RMA_STATUS_OK;
}

// ----------------------------------------------------------------- copies
// Non-blocking: ordered by the in-order queue; the ABI asks callers to keep
// host memory alive until the stream is synchronised.
rma_status copy_h2d(rma_device dv, rma_stream s, void* dst, uint64_t dst_off, const void* src,
                    uint64_t bytes, rma_error* err) {
  if (!bytes) return RMA_STATUS_OK;
  const cl_int st = clEnqueueWriteBuffer(stream_of(s)->queue, static_cast<cl_mem>(dst), CL_FALSE,
                                         dst_off, bytes, src, 0, nullptr, nullptr);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR,
                "opencl (%s): host-to-device copy of %llu bytes at offset %llu: %s",
                dev_of(dv)->name.c_str(), static_cast<unsigned long long>(bytes),
                static_cast<unsigned long long>(dst_off), cl_error_name(st));
  return RMA_STATUS_OK;
}

rma_status copy_d2h(rma_device dv, rma_stream s, void* dst, const void* src, uint64_t src_off,
                    uint64_t bytes, rma_error* err) {
  if (!bytes) return RMA_STATUS_OK;
  const cl_int st =
      clEnqueueReadBuffer(stream_of(s)->queue, static_cast<cl_mem>(const_cast<void*>(src)),
                          CL_FALSE, src_off, bytes, dst, 0, nullptr, nullptr);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR,
                "opencl (%s): device-to-host copy of %llu bytes at offset %llu: %s",
                dev_of(dv)->name.c_str(), static_cast<unsigned long long>(bytes),
                static_cast<unsigned long long>(src_off), cl_error_name(st));
  return RMA_STATUS_OK;
}

rma_status copy_d2d(rma_device dv, rma_stream s, void* dst, uint64_t dst_off, const void* src,
                    uint64_t src_off, uint64_t bytes, rma_error* err) {
  if (!bytes) return RMA_STATUS_OK;
  const cl_int st =
      clEnqueueCopyBuffer(stream_of(s)->queue, static_cast<cl_mem>(const_cast<void*>(src)),
                          static_cast<cl_mem>(dst), src_off, dst_off, bytes, 0, nullptr, nullptr);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR,
                "opencl (%s): device-to-device copy of %llu bytes: %s", dev_of(dv)->name.c_str(),
                static_cast<unsigned long long>(bytes), cl_error_name(st));
  return RMA_STATUS_OK;
}

// -------------------------------------------------------------------- ops
rma_status op_supported(rma_device dv, const rma_op_call* call, rma_error* err) {
  if (!call || call->struct_size < sizeof(rma_op_call))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "rma_op_call missing or too small");
  if (call->op < 0 || call->op >= RMA_OP_COUNT || !registry().supported[call->op])
    return fail(err, RMA_STATUS_UNSUPPORTED,
                "the opencl backend has no kernel for op %d (a newer ABI? see "
                "docs/opencl-backend.md)",
                call->op);
  return registry().supported[call->op](*dev_of(dv), *call, err);
}

rma_status op_run(rma_device dv, rma_stream s, const rma_op_call* call, rma_error* err) {
  const rma_status st = op_supported(dv, call, err);
  if (st != RMA_STATUS_OK) return st;
  const Context ctx{*dev_of(dv), stream_of(s)->queue};
  return registry().run[call->op](ctx, *call, err);
}

// ------------------------------------------------------------ prepared ops
struct PreparedHandle {
  rma_op op;
  void* module_object;
};

// A queue of the plugin's own for work outside any stream (prepare/import).
struct OwnQueue {
  cl_command_queue queue = nullptr;
  ~OwnQueue() {
    if (queue) clReleaseCommandQueue(queue);
  }
};

rma_status own_queue(ClDevice& dev, OwnQueue* q, rma_error* err) {
  cl_int st = CL_SUCCESS;
  q->queue = clCreateCommandQueue(dev.context, dev.id, 0, &st);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): command queue: %s", dev.name.c_str(),
                cl_error_name(st));
  return RMA_STATUS_OK;
}

rma_status op_prepare(rma_device dv, const rma_op_call* call, uint64_t const_inputs,
                      rma_prepared_op* out, rma_error* err) {
  *out = nullptr;
  if (rma_status st = op_supported(dv, call, err)) return st;
  const PreparedFns* fns = registry().prepared[call->op];
  if (!fns) return RMA_STATUS_OK;
  OwnQueue q;
  if (rma_status st = own_queue(*dev_of(dv), &q, err)) return st;
  void* object = nullptr;
  const Context ctx{*dev_of(dv), q.queue};
  const rma_status st = fns->prepare(ctx, *call, const_inputs, &object, err);
  clFinish(q.queue);
  if (st != RMA_STATUS_OK) return st;
  if (object)
    *out = reinterpret_cast<rma_prepared_op>(
        new PreparedHandle{static_cast<rma_op>(call->op), object});
  return RMA_STATUS_OK;
}

rma_status prepared_run(rma_device dv, rma_stream s, rma_prepared_op op, const rma_op_call* call,
                        rma_error* err) {
  const auto* h = reinterpret_cast<const PreparedHandle*>(op);
  if (call->op != h->op)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                "opencl: a prepared op run with another op's call");
  if (rma_status st = op_supported(dv, call, err)) return st;
  const Context ctx{*dev_of(dv), stream_of(s)->queue};
  return registry().prepared[h->op]->run(ctx, h->module_object, *call, err);
}

rma_status prepared_export(rma_device, rma_prepared_op op, rma_blob* out, rma_error* err) {
  const auto* h = reinterpret_cast<const PreparedHandle*>(op);
  std::vector<uint8_t> bytes;
  if (rma_status st = registry().prepared[h->op]->serialize(h->module_object, &bytes, err))
    return st;
  out->data = std::malloc(bytes.empty() ? 1 : bytes.size());
  if (!out->data)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, "opencl: no memory for a %zu-byte export",
                bytes.size());
  std::memcpy(out->data, bytes.data(), bytes.size());
  out->size = bytes.size();
  return RMA_STATUS_OK;
}

rma_status prepared_import(rma_device dv, const rma_op_call* call, uint64_t, const void* data,
                           uint64_t size, rma_prepared_op* out, rma_error* err) {
  *out = nullptr;
  if (rma_status st = op_supported(dv, call, err)) return st;
  const PreparedFns* fns = registry().prepared[call->op];
  if (!fns) return fail(err, RMA_STATUS_UNSUPPORTED, "opencl: this op has no prepared form");
  OwnQueue q;
  if (rma_status st = own_queue(*dev_of(dv), &q, err)) return st;
  void* object = nullptr;
  const Context ctx{*dev_of(dv), q.queue};
  const rma_status st =
      fns->deserialize(ctx, *call, static_cast<const uint8_t*>(data), size, &object, err);
  clFinish(q.queue);
  if (st != RMA_STATUS_OK) return st;
  *out =
      reinterpret_cast<rma_prepared_op>(new PreparedHandle{static_cast<rma_op>(call->op), object});
  return RMA_STATUS_OK;
}

void prepared_destroy(rma_device, rma_prepared_op op) {
  auto* h = reinterpret_cast<PreparedHandle*>(op);
  if (!h) return;
  registry().prepared[h->op]->destroy(h->module_object);
  delete h;
}

void shutdown() {
  for (auto& d : g_devices) {
    for (auto& [key, p] : d->programs) clReleaseProgram(p);
    if (d->context) clReleaseContext(d->context);
  }
  g_devices.clear();
  g_host = nullptr;
}

rma_plugin_api make_api() {
  rma_plugin_api a{};
  a.struct_size = sizeof(a);
  a.abi_version = RMA_ABI_VERSION;
  a.name = "opencl";
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
  a.blob_free = free_blob;
  a.kernels_export = [](rma_device d, rma_blob* out, rma_error* err) {
    return export_binaries(*dev_of(d), out, err);
  };
  a.kernels_import = [](rma_device d, const void* data, uint64_t size, rma_error* err) {
    return import_binaries(*dev_of(d), data, size, err);
  };
  a.op_prepare = op_prepare;
  a.prepared_run = prepared_run;
  a.prepared_export = prepared_export;
  a.prepared_import = prepared_import;
  a.prepared_destroy = prepared_destroy;
  return a;
}

}  // namespace

// ------------------------------------------------------------ shared helpers
void log(int32_t level, const std::string& message) {
  if (g_host && g_host->struct_size >= offsetof(rma_host_api, log) + sizeof(g_host->log) &&
      g_host->log)
    g_host->log(level, "opencl", message.c_str());
}

std::string cache_root() {
  const char* enabled = std::getenv("RM_CACHE_ENABLED");
  if (enabled && std::strcmp(enabled, "0") == 0) return "";
  if (!g_host ||
      g_host->struct_size < offsetof(rma_host_api, cache_dir) + sizeof(g_host->cache_dir) ||
      !g_host->cache_dir)
    return "";
  return g_host->cache_dir;
}

bool register_op(rma_op op, SupportedFn supported, RunFn run) {
  registry().supported[op] = supported;
  registry().run[op] = run;
  return true;
}

bool register_prepared(rma_op op, const PreparedFns& fns) {
  registry().prepared[op] = &fns;
  return true;
}

bool register_source(const char* name, const char* source) {
  registry().sources[name] = source;
  return true;
}

const char* find_source(const std::string& name) {
  auto it = registry().sources.find(name);
  return it == registry().sources.end() ? nullptr : it->second;
}

const char* dtype_label(int32_t dt) {
  return is_valid(dt) ? kDTypeInfo[dt].name.data() : "invalid";
}

rma_status get_kernel(ClDevice& dev, const std::string& source_name, const char* kernel,
                      const std::string& options, cl_kernel* out, rma_error* err) {
  const std::string key = source_name + "\n" + options;
  cl_program program = nullptr;
  {
    // One lock around the build: two threads asking for one program build
    // it once. Builds happen once per program and process.
    std::lock_guard<std::mutex> lock(dev.mu);
    auto it = dev.programs.find(key);
    if (it != dev.programs.end()) {
      program = it->second;
    } else {
      const char* src = find_source(source_name);
      if (!src)
        return fail(err, RMA_STATUS_INTERNAL, "opencl: no embedded kernel source '%s'",
                    source_name.c_str());
      if (rma_status st = build_program(dev, source_name, src, options, &program, err)) return st;
      dev.programs[key] = program;
    }
  }
  // A fresh cl_kernel per launch: kernel arguments are per-object state and
  // several streams may launch one kernel concurrently.
  cl_int st = CL_SUCCESS;
  *out = clCreateKernel(program, kernel, &st);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): clCreateKernel(%s) from '%s': %s",
                dev.name.c_str(), kernel, source_name.c_str(), cl_error_name(st));
  return RMA_STATUS_OK;
}

rma_status launch(const Context& ctx, cl_kernel kernel, const char* op, cl_int arg_status,
                  cl_uint dims, const size_t* global, const size_t* local, rma_error* err) {
  cl_int st = arg_status;
  if (st == CL_SUCCESS) {
    size_t g[3] = {1, 1, 1};
    for (cl_uint i = 0; i < dims; ++i)
      g[i] = local ? (global[i] + local[i] - 1) / local[i] * local[i] : global[i];
    st = clEnqueueNDRangeKernel(ctx.queue, kernel, dims, nullptr, g, local, 0, nullptr, nullptr);
  }
  clReleaseKernel(kernel);
  if (st != CL_SUCCESS)
    return fail(err, RMA_STATUS_DEVICE_ERROR, "opencl (%s): %s: %s", ctx.dev.name.c_str(), op,
                cl_error_name(st));
  return RMA_STATUS_OK;
}

const char* cl_error_name(cl_int code) {
  switch (code) {
#define RMA_CL_CASE(c) \
  case c:              \
    return #c;
    RMA_CL_CASE(CL_SUCCESS)
    RMA_CL_CASE(CL_DEVICE_NOT_FOUND)
    RMA_CL_CASE(CL_DEVICE_NOT_AVAILABLE)
    RMA_CL_CASE(CL_COMPILER_NOT_AVAILABLE)
    RMA_CL_CASE(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    RMA_CL_CASE(CL_OUT_OF_RESOURCES)
    RMA_CL_CASE(CL_OUT_OF_HOST_MEMORY)
    RMA_CL_CASE(CL_BUILD_PROGRAM_FAILURE)
    RMA_CL_CASE(CL_INVALID_VALUE)
    RMA_CL_CASE(CL_INVALID_DEVICE)
    RMA_CL_CASE(CL_INVALID_CONTEXT)
    RMA_CL_CASE(CL_INVALID_COMMAND_QUEUE)
    RMA_CL_CASE(CL_INVALID_MEM_OBJECT)
    RMA_CL_CASE(CL_INVALID_BINARY)
    RMA_CL_CASE(CL_INVALID_BUILD_OPTIONS)
    RMA_CL_CASE(CL_INVALID_PROGRAM)
    RMA_CL_CASE(CL_INVALID_PROGRAM_EXECUTABLE)
    RMA_CL_CASE(CL_INVALID_KERNEL_NAME)
    RMA_CL_CASE(CL_INVALID_KERNEL)
    RMA_CL_CASE(CL_INVALID_ARG_INDEX)
    RMA_CL_CASE(CL_INVALID_ARG_VALUE)
    RMA_CL_CASE(CL_INVALID_ARG_SIZE)
    RMA_CL_CASE(CL_INVALID_KERNEL_ARGS)
    RMA_CL_CASE(CL_INVALID_WORK_DIMENSION)
    RMA_CL_CASE(CL_INVALID_WORK_GROUP_SIZE)
    RMA_CL_CASE(CL_INVALID_WORK_ITEM_SIZE)
    RMA_CL_CASE(CL_INVALID_GLOBAL_OFFSET)
    RMA_CL_CASE(CL_INVALID_EVENT_WAIT_LIST)
    RMA_CL_CASE(CL_INVALID_EVENT)
    RMA_CL_CASE(CL_INVALID_BUFFER_SIZE)
    RMA_CL_CASE(CL_INVALID_GLOBAL_WORK_SIZE)
    RMA_CL_CASE(CL_PLATFORM_NOT_FOUND_KHR)
#undef RMA_CL_CASE
    default:
      return "unknown OpenCL error";
  }
}

}  // namespace rma::opencl

extern "C" RMA_PLUGIN_EXPORT rma_status rma_plugin_open(uint32_t core_abi_version,
                                                        const rma_host_api* host,
                                                        const rma_plugin_api** out,
                                                        rma_error* err) {
  using namespace rma::opencl;
  if (core_abi_version < RMA_ABI_MIN_VERSION)
    return fail(err, RMA_STATUS_ABI_MISMATCH,
                "opencl plugin implements ABI v%u; the core speaks up to v%u", RMA_ABI_VERSION,
                core_abi_version);
  g_host = host;
  if (g_devices.empty()) {
    const std::string why = enumerate_devices();
    if (!why.empty()) return fail(err, RMA_STATUS_NOT_FOUND, "opencl: %s", why.c_str());
  }
  static const rma_plugin_api api = make_api();
  *out = &api;
  return RMA_STATUS_OK;
}
