// opencl gather: tuning knobs. None yet: one work-item per element of y;
// the indices are read back to the host and checked before the launch.
#pragma once
