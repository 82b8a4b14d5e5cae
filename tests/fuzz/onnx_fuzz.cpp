// libFuzzer target over the ONNX importer: any input must either import or
// fail with rma::Error — never crash, hang, read out of bounds (ASan) or
// throw anything else. An imported graph has every constant's bytes read
// (initializers wrap the input's memory without copying) and is validated.
//
//   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DRMA_BUILD_FUZZ=ON
//   ninja -C build-fuzz onnx_fuzz
//   .venv/bin/python tests/onnx/make_models.py --corpus /tmp/onnx-corpus   # seeds
//   build-fuzz/bin/onnx_fuzz /tmp/onnx-corpus -max_total_time=60
#include <cstddef>
#include <cstdint>

#include "rma/device.h"
#include "rma/error.h"
#include "rma/graph/onnx.h"

namespace {

// Constants live on the host CPU device, whose pool keeps freed blocks for
// reuse; handing them back after each input keeps the leak checker quiet.
const rma::Device& host() {
  static const rma::Device cpu = rma::Runtime::get().device("cpu");
  return cpu;
}

void import_and_read(const uint8_t* data, size_t size) {
  using namespace rma::graph;
  Graph graph;
  try {
    graph = import_onnx_bytes(data, size, {}, "fuzz.onnx");
  } catch (const rma::Error&) {
    return;
  }
  volatile uint8_t sink = 0;
  for (const Value& v : graph.values()) {
    if (!v.constant) continue;
    for (uint8_t byte : v.constant->to_host_bytes()) sink = sink + byte;
  }
  graph.validate();
}

}  // namespace

// The runtime (plugins, devices) is made once, before any input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  host();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  import_and_read(data, size);
  host().release_cached_memory();
  return 0;
}
