// cuda layer_norm: tuning knobs. One block per row, sized like rms_norm's
// (common/kernel_utils.cuh row_block_threads).
#pragma once
