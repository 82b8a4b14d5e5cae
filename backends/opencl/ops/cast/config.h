// opencl cast: tuning knobs. None yet: one work-item per element, one
// program per (source, target) dtype pair; a cast to the same dtype is a
// buffer copy.
#pragma once
