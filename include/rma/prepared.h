// rma/prepared.h — op calls prepared ahead of running them many times.
//
// A compiled plan runs each node with the same shapes and the same constant
// inputs (weights) every time. A plugin with op_prepare (rma/plugin.h) may
// then keep those constants in its own kernel layout — the CPU's linear
// pre-packs its weight into the GEMM's panel layout — and fix the choices it
// would otherwise make per call. A prepared op can be exported as bytes (an
// .rmx keeps them, docs/compiler.md) and imported again without the work.
//
//   auto p = ops::prepare(dev, RMA_OP_LINEAR, {{x_desc}, {w_desc, w}}, &attrs, {y_desc});
//   if (p) ops::run_prepared(*p, {x, w}, &attrs, {y}); else ops::run(...);
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rma/device.h"
#include "rma/ops.h"

namespace rma::ops {

class PreparedOp {
 public:
  PreparedOp(Device device, rma_op op, rma_prepared_op handle);
  ~PreparedOp();
  PreparedOp(const PreparedOp&) = delete;
  PreparedOp& operator=(const PreparedOp&) = delete;

  const Device& device() const { return device_; }
  rma_op op() const { return op_; }
  rma_prepared_op handle() const { return handle_; }
  // The plugin's serialized form, for an artifact.
  std::vector<uint8_t> export_bytes() const;

 private:
  Device device_;
  rma_op op_;
  rma_prepared_op handle_;
};

// One input of the call to prepare: its shape and dtype, and its data when
// it is a constant the plugin may keep (`constant` defined, on `device`).
struct PrepareArg {
  TensorDesc desc{};
  Tensor constant;
  bool absent = false;  // an optional input not given
};

// Whether the device's plugin prepares ops at all.
bool supports_prepare(const Device& device);

// Offers the call to the device's plugin. With `exported` bytes (from
// PreparedOp::export_bytes of an earlier process) the plugin rebuilds the
// prepared op from them; bytes it rejects as made for something else are
// logged and the op is prepared afresh. Returns nullptr when the plugin has
// nothing to prepare for this call (or no op_prepare). Errors (a corrupt
// export, a failed prepare) are rma::Error naming the op and device.
std::shared_ptr<PreparedOp> prepare(const Device& device, rma_op op,
                                    const std::vector<PrepareArg>& inputs, const void* attrs,
                                    const std::vector<TensorDesc>& outputs,
                                    std::span<const uint8_t> exported = {});

// ops::run through a prepared op: the same checks, then prepared_run. The
// call has the prepared one's op, attributes, dtypes and constants; other
// inputs' shapes may differ (the plugin refuses another weight).
std::vector<Tensor> run_prepared(const PreparedOp& prepared, const std::vector<Tensor>& inputs,
                                 const void* attrs, std::vector<Tensor> outputs = {});

// Prepared ops shared by plans of one model specialized for different input
// shapes (a dynamic session): keyed by device, op, attributes and the
// constants' identity (storage, offset, shape, dtype), so each weight is
// prepared once. Not thread-safe (a session serialises its runs).
class PreparedCache {
 public:
  // The entry for this call, prepared on first use (nullptr when the plugin
  // has nothing to prepare). Arguments as for prepare().
  std::shared_ptr<PreparedOp> get(const Device& device, rma_op op,
                                  const std::vector<PrepareArg>& inputs, const void* attrs,
                                  size_t attrs_size, const std::vector<TensorDesc>& outputs);
  size_t size() const { return entries_.size(); }

 private:
  std::map<std::string, std::shared_ptr<PreparedOp>> entries_;
};

}  // namespace rma::ops
