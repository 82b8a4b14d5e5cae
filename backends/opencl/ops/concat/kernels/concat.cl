// concat: each input copied into its window of y, as a plan copy
// (common/kernels/plan_copy.cl): [outer, extent * inner] rows of x into rows
// of y with y's longer row pitch.
#include "common/kernels/nd_plan.cl"
#include "common/kernels/plan_copy.cl"
