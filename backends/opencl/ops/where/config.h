// opencl where: tuning knobs. None yet: one work-item per element of y over
// the collapsed plan's 2-D range, the driver's choice of work-group size.
#pragma once
