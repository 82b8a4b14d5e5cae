// cuda gelu_and_mul: tuning knobs. None yet: 256 threads per block over a
// row's columns, rows over the grid (common/act_and_mul.cuh).
#pragma once
