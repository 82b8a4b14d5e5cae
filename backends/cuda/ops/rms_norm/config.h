// cuda rms_norm: tuning knobs. One block per row; its size grows with the
// row (common/kernel_utils.cuh row_block_threads: about four elements per
// thread, 32 to 1024 threads).
#pragma once
