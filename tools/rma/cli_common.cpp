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
