// opencl add: tuning knobs. None of its own: it runs on the binary
// module's kernels (launch_binary), whose plans pick the launch shape.
#pragma once
