// slice: y[i] = x[start + i * step] on every axis, as a plan copy
// (common/kernels/plan_copy.cl): the launcher folds start into operand 0's
// base and step into its strides (negative for reversed axes).
#include "common/kernels/nd_plan.cl"
#include "common/kernels/plan_copy.cl"
