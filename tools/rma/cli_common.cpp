#include "cli_common.h"

#include <cstdio>

#include "commands.h"
#include "rma/error.h"
#include "rma/ops.h"

namespace rma::cli {

std::vector<Device> resolve_devices(const std::string& spec) {
  Runtime& rt = Runtime::get();
  if (spec == "all") {
    std::vector<Device> all = rt.devices();
    if (all.empty())
      throw Error(ErrorCode::kNotFound,
                  "no devices: no plugin loaded a device (see 'rma info' for skipped plugins)");
    return all;
  }
  try {
    return {rt.device(spec)};
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
    std::string present;
    for (const Device& d : rt.devices()) present += (present.empty() ? "" : ", ") + d.name();
    throw UsageError("no device '" + spec + "'; devices present: " +
                     (present.empty() ? "none" : present) + " (or 'auto', 'all')");
  }
}

rma_op resolve_op(const std::string& name) {
  if (const auto op = parse_op(name)) return *op;
  std::string known;
  for (rma_op op : all_ops()) known += (known.empty() ? "" : ", ") + std::string(op_name(op));
  throw UsageError("unknown op '" + name + "'; ops: " + known);
}

std::string device_type_name(int32_t type) {
  switch (type) {
    case RMA_DEVICE_CPU:
      return "cpu";
    case RMA_DEVICE_GPU:
      return "gpu";
    case RMA_DEVICE_NPU:
      return "npu";
    case RMA_DEVICE_OTHER:
      return "other";
  }
  return "unknown (" + std::to_string(type) + ")";
}

std::vector<std::string> capability_names(uint64_t caps) {
  static const std::pair<uint64_t, const char*> kNames[] = {
      {RMA_CAP_F16, "f16"},
      {RMA_CAP_BF16, "bf16"},
      {RMA_CAP_QUANTIZED, "quantized"},
      {RMA_CAP_HOST_MEMORY, "host_memory"},
      {RMA_CAP_OP_KERNELS, "op_kernels"},
      {RMA_CAP_GRAPH_COMPILE, "graph_compile"},
      {RMA_CAP_ASYNC, "async"},
  };
  std::vector<std::string> out;
  uint64_t known = 0;
  for (const auto& [bit, n] : kNames) {
    known |= bit;
    if (caps & bit) out.emplace_back(n);
  }
  // Bits from a newer ABI than this tool knows are shown, not dropped.
  if (caps & ~known) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(caps & ~known));
    out.emplace_back(buf);
  }
  return out;
}

std::string format_bytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, kUnits[u]);
  return buf;
}

std::vector<std::string> wrap(const std::string& text, size_t width) {
  std::vector<std::string> lines;
  std::string line;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find(' ', i);
    if (j == std::string::npos) j = text.size();
    const std::string word = text.substr(i, j - i);
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      lines.push_back(line);
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    i = j + 1;
  }
  if (!line.empty() || lines.empty()) lines.push_back(line);
  return lines;
}

}  // namespace rma::cli
