// `rma ops`: which ops each device runs. A cell is "Y" when the device
// accepts the op's canonical f32 conformance case (the check behind device
// "auto"), "-" when it declines; `rma test <device> --op <op>` goes case by case.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "rma/conformance.h"
#include "rma/ops.h"

namespace rma::cli {

void add_ops_command(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "ops", "Show the op x device support matrix (Y: runs the op's canonical f32 case)");
  auto device = std::make_shared<std::string>("all");
  cmd->add_option("-d,--device", *device, "Device to show: cpu, <plugin>:<index>, auto or all")
      ->capture_default_str();
  cmd->callback([device, &exit_code] {
    const std::vector<Device> devices = resolve_devices(*device);
    size_t op_width = 2;
    for (rma_op op : all_ops()) op_width = std::max(op_width, op_name(op).size());

    std::vector<size_t> widths;
    std::printf("%-*s", static_cast<int>(op_width), "op");
    for (const Device& d : devices) {
      widths.push_back(std::max<size_t>(d.name().size(), 3));
      std::printf("  %-*s", &d == &devices.back() ? 0 : static_cast<int>(widths.back()),
                  d.name().c_str());
    }
    std::printf("\n");
    for (rma_op op : all_ops()) {
      std::printf("%-*s", static_cast<int>(op_width), std::string(op_name(op)).c_str());
      // Padded between columns only, so no line ends in spaces.
      for (size_t i = 0; i < devices.size(); ++i)
        std::printf("  %-*s", i + 1 < devices.size() ? static_cast<int>(widths[i]) : 0,
                    device_supports_ops(devices[i], {op}) ? "Y" : "-");
      std::printf("\n");
    }
    std::printf(
        "\nY: accepts the op's canonical f32 case; -: declines it. "
        "'rma test <device> --op <op>' checks every case.\n");
    exit_code = 0;
  });
}

}  // namespace rma::cli
