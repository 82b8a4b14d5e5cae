// opencl binary: tuning knobs. None yet: one work-item per output element
// over the collapsed plan's 2-D range (same-shape operands collapse to one
// dim, a row broadcast to two, so neither divides per element), the
// driver's choice of work-group size, one program per (kind, dtype).
#pragma once
