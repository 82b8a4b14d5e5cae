// cast: y = x converted to another dtype, docs/ops.md "cast".
#include <cmath>
#include <limits>

#include "ops/reference/reference.h"

namespace rma::reference {
namespace {

// Float to int: truncated toward zero. Out of range is undefined by the
// contract; here it saturates (NaN gives 0) so the oracle never hits C's UB.
int64_t truncate(float v, DType to) {
  const double lo = to == DType::kI32 ? double(std::numeric_limits<int32_t>::min())
                                      : double(std::numeric_limits<int64_t>::min());
  const double hi = to == DType::kI32 ? double(std::numeric_limits<int32_t>::max())
                                      : double(std::numeric_limits<int64_t>::max());
  const double t = std::trunc(double(v));
  if (std::isnan(t)) return 0;
  if (t <= lo) return static_cast<int64_t>(lo);
  if (t >= hi)
    return to == DType::kI32 ? std::numeric_limits<int32_t>::max()
                             : std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(t);
}

}  // namespace

void cast(const rma_op_call& call) {
  const rma_tensor &x = call.inputs[0], &y = call.outputs[0];
  const DType from = dtype_of(x), to = dtype_of(y);
  if (is_float(from)) {
    const std::vector<float> v = read_floats(x);
    if (is_float(to)) {
      write_floats(y, v);  // rounds to nearest even
      return;
    }
    std::vector<int64_t> out(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      out[i] = to == DType::kBool ? v[i] != 0 : truncate(v[i], to);  // NaN != 0: true
    write_ints(y, out);
    return;
  }
  std::vector<int64_t> v = read_ints(x);  // bool reads as 0 / 1
  if (is_float(to)) {
    // Through f32 (nearest), then to the 16-bit type: as a backend would.
    std::vector<float> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i]);
    write_floats(y, out);
    return;
  }
  if (to == DType::kBool)
    for (int64_t& e : v) e = e != 0;
  write_ints(y, v);  // i64 -> i32 wraps
}

}  // namespace rma::reference
