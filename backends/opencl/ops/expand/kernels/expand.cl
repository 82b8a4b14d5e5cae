// expand: x broadcast to y's shape, as a plan copy
// (common/kernels/plan_copy.cl) whose x strides are 0 on broadcast dims.
#include "common/kernels/nd_plan.cl"
#include "common/kernels/plan_copy.cl"
