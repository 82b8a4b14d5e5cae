// y = f(x) elementwise (docs/ops.md "unary"), one work-item per element.
// DTYPE (a build option): f32, f16 or bf16 compute f in f32 from the
// exactly widened x and round once; i32 and i64 compute in int64 (neg, abs,
// sign, relu, clip, wrapping as the reference); boolean takes not. KIND is
// the rma_unary_kind, a build option so each kind compiles to a straight
// loop. lo and hi are clip's integer bounds (the host rounds param0 up and
// param1 down and saturates them to the dtype's range).
#include "common/kernels/dtype.cl"
#include "common/kernels/numeric.cl"

#define UNARY_NEG 0
#define UNARY_ABS 1
#define UNARY_EXP 2
#define UNARY_LOG 3
#define UNARY_SQRT 4
#define UNARY_RSQRT 5
#define UNARY_RECIPROCAL 6
#define UNARY_SIN 7
#define UNARY_COS 8
#define UNARY_ERF 9
#define UNARY_TANH 10
#define UNARY_SIGMOID 11
#define UNARY_RELU 12
#define UNARY_LEAKY_RELU 13
#define UNARY_GELU 14
#define UNARY_GELU_TANH 15
#define UNARY_SILU 16
#define UNARY_FLOOR 17
#define UNARY_CEIL 18
#define UNARY_ROUND 19
#define UNARY_SIGN 20
#define UNARY_CLIP 21
#define UNARY_NOT 22

#if IS_FLOAT(DTYPE)
// NaN behaves as the reference's double code: relu(NaN) = 0, clip and
// leaky_relu keep it, sign passes it (and +-0) through.
inline float unary_value(float x, float p0, float p1) {
#if KIND == UNARY_NEG
  return -x;
#elif KIND == UNARY_ABS
  return fabs(x);
#elif KIND == UNARY_EXP
  return exp(x);
#elif KIND == UNARY_LOG
  return log(x);
#elif KIND == UNARY_SQRT
  return sqrt(x);
#elif KIND == UNARY_RSQRT
  return 1.f / sqrt(x);
#elif KIND == UNARY_RECIPROCAL
  return 1.f / x;
#elif KIND == UNARY_SIN
  return sin(x);
#elif KIND == UNARY_COS
  return cos(x);
#elif KIND == UNARY_ERF
  return erf(x);
#elif KIND == UNARY_TANH
  return tanh(x);
#elif KIND == UNARY_SIGMOID
  return 1.f / (1.f + exp(-x));
#elif KIND == UNARY_RELU
  return x > 0.f ? x : 0.f;
#elif KIND == UNARY_LEAKY_RELU
  return x > 0.f ? x : p0 * x;
#elif KIND == UNARY_GELU
  // As linear's and gelu_and_mul's gelu. (erfc(-x / sqrt 2) would avoid the
  // cancellation in 1 + erf for x < 0, which stays below the f32 bound of
  // 1e-5 absolute, but PoCL evaluates erfc 1.5x slower than erf.)
  return 0.5f * x * (1.f + erf(x * 0.70710678118654752f));
#elif KIND == UNARY_GELU_TANH
  // 0.5 (1 + tanh u) = sigmoid(2u): no cancellation for x < 0.
  const float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
  return x / (1.f + exp(-2.f * u));
#elif KIND == UNARY_SILU
  return x / (1.f + exp(-x));
#elif KIND == UNARY_FLOOR
  return floor(x);
#elif KIND == UNARY_CEIL
  return ceil(x);
#elif KIND == UNARY_ROUND
  return rint(x);  // halves to even
#elif KIND == UNARY_SIGN
  return x > 0.f ? 1.f : x < 0.f ? -1.f : x;
#elif KIND == UNARY_CLIP
  const float lower = x < p0 ? p0 : x;
  return p1 < lower ? p1 : lower;
#else
#error "unary: KIND is not a float kind"
#endif
}
#else
inline long unary_value(long x, long lo, long hi) {
#if KIND == UNARY_NEG
  return wrap_sub(0, x);
#elif KIND == UNARY_ABS
  return x < 0 ? wrap_sub(0, x) : x;
#elif KIND == UNARY_SIGN
  return (x > 0) - (x < 0);
#elif KIND == UNARY_RELU
  return x > 0 ? x : 0;
#elif KIND == UNARY_CLIP
  return min(max(x, lo), hi);
#elif KIND == UNARY_NOT
  return x == 0;
#else
#error "unary: KIND is not an integer or bool kind"
#endif
}
#endif

__kernel void unary(__global const STORAGE(DTYPE)* x, ulong x_off, __global STORAGE(DTYPE)* y,
                    ulong y_off, long n, float p0, float p1, long lo, long hi) {
  const long i = get_global_id(0);
  if (i >= n) return;
#if IS_FLOAT(DTYPE)
  STORE(DTYPE, unary_value(LOAD(DTYPE, x_off + i, x), p0, p1), y_off + i, y);
#else
  STORE(DTYPE, unary_value(LOAD(DTYPE, x_off + i, x), lo, hi), y_off + i, y);
#endif
}
