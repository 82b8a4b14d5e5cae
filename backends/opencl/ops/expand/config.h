// opencl expand: tuning knobs. None: a plan copy, one work-item per element
// of y; broadcast dims read x with stride 0.
#pragma once
