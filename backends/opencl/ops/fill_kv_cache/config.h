// opencl fill_kv_cache: tuning knobs. None yet: one work-item per copied
// element and the driver's choice of work-group size.
#pragma once
