// y = x converted from dtype SRC to dtype DST (build options: f32, f16,
// bf16, i32, i64, boolean), docs/ops.md "cast", one work-item per element.
// Floats are widened exactly and rounded once to a float DST; float to int
// truncates toward zero, saturating (NaN gives 0) as the reference does with
// what the contract leaves undefined; int to float rounds to nearest in f32
// (then once more to f16/bf16, as the reference); to bool is x != 0 (NaN
// gives true); i64 to i32 wraps.
#include "common/kernels/dtype.cl"
#include "common/kernels/numeric.cl"

#define RMA_TRUNCATE_i32 convert_int_sat_rtz
#define RMA_TRUNCATE_i64 convert_long_sat_rtz
#define TRUNCATE(dt) RMA_CAT(RMA_TRUNCATE_, dt)

__kernel void cast(__global const STORAGE(SRC)* x, ulong x_off, __global STORAGE(DST)* y,
                   ulong y_off, long n) {
  const long i = get_global_id(0);
  if (i >= n) return;
  const VALUE(SRC) v = LOAD(SRC, x_off + i, x);
#if IS_FLOAT(SRC) && IS_FLOAT(DST)
  STORE(DST, v, y_off + i, y);
#elif IS_FLOAT(SRC) && IS_BOOL(DST)
  STORE(DST, v != 0.f, y_off + i, y);
#elif IS_FLOAT(SRC)
  STORE(DST, TRUNCATE(DST)(v), y_off + i, y);
#elif IS_FLOAT(DST)
  STORE(DST, convert_float_rte(v), y_off + i, y);
#else
  STORE(DST, v, y_off + i, y);
#endif
}
