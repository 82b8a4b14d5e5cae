// Scatters rows of src[T, row] (row = Hkv * D) into cache[slots, row], f32:
// a 2-D range, dim 0 the element in the row, dim 1 the token. Tokens with a
// negative slot are skipped. slot_mapping is i32 or i64 (slots_i64),
// addressed by byte offset; the host has checked every slot < capacity.
__kernel void fill_kv_cache_f32(__global const float* src, ulong src_off, __global float* cache,
                                ulong cache_off, __global const uchar* slots, ulong slots_off,
                                int slots_i64, long row, long tokens) {
  const long e = get_global_id(0), t = get_global_id(1);
  if (e >= row || t >= tokens) return;
  const long slot = slots_i64 ? *(__global const long*)(slots + slots_off + t * 8)
                              : (long)(*(__global const int*)(slots + slots_off + t * 4));
  if (slot < 0) return;
  cache[cache_off + slot * row + e] = src[src_off + t * row + e];
}
