/*
 * rma/formats.h — in-memory layouts of the block-quantized dtypes (C99).
 *
 * Byte-for-byte the GGUF/ggml block layouts, so GGUF weights load without
 * repacking. A row of K elements is K / RMA_QK_* consecutive blocks.
 * Scales are IEEE half floats stored as uint16_t.
 */
#ifndef RMA_FORMATS_H
#define RMA_FORMATS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RMA_QK8_0 32
#define RMA_QK4_0 32
#define RMA_QK4_1 32
#define RMA_QK_K 256
#define RMA_K_SCALE_SIZE 12

/* x[i] = d * qs[i] */
typedef struct rma_block_q8_0 {
  uint16_t d;
  int8_t qs[RMA_QK8_0];
} rma_block_q8_0;

/* x[i] = d * (nibble - 8); element i < 16 is the low nibble of qs[i],
 * element i + 16 the high nibble of qs[i]. */
typedef struct rma_block_q4_0 {
  uint16_t d;
  uint8_t qs[RMA_QK4_0 / 2];
} rma_block_q4_0;

/* x[i] = d * nibble + m; nibble order as q4_0. */
typedef struct rma_block_q4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[RMA_QK4_1 / 2];
} rma_block_q4_1;

/* 8 sub-blocks of 32 with 6-bit scales and mins packed in `scales`:
 * x = d * sc * nibble - dmin * mn. */
typedef struct rma_block_q4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[RMA_K_SCALE_SIZE];
  uint8_t qs[RMA_QK_K / 2];
} rma_block_q4_K;

/* As q4_K with a fifth bit per element in qh: x = d * sc * q5 - dmin * mn. */
typedef struct rma_block_q5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[RMA_K_SCALE_SIZE];
  uint8_t qh[RMA_QK_K / 8];
  uint8_t qs[RMA_QK_K / 2];
} rma_block_q5_K;

/* 16 sub-blocks of 16 with int8 scales: x = d * sc * (q6 - 32); the low 4
 * bits of q6 in ql, the high 2 bits in qh. */
typedef struct rma_block_q6_K {
  uint8_t ql[RMA_QK_K / 2];
  uint8_t qh[RMA_QK_K / 4];
  int8_t scales[RMA_QK_K / 16];
  uint16_t d;
} rma_block_q6_K;

#ifdef __cplusplus
static_assert(sizeof(rma_block_q8_0) == 34, "q8_0 layout");
static_assert(sizeof(rma_block_q4_0) == 18, "q4_0 layout");
static_assert(sizeof(rma_block_q4_1) == 20, "q4_1 layout");
static_assert(sizeof(rma_block_q4_K) == 144, "q4_K layout");
static_assert(sizeof(rma_block_q5_K) == 176, "q5_K layout");
static_assert(sizeof(rma_block_q6_K) == 210, "q6_K layout");
}
#endif

#endif /* RMA_FORMATS_H */
