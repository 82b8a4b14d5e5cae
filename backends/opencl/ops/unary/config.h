// opencl unary: tuning knobs. None yet: one work-item per element, the
// driver's choice of work-group size, one program per (kind, dtype).
#pragma once
