// Helpers shared by the `rma` subcommands.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rma/device.h"
#include "rma/plugin.h"

namespace rma::cli {

// Devices named by `spec`: one device ("cpu", "opencl:0", "auto"), or every
// device for "all". Throws UsageError listing the devices present when
// nothing matches.
std::vector<Device> resolve_devices(const std::string& spec);

// rma_op by name; throws UsageError listing the op names otherwise.
rma_op resolve_op(const std::string& name);

std::string format_bytes(uint64_t bytes);  // "15.6 GiB"

// Splits `text` at spaces into lines of at most `width` characters (a word
// longer than `width` gets a line of its own).
std::vector<std::string> wrap(const std::string& text, size_t width);

}  // namespace rma::cli
