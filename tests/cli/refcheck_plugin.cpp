// librma_refcheck.so: a test-only plugin whose one device runs every op with
// the reference implementation on host memory. `rma test refcheck:0` must
// then pass every case: it proves each conformance case is valid for its
// op's schema and that upload, run, download and comparison work end to end.
// With RMA_REFCHECK_NOISE=<relative error> it perturbs float outputs, and
// with RMA_REFCHECK_DEVICE_ERROR set op_run fails, so tests can check that
// the suite reports wrong results and device errors.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ops/reference/reference.h"
#include "rma/half.h"
#include "rma/plugin.h"

namespace {

int g_token;  // the device, streams and events: all synchronous

rma_status fail(rma_error* err, rma_status st, const char* fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
  }
  return st;
}

int32_t device_count() { return 1; }
rma_status device_open(int32_t, rma_device* out, rma_error*) {
  *out = reinterpret_cast<rma_device>(&g_token);
  return RMA_STATUS_OK;
}
void device_close(rma_device) {}
rma_status device_get_info(rma_device, rma_device_info* out, rma_error*) {
  std::snprintf(out->name, sizeof(out->name), "reference ops on the host");
  std::snprintf(out->vendor, sizeof(out->vendor), "rma tests");
  std::snprintf(out->driver_version, sizeof(out->driver_version), "n/a");
  std::snprintf(out->arch, sizeof(out->arch), "host");
  out->type = RMA_DEVICE_OTHER;
  out->compute_units = 1;
  out->memory_total = out->memory_free = 1ull << 30;
  out->capabilities =
      RMA_CAP_F16 | RMA_CAP_BF16 | RMA_CAP_QUANTIZED | RMA_CAP_HOST_MEMORY | RMA_CAP_OP_KERNELS;
  return RMA_STATUS_OK;
}
rma_status buffer_alloc(rma_device, uint64_t size, uint64_t, void** out, rma_error* err) {
  *out = std::aligned_alloc(64, (size + 63) / 64 * 64 + 64);
  return *out ? RMA_STATUS_OK : fail(err, RMA_STATUS_OUT_OF_MEMORY, "refcheck: out of memory");
}
void buffer_free(rma_device, void* b) { std::free(b); }
void* buffer_host_ptr(rma_device, void* b) { return b; }
rma_status stream_create(rma_device, rma_stream* out, rma_error*) {
  *out = reinterpret_cast<rma_stream>(&g_token);
  return RMA_STATUS_OK;
}
void stream_destroy(rma_device, rma_stream) {}
rma_status stream_synchronize(rma_device, rma_stream, rma_error*) { return RMA_STATUS_OK; }
rma_status event_create(rma_device, rma_event* out, rma_error*) {
  *out = reinterpret_cast<rma_event>(&g_token);
  return RMA_STATUS_OK;
}
void event_destroy(rma_device, rma_event) {}
rma_status event_record(rma_device, rma_event, rma_stream, rma_error*) { return RMA_STATUS_OK; }
rma_status event_synchronize(rma_device, rma_event, rma_error*) { return RMA_STATUS_OK; }
rma_status stream_wait_event(rma_device, rma_stream, rma_event, rma_error*) {
  return RMA_STATUS_OK;
}
rma_status h2d(rma_device, rma_stream, void* dst, uint64_t off, const void* src, uint64_t n,
               rma_error*) {
  if (n) std::memmove(static_cast<char*>(dst) + off, src, n);
  return RMA_STATUS_OK;
}
rma_status d2h(rma_device, rma_stream, void* dst, const void* src, uint64_t off, uint64_t n,
               rma_error*) {
  if (n) std::memmove(dst, static_cast<const char*>(src) + off, n);
  return RMA_STATUS_OK;
}
rma_status d2d(rma_device, rma_stream, void* dst, uint64_t doff, const void* src, uint64_t soff,
               uint64_t n, rma_error*) {
  if (n) std::memmove(static_cast<char*>(dst) + doff, static_cast<const char*>(src) + soff, n);
  return RMA_STATUS_OK;
}

rma_status op_supported(rma_device, const rma_op_call*, rma_error*) { return RMA_STATUS_OK; }

// Scales every float output element by (1 + noise).
void perturb(const rma_tensor& t, double noise) {
  using namespace rma::reference;
  if (!rma::is_float(dtype_of(t))) return;
  std::vector<float> v = read_floats(t);
  for (float& x : v) x = static_cast<float>(x * (1.0 + noise) + noise);
  write_floats(t, v);
}

rma_status op_run(rma_device, rma_stream, const rma_op_call* call, rma_error* err) {
  if (std::getenv("RMA_REFCHECK_DEVICE_ERROR"))
    return fail(err, RMA_STATUS_DEVICE_ERROR, "refcheck: injected device error");
  try {
    rma::reference::run(*call);
  } catch (const std::exception& e) {
    return fail(err, RMA_STATUS_INVALID_ARGUMENT, "refcheck: %s", e.what());
  }
  if (const char* n = std::getenv("RMA_REFCHECK_NOISE"))
    for (int i = 0; i < call->num_outputs; ++i) perturb(call->outputs[i], std::atof(n));
  return RMA_STATUS_OK;
}

rma_plugin_api make_api() {
  rma_plugin_api a{};
  a.struct_size = sizeof(a);
  a.abi_version = RMA_ABI_VERSION;
  a.name = "refcheck";
  a.version = "test";
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
  a.copy_host_to_device = h2d;
  a.copy_device_to_host = d2h;
  a.copy_device_to_device = d2d;
  a.op_supported = op_supported;
  a.op_run = op_run;
  return a;
}

}  // namespace

extern "C" RMA_PLUGIN_EXPORT rma_status rma_plugin_open(uint32_t core_abi_version,
                                                        const rma_host_api*,
                                                        const rma_plugin_api** out,
                                                        rma_error* err) {
  if (core_abi_version < RMA_ABI_VERSION)
    return fail(err, RMA_STATUS_ABI_MISMATCH, "refcheck implements ABI v%u; the core speaks v%u",
                RMA_ABI_VERSION, core_abi_version);
  static const rma_plugin_api api = make_api();
  *out = &api;
  return RMA_STATUS_OK;
}
