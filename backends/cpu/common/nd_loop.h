// N-d loops for the Tier-2 ops: an output shape walked row by row, with up
// to N operands read at their own element strides (0 where broadcast,
// negative for reversed slices). make_loop() drops size-1 dims and merges
// dims that are contiguous in every operand, so most calls become a few long
// rows; parallel_rows() spreads rows (or, for one long row, column chunks)
// over the pool.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "common/thread_pool.h"
#include "rma/plugin.h"

namespace rma::cpu {

template <int N>
struct NdLoop {
  int ndim = 1;  // >= 1; the last dim is the row
  std::array<int64_t, RMA_MAX_DIMS> shape{};
  std::array<std::array<int64_t, RMA_MAX_DIMS>, N> stride{};  // [operand][dim]

  int64_t inner() const { return shape[ndim - 1]; }
  int64_t inner_stride(int k) const { return stride[k][ndim - 1]; }
  int64_t rows() const {
    int64_t r = 1;
    for (int d = 0; d + 1 < ndim; ++d) r *= shape[d];
    return r;
  }
};

// The loop over `shape` (ndim dims) where operand k steps strides[k][d]
// elements along dim d.
template <int N>
NdLoop<N> make_loop(int ndim, const int64_t* shape, const std::array<const int64_t*, N>& strides) {
  NdLoop<N> l;
  l.ndim = 0;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 1) continue;
    if (l.ndim > 0) {
      bool contiguous = true;  // the previous kept dim steps over exactly this one
      for (int k = 0; k < N; ++k) contiguous &= l.stride[k][l.ndim - 1] == strides[k][d] * shape[d];
      if (contiguous) {
        l.shape[l.ndim - 1] *= shape[d];
        for (int k = 0; k < N; ++k) l.stride[k][l.ndim - 1] = strides[k][d];
        continue;
      }
    }
    l.shape[l.ndim] = shape[d];
    for (int k = 0; k < N; ++k) l.stride[k][l.ndim] = strides[k][d];
    ++l.ndim;
  }
  if (l.ndim == 0) {  // a single element
    l.ndim = 1;
    l.shape[0] = 1;
  }
  return l;
}

// Element strides of t seen from an output of out_ndim dims under numpy
// broadcasting: aligned at the back, 0 where t has size 1 or no dim.
inline std::array<int64_t, RMA_MAX_DIMS> broadcast_strides(const rma_tensor& t, int out_ndim) {
  std::array<int64_t, RMA_MAX_DIMS> s{};
  int64_t stride = 1;
  for (int i = t.ndim - 1, o = out_ndim - 1; i >= 0; --i, --o) {
    s[o] = t.shape[i] == 1 ? 0 : stride;
    stride *= t.shape[i];
  }
  return s;
}

// (broadcasts_to, which every launcher of a broadcasting op checks before
// reading t at broadcast_strides, is in rma/plugin_util.h.)

// Row-major element strides of a dense shape.
inline std::array<int64_t, RMA_MAX_DIMS> dense_strides(int ndim, const int64_t* shape) {
  std::array<int64_t, RMA_MAX_DIMS> s{};
  int64_t stride = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    s[d] = stride;
    stride *= shape[d];
  }
  return s;
}

// Calls fn(offsets) for rows [r0, r1) in row-major order; offsets[k] is
// operand k's element offset at the row's first element.
template <int N, class Fn>
void for_rows(const NdLoop<N>& l, int64_t r0, int64_t r1, Fn&& fn) {
  const int outer = l.ndim - 1;
  std::array<int64_t, RMA_MAX_DIMS> idx{};
  std::array<int64_t, N> off{};
  int64_t rem = r0;
  for (int d = outer - 1; d >= 0; --d) {
    idx[d] = rem % l.shape[d];
    rem /= l.shape[d];
    for (int k = 0; k < N; ++k) off[k] += idx[d] * l.stride[k][d];
  }
  for (int64_t r = r0; r < r1; ++r) {
    fn(static_cast<const std::array<int64_t, N>&>(off));
    for (int d = outer - 1; d >= 0; --d) {  // odometer step
      for (int k = 0; k < N; ++k) off[k] += l.stride[k][d];
      if (++idx[d] < l.shape[d]) break;
      for (int k = 0; k < N; ++k) off[k] -= l.stride[k][d] * l.shape[d];
      idx[d] = 0;
    }
  }
}

// Runs fn(offsets, c0, c1) for columns [c0, c1) of every row, in parallel
// pieces of about `chunk` elements: groups of short rows, or column chunks
// of rows longer than `chunk` (so one long row still uses every thread).
// Operand k's element at column c is offsets[k] + c * inner_stride(k).
template <int N, class Fn>
void parallel_rows(ThreadPool& pool, const NdLoop<N>& l, int64_t chunk, Fn&& fn) {
  const int64_t inner = l.inner(), rows = l.rows();
  if (inner <= chunk) {
    pool.parallel_for(rows, std::max<int64_t>(1, chunk / std::max<int64_t>(inner, 1)),
                      [&](int64_t r0, int64_t r1) {
                        for_rows(l, r0, r1, [&](const std::array<int64_t, N>& off) {
                          fn(off, int64_t{0}, inner);
                        });
                      });
    return;
  }
  const int64_t per_row = (inner + chunk - 1) / chunk;
  pool.parallel_for(rows * per_row, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1;) {
      const int64_t r = i / per_row, end = std::min(i1, (r + 1) * per_row);
      for_rows(l, r, r + 1, [&](const std::array<int64_t, N>& off) {
        for (; i < end; ++i) {
          const int64_t c0 = (i % per_row) * chunk;
          fn(off, c0, std::min(inner, c0 + chunk));
        }
      });
    }
  });
}

}  // namespace rma::cpu
