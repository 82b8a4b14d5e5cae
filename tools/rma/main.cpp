// rma — the command line (temporary minimal version; replaced by the CLI work).
#include <cstdio>

#include "rma/device.h"

int main() {
  auto& rt = rma::Runtime::get();
  for (const auto& d : rt.devices()) std::printf("%s\n", d.name().c_str());
  return 0;
}
