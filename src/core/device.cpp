#include "rma/device.h"

#include <cstddef>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "core/device_impl.h"
#include "rma/error.h"
#include "rma/log.h"

namespace rma {

std::string device_type_name(int32_t type) {
  switch (type) {
    case RMA_DEVICE_CPU:
      return "cpu";
    case RMA_DEVICE_GPU:
      return "gpu";
    case RMA_DEVICE_NPU:
      return "npu";
    case RMA_DEVICE_OTHER:
      return "other";
  }
  return "unknown (" + std::to_string(type) + ")";
}

std::vector<std::string> capability_names(uint64_t caps) {
  static const std::pair<uint64_t, const char*> kNames[] = {
      {RMA_CAP_F16, "f16"},
      {RMA_CAP_BF16, "bf16"},
      {RMA_CAP_QUANTIZED, "quantized"},
      {RMA_CAP_HOST_MEMORY, "host_memory"},
      {RMA_CAP_OP_KERNELS, "op_kernels"},
      {RMA_CAP_GRAPH_COMPILE, "graph_compile"},
      {RMA_CAP_ASYNC, "async"},
      {RMA_CAP_CAPTURE, "capture"},
  };
  std::vector<std::string> out;
  uint64_t known = 0;
  for (const auto& [bit, n] : kNames) {
    known |= bit;
    if (caps & bit) out.emplace_back(n);
  }
  // Bits from a newer ABI than this build knows are shown, not dropped.
  if (caps & ~known) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(caps & ~known));
    out.emplace_back(buf);
  }
  return out;
}

namespace {
rma_error make_error() { return rma_error{sizeof(rma_error), RMA_ABI_VERSION, {0}}; }
}  // namespace

// ------------------------------------------------------------------ Buffer
Buffer::Buffer(std::shared_ptr<DeviceImpl> device, void* handle, uint64_t size,
               std::shared_ptr<MemoryPool> pool)
    : device_(std::move(device)), handle_(handle), size_(size), pool_(std::move(pool)) {}

Buffer::~Buffer() {
  // Stream-ordered reuse: every op runs on the device's default stream, so a
  // block handed out again is only touched after earlier work on it.
  if (pool_) pool_->release(handle_, size_);
}

void* Buffer::host_ptr() const {
  if (!device_->host_memory || !device_->api.buffer_host_ptr) return nullptr;
  return device_->api.buffer_host_ptr(device_->handle, handle_);
}

// -------------------------------------------------------------- DeviceImpl
DeviceImpl::DeviceImpl(const Plugin& p, rma_device h, int i, std::string n)
    : api(p.api()),
      handle(h),
      index(i),
      name(std::move(n)),
      plugin_name(p.api().name),
      pool(std::make_shared<MemoryPool>(*this)) {}

DeviceImpl::~DeviceImpl() = default;

// ------------------------------------------------------------------ Device
const std::string& Device::name() const { return impl_->name; }
const std::string& Device::plugin_name() const { return impl_->plugin_name; }
int Device::index() const { return impl_->index; }
bool Device::host_memory() const { return impl_->host_memory; }
const rma_plugin_api& Device::api() const { return impl_->api; }
rma_device Device::handle() const { return impl_->handle; }

rma_device_info Device::info() const {
  rma_device_info info{};
  info.struct_size = sizeof(info);
  info.abi_version = RMA_ABI_VERSION;
  rma_error err = make_error();
  check_status(impl_->api.device_get_info(impl_->handle, &info, &err), err, "device_get_info",
               impl_->name);
  return info;
}

std::shared_ptr<Buffer> Device::allocate(uint64_t bytes) const {
  std::shared_ptr<MemoryPool> pool;
  {
    std::lock_guard<std::mutex> lock(impl_->capture_mu);
    pool = impl_->capture_pool ? impl_->capture_pool : impl_->pool;
  }
  uint64_t actual = 0;
  void* h = pool->allocate(bytes, &actual);
  return std::make_shared<Buffer>(impl_, h, actual, std::move(pool));
}

MemoryStats Device::memory_stats() const { return impl_->pool->stats(); }
void Device::release_cached_memory() const { impl_->pool->release_cached(); }
Stream& Device::default_stream() const { return *impl_->default_stream; }
void Device::synchronize() const { impl_->default_stream->synchronize(); }

bool Device::supports(const rma_op_call& call, std::string* reason) const {
  if (!impl_->api.op_supported) {
    if (reason) *reason = "device runs no per-op kernels";
    return false;
  }
  rma_error err = make_error();
  const rma_status st = impl_->api.op_supported(impl_->handle, &call, &err);
  if (st != RMA_STATUS_OK && reason) *reason = err.message;
  return st == RMA_STATUS_OK;
}

// ----------------------------------------------------------------- capture
namespace {
// The plugin's capture functions, or nullptr when its table is too old to
// have them or it leaves them out.
bool has_capture(const rma_plugin_api& api) {
  return api.struct_size >= offsetof(rma_plugin_api, capture_destroy) + sizeof(void*) &&
         api.capture_begin && api.capture_end && api.capture_launch && api.capture_destroy;
}
}  // namespace

bool Device::supports_capture() const { return has_capture(impl_->api); }

void Device::begin_capture() const {
  if (!supports_capture())
    throw Error(ErrorCode::kUnsupported, "the plugin cannot capture stream work", "begin_capture",
                impl_->name);
  {
    std::lock_guard<std::mutex> lock(impl_->capture_mu);
    if (impl_->capture_pool)
      throw Error(ErrorCode::kInvalidArgument, "a capture is already recording", "begin_capture",
                  impl_->name);
    impl_->capture_pool = std::make_shared<MemoryPool>(*impl_, /*private_pool=*/true);
  }
  rma_error err = make_error();
  const rma_status st =
      impl_->api.capture_begin(impl_->handle, impl_->default_stream->handle(), &err);
  if (st != RMA_STATUS_OK) {
    std::lock_guard<std::mutex> lock(impl_->capture_mu);
    impl_->capture_pool.reset();
  }
  check_status(st, err, "capture_begin", impl_->name);
}

std::shared_ptr<Capture> Device::end_capture() const {
  std::shared_ptr<MemoryPool> pool;
  {
    std::lock_guard<std::mutex> lock(impl_->capture_mu);
    pool = std::move(impl_->capture_pool);
  }
  if (!pool)
    throw Error(ErrorCode::kInvalidArgument, "no capture is recording", "end_capture", impl_->name);
  rma_error err = make_error();
  rma_capture handle = nullptr;
  uint64_t num_ops = 0;
  check_status(impl_->api.capture_end(impl_->handle, impl_->default_stream->handle(), &handle,
                                      &num_ops, &err),
               err, "capture_end", impl_->name);
  return std::make_shared<Capture>(*this, handle, num_ops, std::move(pool));
}

void Device::abort_capture() const noexcept {
  std::shared_ptr<MemoryPool> pool;
  {
    std::lock_guard<std::mutex> lock(impl_->capture_mu);
    pool = std::move(impl_->capture_pool);
  }
  if (!pool) return;
  rma_error err = make_error();
  rma_capture handle = nullptr;
  uint64_t num_ops = 0;
  if (impl_->api.capture_end(impl_->handle, impl_->default_stream->handle(), &handle, &num_ops,
                             &err) == RMA_STATUS_OK &&
      handle)
    impl_->api.capture_destroy(impl_->handle, handle);
}

Capture::Capture(Device device, rma_capture handle, uint64_t num_ops,
                 std::shared_ptr<MemoryPool> pool)
    : device_(std::move(device)), handle_(handle), num_ops_(num_ops), pool_(std::move(pool)) {}

Capture::~Capture() {
  // Work already launched may still read the recording's buffers.
  try {
    device_.synchronize();
  } catch (const Error& e) {
    log::warn(std::string("capture: synchronize before destroy failed: ") + e.what());
  }
  device_.api().capture_destroy(device_.handle(), handle_);
}

void Capture::launch() {
  rma_error err = make_error();
  check_status(device_.api().capture_launch(device_.handle(), device_.default_stream().handle(),
                                            handle_, &err),
               err, "capture_launch", device_.name());
}

// ---------------------------------------------------------- kernel binaries

namespace {
// Whether the plugin's table is new enough to hold both kernel functions and
// sets them.
bool has_kernel_export(const rma_plugin_api& api) {
  return api.struct_size >= offsetof(rma_plugin_api, kernels_import) + sizeof(void*) &&
         api.kernels_export && api.kernels_import && api.blob_free;
}
}  // namespace

bool Device::supports_kernel_export() const { return has_kernel_export(impl_->api); }

std::vector<uint8_t> Device::export_kernels() const {
  if (!supports_kernel_export())
    throw Error(ErrorCode::kUnsupported, "the plugin cannot export kernel binaries",
                "export_kernels", impl_->name);
  rma_blob blob{sizeof(rma_blob), RMA_ABI_VERSION, nullptr, 0};
  rma_error err = make_error();
  check_status(impl_->api.kernels_export(impl_->handle, &blob, &err), err, "kernels_export",
               impl_->name);
  const auto* data = static_cast<const uint8_t*>(blob.data);
  std::vector<uint8_t> bytes(data, data + (data ? blob.size : 0));
  impl_->api.blob_free(&blob);
  return bytes;
}

void Device::import_kernels(std::span<const uint8_t> bytes) const {
  if (!supports_kernel_export())
    throw Error(ErrorCode::kUnsupported, "the plugin cannot import kernel binaries",
                "import_kernels", impl_->name);
  rma_error err = make_error();
  check_status(impl_->api.kernels_import(impl_->handle, bytes.data(), bytes.size(), &err), err,
               "kernels_import", impl_->name);
}

// ------------------------------------------------------------------ Stream
Stream::Stream(Device device) : device_(std::move(device)) {
  rma_error err = make_error();
  check_status(device_.api().stream_create(device_.handle(), &handle_, &err), err, "stream_create",
               device_.name());
}

Stream::~Stream() {
  if (handle_) device_.api().stream_destroy(device_.handle(), handle_);
}

void Stream::synchronize() {
  rma_error err = make_error();
  check_status(device_.api().stream_synchronize(device_.handle(), handle_, &err), err,
               "stream_synchronize", device_.name());
}

void Stream::wait(const Event& event) {
  rma_error err = make_error();
  check_status(device_.api().stream_wait_event(device_.handle(), handle_, event.handle(), &err),
               err, "stream_wait_event", device_.name());
}

// ------------------------------------------------------------------- Event
Event::Event(Device device) : device_(std::move(device)) {
  rma_error err = make_error();
  check_status(device_.api().event_create(device_.handle(), &handle_, &err), err, "event_create",
               device_.name());
}

Event::~Event() {
  if (handle_) device_.api().event_destroy(device_.handle(), handle_);
}

void Event::record(Stream& stream) {
  rma_error err = make_error();
  check_status(device_.api().event_record(device_.handle(), handle_, stream.handle(), &err), err,
               "event_record", device_.name());
}

void Event::synchronize() {
  rma_error err = make_error();
  check_status(device_.api().event_synchronize(device_.handle(), handle_, &err), err,
               "event_synchronize", device_.name());
}

}  // namespace rma
