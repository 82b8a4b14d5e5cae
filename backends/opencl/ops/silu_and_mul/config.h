// opencl silu_and_mul: tuning knobs. None: the kernel's 8 outputs per work-item
// (float8) is fixed in kernels/silu_and_mul.cl, and the driver picks the
// work-group size. Measured on PoCL CPU, T=128 I=1536: one work-item per
// scalar output with a division for the row was several times slower.
#pragma once
