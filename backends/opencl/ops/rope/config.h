// opencl rope: tuning knobs. None yet: one work-item per rotated pair (or
// passed-through element) and the driver's choice of work-group size.
#pragma once
