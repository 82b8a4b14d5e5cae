// binary: y = a <kind> b with numpy broadcasting, docs/ops.md "binary".
// Floats are computed in double and rounded once; ints in int64, wrapping
// as two's complement (write_ints truncates i32 results).
#include <algorithm>
#include <cmath>

#include "ops/reference/reference.h"

namespace rma::reference {
namespace {

double float_binary(int32_t kind, double a, double b) {
  switch (kind) {
    case RMA_BINARY_ADD:
      return a + b;
    case RMA_BINARY_SUB:
      return a - b;
    case RMA_BINARY_MUL:
      return a * b;
    case RMA_BINARY_DIV:
      return a / b;
    case RMA_BINARY_POW:
      return std::pow(a, b);
    case RMA_BINARY_MAX:
      return std::max(a, b);
    case RMA_BINARY_MIN:
      return std::min(a, b);
    case RMA_BINARY_MOD:
      return std::fmod(a, b);
    case RMA_BINARY_EQUAL:
      return a == b;
    case RMA_BINARY_LESS:
      return a < b;
    case RMA_BINARY_LESS_EQUAL:
      return a <= b;
    case RMA_BINARY_GREATER:
      return a > b;
    case RMA_BINARY_GREATER_EQUAL:
      return a >= b;
    default:
      throw Error(ErrorCode::kInternal, "reference binary: float kind " + std::to_string(kind));
  }
}

uint64_t u(int64_t v) { return static_cast<uint64_t>(v); }
int64_t s(uint64_t v) { return static_cast<int64_t>(v); }

// Division truncates toward zero; the one overflowing quotient (min / -1)
// wraps to min, and its remainder is 0. b != 0 (checked by the caller).
int64_t int_div(int64_t a, int64_t b) { return b == -1 ? s(0 - u(a)) : a / b; }
// The remainder takes the divisor's sign (Python's %).
int64_t int_mod(int64_t a, int64_t b) {
  if (b == -1) return 0;
  const int64_t r = a % b;
  return r != 0 && (r < 0) != (b < 0) ? r + b : r;
}

int64_t int_binary(int32_t kind, int64_t a, int64_t b) {
  switch (kind) {
    case RMA_BINARY_ADD:
      return s(u(a) + u(b));
    case RMA_BINARY_SUB:
      return s(u(a) - u(b));
    case RMA_BINARY_MUL:
      return s(u(a) * u(b));
    case RMA_BINARY_DIV:
      return int_div(a, b);
    case RMA_BINARY_MAX:
      return std::max(a, b);
    case RMA_BINARY_MIN:
      return std::min(a, b);
    case RMA_BINARY_MOD:
      return int_mod(a, b);
    case RMA_BINARY_EQUAL:
      return a == b;
    case RMA_BINARY_LESS:
      return a < b;
    case RMA_BINARY_LESS_EQUAL:
      return a <= b;
    case RMA_BINARY_GREATER:
      return a > b;
    case RMA_BINARY_GREATER_EQUAL:
      return a >= b;
    case RMA_BINARY_AND:
      return (a != 0) & (b != 0);
    case RMA_BINARY_OR:
      return (a != 0) | (b != 0);
    case RMA_BINARY_XOR:
      return (a != 0) ^ (b != 0);
    default:
      throw Error(ErrorCode::kInternal, "reference binary: int kind " + std::to_string(kind));
  }
}

}  // namespace

void binary(const rma_op_call& call) {
  const int32_t kind = static_cast<const rma_binary_attrs*>(call.attrs)->kind;
  const rma_tensor &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  const std::vector<int64_t> ia = broadcast_index(a, y), ib = broadcast_index(b, y);
  const size_t n = ia.size();
  if (is_float(dtype_of(a))) {
    const std::vector<float> av = read_floats(a), bv = read_floats(b);
    std::vector<float> out(n);
    for (size_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(float_binary(kind, av[ia[i]], bv[ib[i]]));
    if (is_float(dtype_of(y)))
      write_floats(y, out);
    else  // comparisons: 0 or 1
      write_ints(y, std::vector<int64_t>(out.begin(), out.end()));
    return;
  }
  const std::vector<int64_t> av = read_ints(a), bv = read_ints(b);
  std::vector<int64_t> out(n);
  const bool divides = kind == RMA_BINARY_DIV || kind == RMA_BINARY_MOD;
  for (size_t i = 0; i < n; ++i) {
    if (divides && bv[ib[i]] == 0)
      throw Error(ErrorCode::kInvalidArgument,
                  "integer " + std::string(kind == RMA_BINARY_DIV ? "division" : "modulo") +
                      " by zero: element " + std::to_string(ib[i]) + " of b is 0",
                  "binary");
    out[i] = int_binary(kind, av[ia[i]], bv[ib[i]]);
  }
  write_ints(y, out);
}

}  // namespace rma::reference
