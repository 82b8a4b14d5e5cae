// Tuning knobs of the opencl pool2d op: none yet (one work-item per output
// element, the driver picks the work-group size).
#pragma once
