// unary: y = f(x) elementwise, docs/ops.md "unary". Floats are computed in
// double and rounded once; ints wrap as two's complement.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/reference/reference.h"

namespace rma::reference {
namespace {

double float_unary(int32_t kind, double x, double p0, double p1) {
  constexpr double kInvSqrt2 = 0.70710678118654752440;
  constexpr double kSqrt2OverPi = 0.79788456080286535588;
  switch (kind) {
    case RMA_UNARY_NEG:
      return -x;
    case RMA_UNARY_ABS:
      return std::fabs(x);
    case RMA_UNARY_EXP:
      return std::exp(x);
    case RMA_UNARY_LOG:
      return std::log(x);
    case RMA_UNARY_SQRT:
      return std::sqrt(x);
    case RMA_UNARY_RSQRT:
      return 1.0 / std::sqrt(x);
    case RMA_UNARY_RECIPROCAL:
      return 1.0 / x;
    case RMA_UNARY_SIN:
      return std::sin(x);
    case RMA_UNARY_COS:
      return std::cos(x);
    case RMA_UNARY_ERF:
      return std::erf(x);
    case RMA_UNARY_TANH:
      return std::tanh(x);
    case RMA_UNARY_SIGMOID:
      return 1.0 / (1.0 + std::exp(-x));
    case RMA_UNARY_RELU:
      return x > 0 ? x : 0.0;
    case RMA_UNARY_LEAKY_RELU:
      return x > 0 ? x : p0 * x;
    case RMA_UNARY_GELU:
      return 0.5 * x * (1.0 + std::erf(x * kInvSqrt2));
    case RMA_UNARY_GELU_TANH:
      return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
    case RMA_UNARY_SILU:
      return x / (1.0 + std::exp(-x));
    case RMA_UNARY_FLOOR:
      return std::floor(x);
    case RMA_UNARY_CEIL:
      return std::ceil(x);
    case RMA_UNARY_ROUND:
      return std::nearbyint(x);  // default mode: half to even
    case RMA_UNARY_SIGN:
      return x > 0 ? 1.0 : x < 0 ? -1.0 : x;  // keeps +-0 and NaN
    case RMA_UNARY_CLIP:
      return std::min(std::max(x, p0), p1);
    default:
      throw Error(ErrorCode::kInternal, "reference unary: float kind " + std::to_string(kind));
  }
}

// A float bound made an integer bound of [lo, hi]: ceil for a minimum,
// floor for a maximum, saturated to the range.
int64_t int_bound(double p, bool is_min, int64_t lo, int64_t hi) {
  const double r = is_min ? std::ceil(p) : std::floor(p);
  if (r <= double(lo)) return lo;
  if (r >= double(hi)) return hi;
  return static_cast<int64_t>(r);
}

int64_t int_unary(int32_t kind, int64_t x, int64_t lo, int64_t hi) {
  switch (kind) {
    // Through uint64 so that negating the minimum wraps instead of
    // overflowing (write_ints then truncates i32 results).
    case RMA_UNARY_NEG:
      return static_cast<int64_t>(0 - static_cast<uint64_t>(x));
    case RMA_UNARY_ABS:
      return x < 0 ? static_cast<int64_t>(0 - static_cast<uint64_t>(x)) : x;
    case RMA_UNARY_SIGN:
      return (x > 0) - (x < 0);
    case RMA_UNARY_RELU:
      return std::max<int64_t>(x, 0);
    case RMA_UNARY_CLIP:
      return std::min(std::max(x, lo), hi);
    default:
      throw Error(ErrorCode::kInternal, "reference unary: int kind " + std::to_string(kind));
  }
}

}  // namespace

void unary(const rma_op_call& call) {
  const auto& a = *static_cast<const rma_unary_attrs*>(call.attrs);
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const DType dt = dtype_of(x);
  if (is_float(dt)) {
    std::vector<float> v = read_floats(x);
    for (float& e : v) e = static_cast<float>(float_unary(a.kind, e, a.param0, a.param1));
    write_floats(y, v);
    return;
  }
  std::vector<int64_t> v = read_ints(x);
  if (a.kind == RMA_UNARY_NOT) {
    for (int64_t& e : v) e = e == 0;
  } else {
    const bool i32 = dt == DType::kI32;
    const int64_t min =
        i32 ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int64_t>::min();
    const int64_t max =
        i32 ? std::numeric_limits<int32_t>::max() : std::numeric_limits<int64_t>::max();
    const int64_t lo = int_bound(a.param0, true, min, max),
                  hi = int_bound(a.param1, false, min, max);
    for (int64_t& e : v) e = int_unary(a.kind, e, lo, hi);
  }
  write_ints(y, v);
}

}  // namespace rma::reference
