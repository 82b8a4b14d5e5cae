#include "rma/error.h"

#include <cstring>

namespace rma {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kOutOfMemory: return "out of memory";
    case ErrorCode::kDevice: return "device error";
    case ErrorCode::kAbiMismatch: return "ABI mismatch";
    case ErrorCode::kInternal: return "internal error";
    case ErrorCode::kNotFound: return "not found";
  }
  return "error";
}

namespace {
std::string compose(const std::string& what, const std::string& op, const std::string& device) {
  std::string prefix;
  if (!op.empty()) prefix += op;
  if (!device.empty()) prefix += (prefix.empty() ? "" : " on ") + device;
  return prefix.empty() ? what : prefix + ": " + what;
}
}  // namespace

Error::Error(ErrorCode code, std::string what, std::string op, std::string device)
    : std::runtime_error(compose(what, op, device)),
      code_(code),
      op_(std::move(op)),
      device_(std::move(device)),
      message_(std::move(what)) {}

void check_status(rma_status status, const rma_error& err, const std::string& op,
                  const std::string& device) {
  if (status == RMA_STATUS_OK) return;
  std::string msg(err.message, strnlen(err.message, sizeof(err.message)));
  if (msg.empty()) msg = "failed with status " + std::to_string(static_cast<int>(status));
  const bool known = status >= RMA_STATUS_INVALID_ARGUMENT && status <= RMA_STATUS_NOT_FOUND;
  throw Error(known ? static_cast<ErrorCode>(status) : ErrorCode::kInternal, msg, op, device);
}

}  // namespace rma
