// Storage-only float dtypes for kernels that compute in f32 (docs/ops.md:
// arithmetic in f32, each output rounded once to its dtype). Loads widen f32,
// f16 or bf16 elements to float exactly; stores round a float once, to
// nearest even. Spliced into kernel sources at build time by
// cmake/embed_kernel.cmake.
//
// No extension is needed: f16 is stored through the core vstore_halfN_rte
// built-ins (OpenCL 1.0; half may be a pointer type without cl_khr_fp16) and
// widened with integer arithmetic; bf16 is a ushort holding the top half of
// an f32's bits, rounded with integer arithmetic exactly as
// include/rma/half.h does (NaN stays a quiet NaN). On a device with
// cl_khr_fp16 the same code is correct.
//
// A dtype is one of the tokens f32, f16, bf16, given by the launcher as a
// build option (-DDTYPE=f16, or one macro per tensor role, e.g.
// -DCACHE_DTYPE=bf16), so every (kernel, dtype) pair is its own program in
// the binary cache. Kernels write:
//   STORAGE(dt)                 the element type in global memory
//   LOAD(dt, i, p)              float  <- p[i]
//   LOAD4(dt, i, p), LOAD8      floatN <- p[N*i .. N*i+N) (vloadN addressing:
//                               element alignment suffices)
//   STORE(dt, v, i, p)          p[i] <- v, rounded to dt
//   STORE4(dt, v, i, p), STORE8 p[N*i .. N*i+N) <- v, rounded to dt
//   ROUND(dt, v), ROUND8        the value a float (float8) takes once stored
//   IS_F32(dt)                  1 for f32, else 0; usable in #if
// Pointers are __global.

#define RMA_CAT_(a, b) a##b
#define RMA_CAT(a, b) RMA_CAT_(a, b)

#define RMA_STORAGE_f32 float
#define RMA_STORAGE_f16 half
#define RMA_STORAGE_bf16 ushort
#define RMA_DTYPE_ID_f32 1
#define RMA_DTYPE_ID_f16 2
#define RMA_DTYPE_ID_bf16 3

#define STORAGE(dt) RMA_CAT(RMA_STORAGE_, dt)
// An unknown or missing token gives id 0: IS_F32 is then false and the
// first LOAD fails to compile, naming the bad function.
#define IS_F32(dt) (RMA_CAT(RMA_DTYPE_ID_, dt) == 1)

#define LOAD(dt, i, p) RMA_CAT(load1_, dt)((i), (p))
#define LOAD4(dt, i, p) RMA_CAT(load4_, dt)((i), (p))
#define LOAD8(dt, i, p) RMA_CAT(load8_, dt)((i), (p))
#define STORE(dt, v, i, p) RMA_CAT(store1_, dt)((v), (i), (p))
#define STORE4(dt, v, i, p) RMA_CAT(store4_, dt)((v), (i), (p))
#define STORE8(dt, v, i, p) RMA_CAT(store8_, dt)((v), (i), (p))
#define ROUND(dt, v) RMA_CAT(round1_, dt)(v)
#define ROUND8(dt, v) RMA_CAT(round8_, dt)(v)

// ---- f32: plain loads and stores
inline float load1_f32(size_t i, __global const float* p) { return p[i]; }
inline float4 load4_f32(size_t i, __global const float* p) { return vload4(i, p); }
inline float8 load8_f32(size_t i, __global const float* p) { return vload8(i, p); }
inline void store1_f32(float v, size_t i, __global float* p) { p[i] = v; }
inline void store4_f32(float4 v, size_t i, __global float* p) { vstore4(v, i, p); }
inline void store8_f32(float8 v, size_t i, __global float* p) { vstore8(v, i, p); }
inline float round1_f32(float v) { return v; }
inline float8 round8_f32(float8 v) { return v; }

// ---- f16: read and written in global memory as raw ushort bits.
// Loads widen the bits with integer arithmetic (exact: normals rebias the
// exponent, subnormals are m * 2^-24, inf and NaN keep their payload).
// Stores round with the core vstore_half4/8_rte built-ins (round to nearest
// even) into an aligned private vector that is then stored as ushorts.
// Measured on PoCL 3.1 (x86), each choice over the obvious one: vload_half8
// straight from global memory compiles to a 16-byte-aligned move that faults
// at an offset that is only half-aligned (all the spec asks); the scalar
// vload_half / vstore_half are emulated in software (~5x slower); and after a
// hardware widening LLVM rewrites comparisons of the widened value (exp's
// range checks, fmax) into per-lane half compares (silu_and_mul and softmax
// 2-3x slower than with this load). The vector stores on private data become
// F16C conversions.
#define RMA_F16_BITS(p) ((__global ushort*)(p))
#define RMA_F16_CBITS(p) ((__global const ushort*)(p))
// half_bits_to_float, half_bits_to_float4, half_bits_to_float8 (scalar
// select(a, b, c) is c ? b : a; vector select takes the lanes' sign bits).
#define RMA_HALF_BITS_TO_FLOAT(N)                                   \
  inline float##N half_bits_to_float##N(ushort##N bits) {           \
    const uint##N h = convert_uint##N(bits), em = h & 0x7FFFu;      \
    const float##N normal = as_float##N((em << 13) + (112u << 23)); \
    const float##N subnormal = convert_float##N(em) * 0x1p-24f;     \
    const float##N inf_nan = as_float##N((em << 13) | 0x7F800000u); \
    float##N f = select(normal, subnormal, em < 0x400u);            \
    f = select(f, inf_nan, em >= 0x7C00u);                          \
    return as_float##N(as_uint##N(f) | ((h & 0x8000u) << 16));      \
  }
RMA_HALF_BITS_TO_FLOAT()
RMA_HALF_BITS_TO_FLOAT(4)
RMA_HALF_BITS_TO_FLOAT(8)

inline ushort4 float4_to_half_bits(float4 v) {
  ushort4 bits;
  vstore_half4_rte(v, 0, (__private half*)&bits);
  return bits;
}
inline ushort8 float8_to_half_bits(float8 v) {
  ushort8 bits;
  vstore_half8_rte(v, 0, (__private half*)&bits);
  return bits;
}

inline float load1_f16(size_t i, __global const half* p) {
  return half_bits_to_float(RMA_F16_CBITS(p)[i]);
}
inline float4 load4_f16(size_t i, __global const half* p) {
  return half_bits_to_float4(vload4(i, RMA_F16_CBITS(p)));
}
inline float8 load8_f16(size_t i, __global const half* p) {
  return half_bits_to_float8(vload8(i, RMA_F16_CBITS(p)));
}
// The scalar store rounds lane 0 of a 4-vector (see above).
inline void store1_f16(float v, size_t i, __global half* p) {
  RMA_F16_BITS(p)[i] = float4_to_half_bits((float4)(v)).s0;
}
inline void store4_f16(float4 v, size_t i, __global half* p) {
  vstore4(float4_to_half_bits(v), i, RMA_F16_BITS(p));
}
inline void store8_f16(float8 v, size_t i, __global half* p) {
  vstore8(float8_to_half_bits(v), i, RMA_F16_BITS(p));
}
inline float round1_f16(float v) {
  return half_bits_to_float(float4_to_half_bits((float4)(v)).s0);
}
inline float8 round8_f16(float8 v) { return half_bits_to_float8(float8_to_half_bits(v)); }

// ---- bf16: the upper 16 bits of an f32
inline float bf16_to_float(ushort b) { return as_float((uint)b << 16); }
inline ushort float_to_bf16(float v) {
  const uint x = as_uint(v);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (ushort)((x >> 16) | 0x40u);  // quiet NaN
  return (ushort)((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}
// The same, N lanes at a time (select picks the quiet NaN where the mask is set).
#define RMA_BF16_VECTOR(N)                                                       \
  inline float##N bf16_to_float##N(ushort##N b) {                                \
    return as_float##N(convert_uint##N(b) << 16);                                \
  }                                                                              \
  inline ushort##N float##N##_to_bf16(float##N v) {                              \
    const uint##N x = as_uint##N(v);                                             \
    const uint##N rounded = (x + 0x7FFFu + ((x >> 16) & 1u)) >> 16;              \
    const uint##N quiet_nan = (x >> 16) | 0x40u;                                 \
    const int##N is_nan = (x & 0x7FFFFFFFu) > 0x7F800000u;                       \
    return convert_ushort##N(select(rounded, quiet_nan, is_nan));                \
  }
RMA_BF16_VECTOR(4)
RMA_BF16_VECTOR(8)

inline float load1_bf16(size_t i, __global const ushort* p) { return bf16_to_float(p[i]); }
inline float4 load4_bf16(size_t i, __global const ushort* p) {
  return bf16_to_float4(vload4(i, p));
}
inline float8 load8_bf16(size_t i, __global const ushort* p) {
  return bf16_to_float8(vload8(i, p));
}
inline void store1_bf16(float v, size_t i, __global ushort* p) { p[i] = float_to_bf16(v); }
inline void store4_bf16(float4 v, size_t i, __global ushort* p) {
  vstore4(float4_to_bf16(v), i, p);
}
inline void store8_bf16(float8 v, size_t i, __global ushort* p) {
  vstore8(float8_to_bf16(v), i, p);
}
inline float round1_bf16(float v) { return bf16_to_float(float_to_bf16(v)); }
inline float8 round8_bf16(float8 v) { return bf16_to_float8(float8_to_bf16(v)); }
