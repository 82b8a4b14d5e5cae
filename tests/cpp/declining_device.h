// Test helper: a real device seen through a plugin table that declines the
// Tier-2 ops gather and transpose (op_supported and op_run answer
// UNSUPPORTED) and forwards everything else. Fallback tests use it so they do
// not depend on which ops a backend happens to lack today.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "core/device_impl.h"
#include "rma/device.h"
#include "rma/ops.h"

namespace rma::test_support {

namespace declining_detail {
inline const rma_plugin_api* g_base = nullptr;

inline rma_status decline(const rma_op_call* call, rma_error* err) {
  if (!call || (call->op != RMA_OP_GATHER && call->op != RMA_OP_TRANSPOSE)) return RMA_STATUS_OK;
  if (err)
    std::snprintf(err->message, sizeof(err->message), "%s: this test device declines %s",
                  g_base->name, std::string(op_name(static_cast<rma_op>(call->op))).c_str());
  return RMA_STATUS_UNSUPPORTED;
}
inline rma_status op_supported(rma_device d, const rma_op_call* call, rma_error* err) {
  if (rma_status st = decline(call, err)) return st;
  return g_base->op_supported(d, call, err);
}
inline rma_status op_run(rma_device d, rma_stream s, const rma_op_call* call, rma_error* err) {
  if (rma_status st = decline(call, err)) return st;
  return g_base->op_run(d, s, call, err);
}
}  // namespace declining_detail

// `base` (one per process: the first call fixes it) declining gather and
// transpose, as a device named "<base name>-test".
inline Device declining_device(const Device& base) {
  namespace dd = declining_detail;
  static rma_plugin_api api = [&] {
    dd::g_base = &base.api();
    rma_plugin_api a = base.api();
    a.op_supported = dd::op_supported;
    a.op_run = dd::op_run;
    return a;
  }();
  static Plugin plugin(nullptr, &api, "(test)");
  static Device device = [&] {
    auto impl =
        std::make_shared<DeviceImpl>(plugin, base.handle(), base.index(), base.name() + "-test");
    impl->host_memory = base.host_memory();
    Device d(impl);
    impl->default_stream = std::make_unique<Stream>(d);
    return d;
  }();
  return device;
}

}  // namespace rma::test_support
