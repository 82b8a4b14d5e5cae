// opencl concat: tuning knobs. None: one plan copy per non-empty input (a
// buffer copy when its window of y is contiguous, e.g. along axis 0).
#pragma once
