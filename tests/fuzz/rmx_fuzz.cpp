// libFuzzer target over the .rmx reader: any input must either load as a
// compiled model or fail with rma::Error — never crash, hang, read out of
// bounds (ASan) or throw anything else. A model that loads has its graphs
// validated and, when static, its plan built, which imports its prepared
// ops (the CPU's packed linear weights) through the plugin.
//
//   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DRMA_BUILD_FUZZ=ON
//   ninja -C build-fuzz rmx_fuzz rmx_fuzz_seeds
//   build-fuzz/bin/rmx_fuzz_seeds /tmp/rmx-corpus     # small compiled models
//   build-fuzz/bin/rmx_fuzz /tmp/rmx-corpus -max_total_time=60
// (scripts/fuzz.sh rmx does all of it.)
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rma/compile/compiler.h"
#include "rma/device.h"
#include "rma/error.h"
#include "rma/graph/executor.h"

namespace {

const rma::Device& host() {
  static const rma::Device cpu = rma::Runtime::get().device("cpu");
  return cpu;
}

void load(const uint8_t* data, size_t size) {
  using rma::compile::CompiledModel;
  try {
    const CompiledModel model =
        CompiledModel::from_bytes(std::vector<uint8_t>(data, data + size), "fuzz.rmx", host());
    model.graph().validate();
    if (model.is_static()) {
      model.specialized()->validate();
      const rma::graph::Plan plan = model.build_plan();
      (void)plan.prepared_count();
    }
  } catch (const rma::Error&) {
  }
}

}  // namespace

// The runtime (plugins, devices) is made once, before any input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  host();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  load(data, size);
  host().release_cached_memory();
  return 0;
}
