// libFuzzer target over the GGUF reader: any input must either parse or
// fail with rma::Error — never crash, hang, read out of bounds (ASan) or
// throw anything else. A file that parses is also asked for its config and
// tokenizer, and every tensor byte range is touched.
//
//   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DRMA_BUILD_FUZZ=ON
//   ninja -C build-fuzz gguf_fuzz gguf_fuzz_seeds
//   build-fuzz/bin/gguf_fuzz_seeds /tmp/gguf-corpus
//   build-fuzz/bin/gguf_fuzz /tmp/gguf-corpus -max_total_time=60
#include <cstddef>
#include <cstdint>

#include "llm/model_file_internal.h"
#include "rma/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rma::llm;
  std::shared_ptr<ModelFile> model;
  try {
    model = read_gguf(data, size, "fuzz.gguf", nullptr);
  } catch (const rma::Error&) {
    return 0;
  }
  // Tensor ranges must lie inside the input: ASan reports any byte outside.
  volatile uint8_t sink = 0;
  for (const TensorInfo& t : model->tensors()) {
    sink = sink + t.data[0];
    sink = sink + t.data[t.nbytes - 1];
  }
  try {
    model->config();
  } catch (const rma::Error&) {
  }
  try {
    model->tokenizer();
  } catch (const rma::Error&) {
  }
  return 0;
}
