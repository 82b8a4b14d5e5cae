// Shared driver for binary elementwise ops with numpy broadcasting (add,
// mul): walks the output row by row and hands each row to the op's kernel,
// which sees a and b either as full rows or as scalars (stride 0).
#pragma once

#include <algorithm>
#include <vector>

#include "common/convert.h"
#include "common/cpu_op.h"

namespace rma::cpu {

// kernel(a, a_step, b, b_step, y, n): y[i] = a[i*a_step] op b[i*b_step], step 0 or 1.
using BinaryRowKernel = void (*)(const float* a, int a_step, const float* b, int b_step, float* y,
                                 int64_t n);

rma_status binary_supported(const rma_op_call& call, rma_error* err, const char* name);
rma_status binary_run(const Context& ctx, const rma_op_call& call, BinaryRowKernel kernel);

}  // namespace rma::cpu
