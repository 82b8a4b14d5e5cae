// rma/error.h — the one exception type of the C++ API.
// Every failure the user can cause or observe (bad shapes, missing devices,
// out of memory, a plugin's refusal) is an rma::Error naming what failed,
// the op (if any) and the device (if any). Nothing aborts the process.
#pragma once

#include <stdexcept>
#include <string>

#include "rma/plugin.h"

namespace rma {

enum class ErrorCode : int32_t {
  kInvalidArgument = RMA_STATUS_INVALID_ARGUMENT,
  kUnsupported = RMA_STATUS_UNSUPPORTED,
  kOutOfMemory = RMA_STATUS_OUT_OF_MEMORY,
  kDevice = RMA_STATUS_DEVICE_ERROR,
  kAbiMismatch = RMA_STATUS_ABI_MISMATCH,
  kInternal = RMA_STATUS_INTERNAL,
  kNotFound = RMA_STATUS_NOT_FOUND,
};

const char* to_string(ErrorCode code);

class Error : public std::runtime_error {
 public:
  explicit Error(ErrorCode code, std::string what, std::string op = {}, std::string device = {});

  ErrorCode code() const { return code_; }
  const std::string& op() const { return op_; }          // empty when not about an op
  const std::string& device() const { return device_; }  // empty when not about a device
  const std::string& message() const { return message_; }  // without the op/device prefix

 private:
  ErrorCode code_;
  std::string op_;
  std::string device_;
  std::string message_;
};

// Throws an Error built from a plugin's status and message when status != OK.
void check_status(rma_status status, const rma_error& err, const std::string& op,
                  const std::string& device);

}  // namespace rma
