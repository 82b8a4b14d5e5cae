// The CPU backend: one device, host memory, synchronous streams, and the op
// modules under ops/ that registered themselves with register_op().
#include "rma/plugin.h"

#include <hwy/targets.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/cpu_op.h"

namespace rma::cpu {
namespace {

struct Registry {
  std::array<SupportedFn, RMA_OP_COUNT> supported{};
  std::array<RunFn, RMA_OP_COUNT> run{};
  std::array<const PreparedFns*, RMA_OP_COUNT> prepared{};
};
Registry& registry() {
  static Registry r;
  return r;
}

const rma_host_api* g_host = nullptr;

// A recorded op call or device copy, owning copies of what the caller's
// descriptors pointed at (tensor descriptors, attributes).
struct RecordedStep {
  rma_op_call call{};
  std::vector<rma_tensor> inputs, outputs;
  std::vector<uint8_t> attrs;  // the attribute struct's struct_size bytes
  // A device-to-device copy instead of an op (call.op < 0).
  void* copy_dst = nullptr;
  const void* copy_src = nullptr;
  uint64_t copy_bytes = 0;
};
struct Recording {
  std::vector<RecordedStep> steps;
};

struct CpuDevice {
  std::unique_ptr<ThreadPool> pool;
  // While capturing: where op_run and copy_device_to_device record.
  std::unique_ptr<Recording> capturing;
};
std::unique_ptr<CpuDevice> g_device;

CpuDevice* dev_of(rma_device d) { return reinterpret_cast<CpuDevice*>(d); }

// Streams and events on the CPU are tokens: every call completes before it
// returns, so there is nothing to wait for.
int g_stream_token;
int g_event_token;

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      const size_t c = line.find(':');
      if (c != std::string::npos) return line.substr(c + 2);
    }
  return "CPU";
}

std::string simd_targets() {
  std::string s;
  const int64_t t = hwy::SupportedTargets();
  if (t & HWY_AVX3_DL) s += "avx512-vnni ";
  if (t & HWY_AVX3) s += "avx512 ";
  if (t & HWY_AVX2) s += "avx2 ";
  if (s.empty()) s = "baseline ";
  s.pop_back();
  return s;
}

void copy_n(const char* what, void* dst, const void* src, uint64_t bytes) {
  (void)what;
  if (bytes) std::memmove(dst, src, bytes);
}

// ---------------------------------------------------------------- devices
int32_t device_count() { return 1; }

rma_status device_open(int32_t index, rma_device* out, rma_error* err) {
  if (index != 0) return fail(err, RMA_STATUS_NOT_FOUND, "cpu has one device, asked for %d", index);
  if (!g_device) {
    g_device = std::make_unique<CpuDevice>();
    g_device->pool = std::make_unique<ThreadPool>(g_host ? g_host->num_threads : 1);
  }
  *out = reinterpret_cast<rma_device>(g_device.get());
  return RMA_STATUS_OK;
}

void device_close(rma_device) {}

rma_status device_get_info(rma_device d, rma_device_info* out, rma_error* err) {
  if (!out || out->struct_size < sizeof(rma_device_info))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "rma_device_info too small");
  static const std::string model = cpu_model_name();
  static const std::string arch = std::string("x86_64 ") + simd_targets();
  std::snprintf(out->name, sizeof(out->name), "%s", model.c_str());
  std::snprintf(out->vendor, sizeof(out->vendor), "%s", "host");
  std::snprintf(out->driver_version, sizeof(out->driver_version), "%s", "n/a");
  std::snprintf(out->arch, sizeof(out->arch), "%s", arch.c_str());
  out->type = RMA_DEVICE_CPU;
  out->compute_units = dev_of(d)->pool->size();
  struct sysinfo si {};
  sysinfo(&si);
  out->memory_total = uint64_t(si.totalram) * si.mem_unit;
  // MemAvailable counts reclaimable page cache, unlike freeram.
  uint64_t avail = uint64_t(si.freeram) * si.mem_unit;
  std::ifstream mi("/proc/meminfo");
  std::string key;
  uint64_t kb;
  while (mi >> key >> kb) {
    if (key == "MemAvailable:") {
      avail = kb * 1024;
      break;
    }
    mi.ignore(256, '\n');
  }
  out->memory_free = avail;
  out->capabilities = RMA_CAP_F16 | RMA_CAP_BF16 | RMA_CAP_QUANTIZED | RMA_CAP_HOST_MEMORY |
                      RMA_CAP_CAPTURE | RMA_CAP_OP_KERNELS;
  return RMA_STATUS_OK;
}

// ----------------------------------------------------------------- memory
rma_status buffer_alloc(rma_device, uint64_t size, uint64_t alignment, void** out, rma_error* err) {
  // Large buffers (weights, KV caches) are 2 MiB aligned and asked to use
  // transparent huge pages: fewer TLB misses when kernels stream them.
  constexpr uint64_t kHugePage = 2ull << 20;
  const bool huge = size >= kHugePage;
  const uint64_t align = huge ? kHugePage : (alignment < 64 ? 64 : alignment);
  const uint64_t rounded = (size + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded ? rounded : align);
  if (!p)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, "host allocation of %llu bytes failed",
                static_cast<unsigned long long>(size));
  if (huge) madvise(p, rounded, MADV_HUGEPAGE);
  *out = p;
  return RMA_STATUS_OK;
}

void buffer_free(rma_device, void* buffer) { std::free(buffer); }
void* buffer_host_ptr(rma_device, void* buffer) { return buffer; }

// ---------------------------------------------------------- streams/events
rma_status stream_create(rma_device, rma_stream* out, rma_error*) {
  *out = reinterpret_cast<rma_stream>(&g_stream_token);
  return RMA_STATUS_OK;
}
void stream_destroy(rma_device, rma_stream) {}
rma_status stream_synchronize(rma_device, rma_stream, rma_error*) { return RMA_STATUS_OK; }
rma_status event_create(rma_device, rma_event* out, rma_error*) {
  *out = reinterpret_cast<rma_event>(&g_event_token);
  return RMA_STATUS_OK;
}
void event_destroy(rma_device, rma_event) {}
rma_status event_record(rma_device, rma_event, rma_stream, rma_error*) { return RMA_STATUS_OK; }
rma_status event_synchronize(rma_device, rma_event, rma_error*) { return RMA_STATUS_OK; }
rma_status stream_wait_event(rma_device, rma_stream, rma_event, rma_error*) {
  return RMA_STATUS_OK;
}

// ----------------------------------------------------------------- copies
rma_status refuse_while_capturing(rma_device d, const char* what, rma_error* err) {
  if (!dev_of(d)->capturing) return RMA_STATUS_OK;
  return fail(err, RMA_STATUS_UNSUPPORTED,
              "cpu: %s while a capture is recording (host copies cannot be replayed)", what);
}

rma_status copy_h2d(rma_device d, rma_stream, void* dst, uint64_t dst_off, const void* src,
                    uint64_t bytes, rma_error* err) {
  if (rma_status st = refuse_while_capturing(d, "copy_host_to_device", err)) return st;
  copy_n("h2d", static_cast<uint8_t*>(dst) + dst_off, src, bytes);
  return RMA_STATUS_OK;
}
rma_status copy_d2h(rma_device d, rma_stream, void* dst, const void* src, uint64_t src_off,
                    uint64_t bytes, rma_error* err) {
  if (rma_status st = refuse_while_capturing(d, "copy_device_to_host", err)) return st;
  copy_n("d2h", dst, static_cast<const uint8_t*>(src) + src_off, bytes);
  return RMA_STATUS_OK;
}
rma_status copy_d2d(rma_device d, rma_stream, void* dst, uint64_t dst_off, const void* src,
                    uint64_t src_off, uint64_t bytes, rma_error*) {
  void* to = static_cast<uint8_t*>(dst) + dst_off;
  const void* from = static_cast<const uint8_t*>(src) + src_off;
  if (Recording* rec = dev_of(d)->capturing.get()) {
    RecordedStep step;
    step.call.op = -1;
    step.copy_dst = to;
    step.copy_src = from;
    step.copy_bytes = bytes;
    rec->steps.push_back(std::move(step));
    return RMA_STATUS_OK;
  }
  copy_n("d2d", to, from, bytes);
  return RMA_STATUS_OK;
}

// -------------------------------------------------------------------- ops
rma_status op_supported(rma_device, const rma_op_call* call, rma_error* err) {
  if (!call || call->struct_size < sizeof(rma_op_call))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "rma_op_call missing or too small");
  if (call->op < 0 || call->op >= RMA_OP_COUNT || !registry().supported[call->op])
    return fail(err, RMA_STATUS_UNSUPPORTED, "op %d is unknown to the cpu backend (newer ABI?)",
                call->op);
  return registry().supported[call->op](*call, err);
}

// Records a checked call with its own copies of the descriptors.
void record(Recording& rec, const rma_op_call& call) {
  RecordedStep& step = rec.steps.emplace_back();
  step.call = call;
  step.inputs.assign(call.inputs, call.inputs + call.num_inputs);
  step.outputs.assign(call.outputs, call.outputs + call.num_outputs);
  if (call.attrs) {
    // Every attribute struct starts with its struct_size.
    uint32_t size = 0;
    std::memcpy(&size, call.attrs, sizeof(size));
    const auto* bytes = static_cast<const uint8_t*>(call.attrs);
    step.attrs.assign(bytes, bytes + size);
  }
}

rma_status op_run(rma_device d, rma_stream, const rma_op_call* call, rma_error* err) {
  const rma_status st = op_supported(d, call, err);
  if (st != RMA_STATUS_OK) return st;
  if (Recording* rec = dev_of(d)->capturing.get()) {
    record(*rec, *call);
    return RMA_STATUS_OK;
  }
  const Context ctx{*dev_of(d)->pool};
  return registry().run[call->op](ctx, *call, err);
}

// ---------------------------------------------------------------- capture
// A recording replays its calls straight into the op modules: no schema
// checks, allocation or descriptor building in the core, which is most of
// the per-op cost of small decode steps.
rma_status capture_begin(rma_device d, rma_stream, rma_error* err) {
  CpuDevice& dev = *dev_of(d);
  if (dev.capturing) return fail(err, RMA_STATUS_INVALID_ARGUMENT, "cpu: already capturing");
  dev.capturing = std::make_unique<Recording>();
  return RMA_STATUS_OK;
}

rma_status capture_end(rma_device d, rma_stream, rma_capture* out, uint64_t* num_ops,
                       rma_error* err) {
  CpuDevice& dev = *dev_of(d);
  if (!dev.capturing) return fail(err, RMA_STATUS_INVALID_ARGUMENT, "cpu: no capture recording");
  Recording* rec = dev.capturing.release();
  // Point each call at its own descriptors (the vectors no longer move).
  for (RecordedStep& step : rec->steps) {
    step.call.inputs = step.inputs.data();
    step.call.outputs = step.outputs.data();
    step.call.attrs = step.attrs.empty() ? nullptr : step.attrs.data();
  }
  *out = reinterpret_cast<rma_capture>(rec);
  *num_ops = rec->steps.size();
  return RMA_STATUS_OK;
}

rma_status capture_launch(rma_device d, rma_stream, rma_capture capture, rma_error* err) {
  CpuDevice& dev = *dev_of(d);
  if (dev.capturing)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "cpu: capture_launch while capturing");
  const Context ctx{*dev.pool};
  for (const RecordedStep& step : reinterpret_cast<Recording*>(capture)->steps) {
    if (step.call.op < 0) {
      copy_n("d2d", step.copy_dst, step.copy_src, step.copy_bytes);
      continue;
    }
    if (rma_status st = registry().run[step.call.op](ctx, step.call, err)) return st;
  }
  return RMA_STATUS_OK;
}

void capture_destroy(rma_device, rma_capture capture) {
  delete reinterpret_cast<Recording*>(capture);
}

// ------------------------------------------------------------ prepared ops
// The handle wraps the module's object with the op it belongs to.
struct PreparedHandle {
  rma_op op;
  void* module_object;
};

rma_status op_prepare(rma_device d, const rma_op_call* call, uint64_t const_inputs,
                      rma_prepared_op* out, rma_error* err) {
  *out = nullptr;
  const rma_status st = op_supported(d, call, err);
  if (st != RMA_STATUS_OK) return st;
  const PreparedFns* fns = registry().prepared[call->op];
  if (!fns) return RMA_STATUS_OK;
  void* object = nullptr;
  const Context ctx{*dev_of(d)->pool};
  if (rma_status s = fns->prepare(ctx, *call, const_inputs, &object, err)) return s;
  if (object)
    *out = reinterpret_cast<rma_prepared_op>(
        new PreparedHandle{static_cast<rma_op>(call->op), object});
  return RMA_STATUS_OK;
}

rma_status prepared_run(rma_device d, rma_stream, rma_prepared_op op, const rma_op_call* call,
                        rma_error* err) {
  const auto* h = reinterpret_cast<const PreparedHandle*>(op);
  if (call->op != h->op)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "cpu: a prepared op run with another op's call");
  if (dev_of(d)->capturing)
    return fail(err, RMA_STATUS_UNSUPPORTED, "cpu: prepared ops are not recorded by capture");
  const rma_status st = op_supported(d, call, err);
  if (st != RMA_STATUS_OK) return st;
  const Context ctx{*dev_of(d)->pool};
  return registry().prepared[h->op]->run(ctx, h->module_object, *call, err);
}

void blob_free(rma_blob* blob) {
  std::free(blob->data);
  blob->data = nullptr;
  blob->size = 0;
}

rma_status prepared_export(rma_device, rma_prepared_op op, rma_blob* out, rma_error* err) {
  const auto* h = reinterpret_cast<const PreparedHandle*>(op);
  std::vector<uint8_t> bytes;
  if (rma_status s = registry().prepared[h->op]->serialize(h->module_object, &bytes, err)) return s;
  out->data = std::malloc(std::max<size_t>(bytes.size(), 1));
  if (!out->data)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, "cpu: no memory for a %zu-byte export",
                bytes.size());
  std::memcpy(out->data, bytes.data(), bytes.size());
  out->size = bytes.size();
  return RMA_STATUS_OK;
}

rma_status prepared_import(rma_device d, const rma_op_call* call, uint64_t, const void* data,
                           uint64_t size, rma_prepared_op* out, rma_error* err) {
  *out = nullptr;
  const rma_status st = op_supported(d, call, err);
  if (st != RMA_STATUS_OK) return st;
  const PreparedFns* fns = registry().prepared[call->op];
  if (!fns) return fail(err, RMA_STATUS_UNSUPPORTED, "cpu: this op has no prepared form");
  void* object = nullptr;
  if (rma_status s = fns->deserialize(*call, static_cast<const uint8_t*>(data), size, &object, err))
    return s;
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

void shutdown() { g_device.reset(); }

rma_plugin_api make_api() {
  rma_plugin_api a{};
  a.struct_size = sizeof(a);
  a.abi_version = RMA_ABI_VERSION;
  a.name = "cpu";
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
  a.blob_free = blob_free;
  a.op_prepare = op_prepare;
  a.prepared_run = prepared_run;
  a.prepared_export = prepared_export;
  a.prepared_import = prepared_import;
  a.prepared_destroy = prepared_destroy;
  return a;
}

}  // namespace

bool register_op(rma_op op, SupportedFn supported, RunFn run) {
  registry().supported[op] = supported;
  registry().run[op] = run;
  return true;
}
bool register_prepared(rma_op op, const PreparedFns& fns) {
  registry().prepared[op] = &fns;
  return true;
}
SupportedFn find_supported(rma_op op) { return registry().supported[op]; }
RunFn find_run(rma_op op) { return registry().run[op]; }

}  // namespace rma::cpu

extern "C" RMA_PLUGIN_EXPORT rma_status rma_plugin_open(uint32_t core_abi_version,
                                                        const rma_host_api* host,
                                                        const rma_plugin_api** out,
                                                        rma_error* err) {
  using namespace rma::cpu;
  if (core_abi_version < RMA_ABI_MIN_VERSION)
    return fail(err, RMA_STATUS_ABI_MISMATCH,
                "cpu plugin implements ABI v%u; the core speaks up to v%u", RMA_ABI_VERSION,
                core_abi_version);
  g_host = host;
  static const rma_plugin_api api = make_api();
  *out = &api;
  return RMA_STATUS_OK;
}
