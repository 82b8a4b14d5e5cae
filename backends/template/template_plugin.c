/*
 * template_plugin.c — a complete, working RM Abstract Layer plugin to copy.
 *
 * It serves one device of type RMA_DEVICE_OTHER whose "device memory" is
 * plain host memory, with synchronous streams and one op (add, f32, same
 * shapes). Every function of rma_plugin_api is here, so the copy loads,
 * shows up in `rma info`, and passes `rma test template:0 --op add` before a
 * single line is changed.
 *
 * To port it to your hardware, search for "VENDOR:" and replace what those
 * comments describe. Rename "template" (RMA_TEMPLATE_NAME, the library name
 * in CMakeLists.txt) to your device prefix. Keep the ABI checks as they are.
 *
 * Rules from include/rma/plugin.h worth repeating:
 *  - Fill err->message on every failure: say what failed and where.
 *  - op_supported must be cheap and side-effect free; tensors' data is NULL.
 *  - Never read a struct field beyond the struct_size the caller passed.
 *  - Functions taking a device may be called from several threads at once,
 *    each with its own stream.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rma/plugin.h"

#define RMA_TEMPLATE_NAME "template"
#define RMA_TEMPLATE_VERSION "0.1.0"
/* The oldest ABI version whose table this file can fill. */
#define RMA_TEMPLATE_MIN_ABI 1u

/* ----------------------------------------------------------------- helpers */

/* Formats into err->message (truncated to fit) and returns `status`. */
static rma_status fail(rma_error* err, rma_status status, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static rma_status fail(rma_error* err, rma_status status, const char* fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
  }
  return status;
}

static const rma_host_api* g_host; /* valid from rma_plugin_open to shutdown */

static void log_message(int32_t level, const char* message) {
  /* host->log may be absent in a host built against an older, shorter
   * rma_host_api: check struct_size before touching the field. */
  if (g_host && g_host->struct_size >= offsetof(rma_host_api, log) + sizeof(g_host->log) &&
      g_host->log)
    g_host->log(level, RMA_TEMPLATE_NAME, message);
}

static int64_t numel(const rma_tensor* t) {
  int64_t n = 1;
  for (int32_t i = 0; i < t->ndim; ++i) n *= t->shape[i];
  return n;
}

/* ----------------------------------------------------------------- devices */

/* VENDOR: your device state: driver context, queues, caches. One per device
 * index; rma_device is an opaque pointer to it. */
typedef struct template_device {
  int32_t index;
  int open;
} template_device;

enum { kDeviceCount = 1 };
static template_device g_devices[kDeviceCount];

/* VENDOR: count what the driver reports. Return 0 (or fail rma_plugin_open
 * with RMA_STATUS_NOT_FOUND) when no hardware is present. */
static int32_t device_count(void) { return kDeviceCount; }

static rma_status device_open(int32_t index, rma_device* out, rma_error* err) {
  if (index < 0 || index >= kDeviceCount)
    return fail(err, RMA_STATUS_NOT_FOUND,
                RMA_TEMPLATE_NAME " has %d device(s), asked for index %d", kDeviceCount,
                (int)index);
  /* VENDOR: create the driver context for device `index` here. */
  g_devices[index].index = index;
  g_devices[index].open = 1;
  *out = (rma_device)&g_devices[index];
  return RMA_STATUS_OK;
}

static void device_close(rma_device dev) {
  /* VENDOR: release the driver context. */
  ((template_device*)dev)->open = 0;
}

static void copy_text(char* dst, size_t size, const char* src) { snprintf(dst, size, "%s", src); }

static rma_status device_get_info(rma_device dev, rma_device_info* out, rma_error* err) {
  (void)dev;
  if (!out || out->struct_size < sizeof(rma_device_info))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                RMA_TEMPLATE_NAME " device_get_info: rma_device_info missing or too small");
  /* VENDOR: report the real model, vendor, driver, architecture, compute
   * units and memory. memory_free should be current. */
  copy_text(out->name, sizeof(out->name), "Template device (host memory)");
  copy_text(out->vendor, sizeof(out->vendor), "RM Abstract template");
  copy_text(out->driver_version, sizeof(out->driver_version), "none");
  copy_text(out->arch, sizeof(out->arch), "host");
  out->type = RMA_DEVICE_OTHER; /* VENDOR: RMA_DEVICE_GPU or RMA_DEVICE_NPU */
  out->compute_units = 1;
  out->memory_total = 1ull << 30;
  out->memory_free = 1ull << 30;
  /* RMA_CAP_HOST_MEMORY promises buffer handles are host addresses; drop it
   * when your buffers live in device memory (and make buffer_host_ptr return
   * NULL). */
  out->capabilities = RMA_CAP_HOST_MEMORY | RMA_CAP_OP_KERNELS;
  return RMA_STATUS_OK;
}

/* ------------------------------------------------------------------ memory */

/* VENDOR: allocate device memory. A buffer handle is whatever you need to
 * find the allocation again (a device pointer, an object id). */
static rma_status buffer_alloc(rma_device dev, uint64_t size, uint64_t alignment, void** out,
                               rma_error* err) {
  (void)dev;
  uint64_t align = alignment < 64 ? 64 : alignment;
  uint64_t rounded = (size + align - 1) / align * align;
  void* p;
  if ((align & (align - 1)) != 0)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                RMA_TEMPLATE_NAME " buffer_alloc: alignment %llu is not a power of two",
                (unsigned long long)alignment);
  p = aligned_alloc((size_t)align, (size_t)(rounded ? rounded : align));
  if (!p)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, RMA_TEMPLATE_NAME " buffer_alloc: %llu bytes failed",
                (unsigned long long)size);
  *out = p;
  return RMA_STATUS_OK;
}

static void buffer_free(rma_device dev, void* buffer) {
  (void)dev;
  free(buffer);
}

/* VENDOR: return NULL when buffers are not host-addressable. */
static void* buffer_host_ptr(rma_device dev, void* buffer) {
  (void)dev;
  return buffer;
}

/* --------------------------------------------------------- streams, events */

/* VENDOR: map these to your queues and fences. Here every call completes
 * before it returns, so a stream is a token and waiting is immediate. */
typedef struct template_stream {
  template_device* device;
} template_stream;

typedef struct template_event {
  int recorded;
} template_event;

static rma_status stream_create(rma_device dev, rma_stream* out, rma_error* err) {
  template_stream* s = (template_stream*)calloc(1, sizeof(template_stream));
  if (!s)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, RMA_TEMPLATE_NAME " stream_create: out of memory");
  s->device = (template_device*)dev;
  *out = (rma_stream)s;
  return RMA_STATUS_OK;
}

static void stream_destroy(rma_device dev, rma_stream stream) {
  (void)dev;
  free(stream);
}

static rma_status stream_synchronize(rma_device dev, rma_stream stream, rma_error* err) {
  (void)dev, (void)stream, (void)err;
  return RMA_STATUS_OK; /* VENDOR: wait until the queue drains */
}

static rma_status event_create(rma_device dev, rma_event* out, rma_error* err) {
  template_event* e = (template_event*)calloc(1, sizeof(template_event));
  (void)dev;
  if (!e)
    return fail(err, RMA_STATUS_OUT_OF_MEMORY, RMA_TEMPLATE_NAME " event_create: out of memory");
  *out = (rma_event)e;
  return RMA_STATUS_OK;
}

static void event_destroy(rma_device dev, rma_event event) {
  (void)dev;
  free(event);
}

static rma_status event_record(rma_device dev, rma_event event, rma_stream stream, rma_error* err) {
  (void)dev, (void)stream, (void)err;
  ((template_event*)event)->recorded = 1; /* VENDOR: enqueue a fence */
  return RMA_STATUS_OK;
}

static rma_status event_synchronize(rma_device dev, rma_event event, rma_error* err) {
  (void)dev, (void)event, (void)err;
  return RMA_STATUS_OK; /* VENDOR: wait for the fence */
}

static rma_status stream_wait_event(rma_device dev, rma_stream stream, rma_event event,
                                    rma_error* err) {
  (void)dev, (void)stream, (void)event, (void)err;
  return RMA_STATUS_OK; /* VENDOR: make the queue wait for the fence */
}

/* ------------------------------------------------------------------ copies */

/* VENDOR: DMA to and from device memory, ordered on `stream`. */
static rma_status copy_host_to_device(rma_device dev, rma_stream stream, void* dst,
                                      uint64_t dst_offset, const void* src, uint64_t bytes,
                                      rma_error* err) {
  (void)dev, (void)stream, (void)err;
  if (bytes) memmove((uint8_t*)dst + dst_offset, src, (size_t)bytes);
  return RMA_STATUS_OK;
}

static rma_status copy_device_to_host(rma_device dev, rma_stream stream, void* dst, const void* src,
                                      uint64_t src_offset, uint64_t bytes, rma_error* err) {
  (void)dev, (void)stream, (void)err;
  if (bytes) memmove(dst, (const uint8_t*)src + src_offset, (size_t)bytes);
  return RMA_STATUS_OK;
}

static rma_status copy_device_to_device(rma_device dev, rma_stream stream, void* dst,
                                        uint64_t dst_offset, const void* src, uint64_t src_offset,
                                        uint64_t bytes, rma_error* err) {
  (void)dev, (void)stream, (void)err;
  if (bytes) memmove((uint8_t*)dst + dst_offset, (const uint8_t*)src + src_offset, (size_t)bytes);
  return RMA_STATUS_OK;
}

/* --------------------------------------------------------------------- ops */

/* The op the template runs: y = a + b for f32 tensors of one shape.
 * VENDOR: add your ops here; decline with a reason whatever your kernels do
 * not cover (dtypes, shapes, attributes). `rma test <device>` then reports
 * those cases as unsupported rather than failed. */
static const char* dtype_name(int32_t dtype) {
  static const char* const kNames[] = {"f32",  "f16",  "bf16", "i8",   "i32",  "i64",
                                       "bool", "q8_0", "q4_0", "q4_1", "q4_k", "q6_k"};
  return dtype >= 0 && dtype < (int32_t)(sizeof(kNames) / sizeof(kNames[0])) ? kNames[dtype]
                                                                             : "unknown";
}

static const char* op_name(int32_t op) {
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
                                       "mul"};
  return op >= 0 && op < (int32_t)(sizeof(kNames) / sizeof(kNames[0])) ? kNames[op] : "unknown";
}

static int same_shape(const rma_tensor* a, const rma_tensor* b) {
  if (a->ndim != b->ndim) return 0;
  for (int32_t i = 0; i < a->ndim; ++i)
    if (a->shape[i] != b->shape[i]) return 0;
  return 1;
}

static rma_status op_supported(rma_device dev, const rma_op_call* call, rma_error* err) {
  (void)dev;
  if (!call || call->struct_size < sizeof(rma_op_call))
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                RMA_TEMPLATE_NAME ": rma_op_call missing or too small");
  if (call->op != RMA_OP_ADD)
    return fail(err, RMA_STATUS_UNSUPPORTED,
                RMA_TEMPLATE_NAME " implements only add; %s (op %d) is not implemented",
                op_name(call->op), (int)call->op);
  if (call->num_inputs != 2 || call->num_outputs != 1)
    return fail(err, RMA_STATUS_INVALID_ARGUMENT,
                RMA_TEMPLATE_NAME " add: expected 2 inputs and 1 output, got %d and %d",
                (int)call->num_inputs, (int)call->num_outputs);
  {
    const rma_tensor* a = &call->inputs[0];
    const rma_tensor* b = &call->inputs[1];
    const rma_tensor* y = &call->outputs[0];
    if (a->dtype != RMA_DTYPE_F32 || b->dtype != RMA_DTYPE_F32 || y->dtype != RMA_DTYPE_F32)
      return fail(err, RMA_STATUS_UNSUPPORTED,
                  RMA_TEMPLATE_NAME " add: only f32 is implemented, got a %s, b %s, y %s",
                  dtype_name(a->dtype), dtype_name(b->dtype), dtype_name(y->dtype));
    if (!same_shape(a, b) || !same_shape(a, y))
      return fail(err, RMA_STATUS_UNSUPPORTED,
                  RMA_TEMPLATE_NAME
                  " add: broadcasting is not implemented (a and b must have one shape)");
  }
  return RMA_STATUS_OK;
}

static rma_status op_run(rma_device dev, rma_stream stream, const rma_op_call* call,
                         rma_error* err) {
  rma_status st = op_supported(dev, call, err);
  (void)stream;
  if (st != RMA_STATUS_OK) return st;
  {
    /* The core passes dense row-major tensors (ABI v1); with host memory a
     * buffer handle plus its byte offset is the address of element 0. */
    const rma_tensor* a = &call->inputs[0];
    const rma_tensor* b = &call->inputs[1];
    const rma_tensor* y = &call->outputs[0];
    const float* pa = (const float*)((const uint8_t*)a->data + a->offset);
    const float* pb = (const float*)((const uint8_t*)b->data + b->offset);
    float* py = (float*)((uint8_t*)y->data + y->offset);
    const int64_t n = numel(a);
    /* VENDOR: launch your kernel on `stream` instead. */
    for (int64_t i = 0; i < n; ++i) py[i] = pa[i] + pb[i];
  }
  return RMA_STATUS_OK;
}

/* -------------------------------------------------------------- the table */

static void shutdown_plugin(void) {
  /* VENDOR: tear down the driver. */
  g_host = NULL;
}

static rma_plugin_api g_api;

static void fill_api(rma_plugin_api* a, uint32_t abi_version) {
  memset(a, 0, sizeof(*a));
  a->struct_size = sizeof(*a);
  a->abi_version = abi_version;
  a->name = RMA_TEMPLATE_NAME;
  a->version = RMA_TEMPLATE_VERSION;
  a->shutdown = shutdown_plugin;
  a->device_count = device_count;
  a->device_open = device_open;
  a->device_close = device_close;
  a->device_get_info = device_get_info;
  a->buffer_alloc = buffer_alloc;
  a->buffer_free = buffer_free;
  a->buffer_host_ptr = buffer_host_ptr;
  a->stream_create = stream_create;
  a->stream_destroy = stream_destroy;
  a->stream_synchronize = stream_synchronize;
  a->event_create = event_create;
  a->event_destroy = event_destroy;
  a->event_record = event_record;
  a->event_synchronize = event_synchronize;
  a->stream_wait_event = stream_wait_event;
  a->copy_host_to_device = copy_host_to_device;
  a->copy_device_to_host = copy_device_to_host;
  a->copy_device_to_device = copy_device_to_device;
  a->op_supported = op_supported;
  a->op_run = op_run;
  /* No graph compiler: graph_* and executable_* stay NULL, and
   * RMA_CAP_GRAPH_COMPILE is not claimed. */
}

/* ABI negotiation. The core passes the highest version it speaks. Tables
 * only grow at the end, so the table of RMA_ABI_VERSION (the header this was
 * compiled against) also serves any older version down to
 * RMA_TEMPLATE_MIN_ABI: answer the lower of the two. A core older than that
 * gets RMA_STATUS_ABI_MISMATCH naming both versions. */
RMA_PLUGIN_EXPORT rma_status rma_plugin_open(uint32_t core_abi_version, const rma_host_api* host,
                                             const rma_plugin_api** out, rma_error* err) {
  uint32_t abi_version;
  if (!out) return fail(err, RMA_STATUS_INVALID_ARGUMENT, RMA_TEMPLATE_NAME ": out is NULL");
  if (core_abi_version < RMA_TEMPLATE_MIN_ABI)
    return fail(err, RMA_STATUS_ABI_MISMATCH,
                RMA_TEMPLATE_NAME " plugin implements ABI v%u..v%u; the core speaks up to v%u",
                (unsigned)RMA_TEMPLATE_MIN_ABI, (unsigned)RMA_ABI_VERSION,
                (unsigned)core_abi_version);
  abi_version = core_abi_version < RMA_ABI_VERSION ? core_abi_version : RMA_ABI_VERSION;
  g_host = host;
  /* VENDOR: probe for the driver here; without hardware, return
   * RMA_STATUS_NOT_FOUND with a one-line reason and the core skips the
   * plugin quietly, e.g.
   *   return fail(err, RMA_STATUS_NOT_FOUND, "no <vendor> driver found");  */
  fill_api(&g_api, abi_version);
  *out = &g_api;
  log_message(RMA_LOG_DEBUG, "template plugin opened (" RMA_TEMPLATE_VERSION ")");
  return RMA_STATUS_OK;
}
