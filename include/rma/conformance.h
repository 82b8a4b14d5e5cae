// rma/conformance.h — op-by-op conformance of a device against the reference.
// Each op x dtype x shape set (odd sizes, size 1, empty, large) runs on the
// device and on the reference implementation with the same inputs; outputs
// are compared with the op's stated tolerance. This is what a vendor runs to
// certify a plugin (`rma test <device>`).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "rma/device.h"

namespace rma {

struct ConformanceResult {
  std::string op;
  std::string dtype;   // "f32", "q4_0 x f32", ...
  std::string shapes;  // short description of the case
  double max_error = 0;  // max |device - reference| / (atol + rtol*|ref|) normalised; <= 1 passes
  double max_abs_error = 0;
  std::string status;  // "pass", "FAIL", "unsupported", "error"
  std::string detail;  // why, for anything but pass
};

struct ConformanceOptions {
  std::string op;  // only this op when non-empty
  uint64_t seed = 1234;
};

struct ConformanceSummary {
  int passed = 0;
  int failed = 0;       // FAIL or error
  int unsupported = 0;  // cases the device declined (reported, not failures)
};

// True when `device` accepts the first f32 conformance case of every op in
// `ops` (the Tier-1 ops when empty; Tier-2 ops a device lacks fall back in
// graphs): the test behind device "auto".
bool device_supports_ops(const Device& device, const std::vector<rma_op>& ops);

// Runs every case on `device`, calling `on_result` as each finishes.
ConformanceSummary run_conformance(const Device& device, const ConformanceOptions& options,
                                   const std::function<void(const ConformanceResult&)>& on_result);

}  // namespace rma
