// opencl slice: tuning knobs. None: a plan copy (one work-item per element
// of y) or, when the window is one contiguous run, a buffer copy.
#pragma once
