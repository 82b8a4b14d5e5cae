// Integer and bool dtypes beside dtype.cl's floats, so STORAGE, LOAD and
// STORE take any numeric dtype token: f32, f16, bf16, i32, i64, boolean
// (spliced after dtype.cl by cmake/embed_kernel.cmake). VALUE(dt) is the
// type a kernel computes in: float for floats; long for ints and bools
// (integer arithmetic is int64, wrapping, as docs/ops.md "Tier 2" says).
// Integer stores truncate (i32 wraps); bool stores v != 0.
#define RMA_STORAGE_i32 int
#define RMA_STORAGE_i64 long
#define RMA_STORAGE_boolean uchar
#define RMA_DTYPE_ID_i32 5
#define RMA_DTYPE_ID_i64 6
#define RMA_DTYPE_ID_boolean 7
#define RMA_VALUE_f32 float
#define RMA_VALUE_f16 float
#define RMA_VALUE_bf16 float
#define RMA_VALUE_i32 long
#define RMA_VALUE_i64 long
#define RMA_VALUE_boolean long

#define VALUE(dt) RMA_CAT(RMA_VALUE_, dt)
// Usable in #if.
#define IS_FLOAT(dt) (RMA_CAT(RMA_DTYPE_ID_, dt) >= 1 && RMA_CAT(RMA_DTYPE_ID_, dt) <= 3)
#define IS_BOOL(dt) (RMA_CAT(RMA_DTYPE_ID_, dt) == 7)

inline long load1_i32(size_t i, __global const int* p) { return p[i]; }
inline long load1_i64(size_t i, __global const long* p) { return p[i]; }
inline long load1_boolean(size_t i, __global const uchar* p) { return p[i]; }
inline void store1_i32(long v, size_t i, __global int* p) { p[i] = (int)v; }
inline void store1_i64(long v, size_t i, __global long* p) { p[i] = v; }
inline void store1_boolean(long v, size_t i, __global uchar* p) { p[i] = v != 0; }

// Two's complement arithmetic without signed overflow.
inline long wrap_add(long a, long b) { return as_long(as_ulong(a) + as_ulong(b)); }
inline long wrap_sub(long a, long b) { return as_long(as_ulong(a) - as_ulong(b)); }
inline long wrap_mul(long a, long b) { return as_long(as_ulong(a) * as_ulong(b)); }
