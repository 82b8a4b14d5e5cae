// y[t, j] = table[ids[t], j], dequantized to f32 and stored in the output
// dtype OUT (a build option: f32, f16 or bf16, see common/kernels/dtype.cl);
// a 2-D range, dim 0 the column j, dim 1 the token t. The table is addressed
// in bytes: row_bytes per row, blocks laid out as include/rma/formats.h, or
// plain f32 / f16 / bf16 elements. Decoding follows include/rma/block_decode.h
// operation for operation (no contraction), so results match the core's
// dequantize_row exactly, and each value is rounded once to OUT. ids are i32
// or i64 (ids_i64); the host has checked them against the vocabulary.
#pragma OPENCL FP_CONTRACT OFF

#include "common/kernels/block_decode.cl"
#include "common/kernels/dtype.cl"

__kernel void embedding(__global const uchar* ids, ulong ids_off, int ids_i64,
                        __global const uchar* table, ulong table_off, ulong row_bytes, int fmt,
                        __global STORAGE(OUT)* y, ulong y_off, long h, long tokens) {
  const long j = get_global_id(0), t = get_global_id(1);
  if (j >= h || t >= tokens) return;
  const long id = ids_i64 ? *(__global const long*)(ids + ids_off + t * 8)
                          : (long)(*(__global const int*)(ids + ids_off + t * 4));
  STORE(OUT, decode(table + table_off + id * row_bytes, fmt, j), y_off + t * h + j, y);
}
