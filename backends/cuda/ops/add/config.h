// cuda add: tuning knobs. None yet: 256 threads per block, grid-stride
// loops (common/binary.cuh).
#pragma once
