// Scatters rows of src[T, row] (row = Hkv * D) into cache[slots, row]: a 2-D
// range, dim 0 the element in the row, dim 1 the token. src has dtype
// SRC_DTYPE and the cache CACHE_DTYPE (each f32, f16 or bf16): a value is
// widened to f32 and rounded once to the cache's dtype (exact when they
// match). Tokens with a negative slot are skipped. slot_mapping is i32 or i64
// (slots_i64), addressed by byte offset; the host has checked every slot <
// capacity.
#include "common/kernels/dtype.cl"

__kernel void fill_kv_cache(__global const STORAGE(SRC_DTYPE)* src, ulong src_off,
                            __global STORAGE(CACHE_DTYPE)* cache, ulong cache_off,
                            __global const uchar* slots, ulong slots_off, int slots_i64, long row,
                            long tokens) {
  const long e = get_global_id(0), t = get_global_id(1);
  if (e >= row || t >= tokens) return;
  const long slot = slots_i64 ? *(__global const long*)(slots + slots_off + t * 8)
                              : (long)(*(__global const int*)(slots + slots_off + t * 4));
  if (slot < 0) return;
  STORE(CACHE_DTYPE, LOAD(SRC_DTYPE, src_off + t * row + e, src), cache_off + slot * row + e,
        cache);
}
