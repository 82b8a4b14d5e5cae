// opencl embedding: tuning knobs. None yet: one work-item per output
// element and the driver's choice of work-group size.
#pragma once
