#include "common/strided_copy.h"

#include <algorithm>
#include <cstring>

#include "common/nd_loop.h"

namespace rma::cpu {
namespace {

// Elements per parallel piece, and the side of a transposing tile (a tile
// of 8-byte elements is 32 KiB: source and destination stay in L1/L2).
constexpr int64_t kChunk = 32768;
constexpr int64_t kTile = 64;

template <class U>
void copy_row(const U* src, int64_t stride, U* dst, int64_t n) {
  if (stride == 0) {
    std::fill(dst, dst + n, src[0]);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i * stride];
  }
}

// dst[i * ld_dst + j] = src[i + j * ld_src] over an rows x cols block, in
// tiles: the source is contiguous along i, the destination along j.
template <class U>
void transpose_block(const U* src, int64_t ld_src, U* dst, int64_t ld_dst, int64_t rows,
                     int64_t cols) {
  for (int64_t j0 = 0; j0 < cols; j0 += kTile)
    for (int64_t i0 = 0; i0 < rows; i0 += kTile) {
      const int64_t i1 = std::min(rows, i0 + kTile), j1 = std::min(cols, j0 + kTile);
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = j0; j < j1; ++j) dst[i * ld_dst + j] = src[i + j * ld_src];
    }
}

template <class U>
void copy_typed(ThreadPool& pool, int ndim, const int64_t* shape, const U* src,
                const int64_t* src_strides, U* dst) {
  const auto dst_strides = dense_strides(ndim, shape);
  const NdLoop<2> l = make_loop<2>(ndim, shape, {dst_strides.data(), src_strides});
  const int64_t s = l.inner_stride(1);
  if (s == 1 || s == 0) {
    parallel_rows(pool, l, kChunk, [&](const std::array<int64_t, 2>& off, int64_t c0, int64_t c1) {
      U* d = dst + off[0] + c0;
      const U* p = src + off[1] + c0 * s;
      if (s == 1)
        std::memcpy(d, p, static_cast<size_t>(c1 - c0) * sizeof(U));
      else
        std::fill(d, d + (c1 - c0), *p);
    });
    return;
  }
  // A transpose: some other dim p has source stride 1. Copy (dim p x the
  // last dim) planes tile by tile, planes in parallel.
  int p = -1;
  for (int d = 0; d + 1 < l.ndim; ++d)
    if (l.stride[1][d] == 1) p = d;
  if (p < 0) {  // a general gather along the row (negative or other strides)
    parallel_rows(pool, l, kChunk, [&](const std::array<int64_t, 2>& off, int64_t c0, int64_t c1) {
      copy_row(src + off[1] + c0 * s, s, dst + off[0] + c0, c1 - c0);
    });
    return;
  }
  // The loop over every dim but p (the last dim becomes each plane's rows'
  // length, handled inside).
  NdLoop<2> planes;
  planes.ndim = 0;
  for (int d = 0; d < l.ndim; ++d) {
    if (d == p) continue;
    planes.shape[planes.ndim] = l.shape[d];
    planes.stride[0][planes.ndim] = l.stride[0][d];
    planes.stride[1][planes.ndim] = l.stride[1][d];
    ++planes.ndim;
  }
  const int64_t rows = l.shape[p], cols = l.inner(), ld_dst = l.stride[0][p];
  // Pieces: (plane, band of kTile rows of dim p).
  const int64_t bands = (rows + kTile - 1) / kTile;
  pool.parallel_for(planes.rows() * bands, std::max<int64_t>(1, kChunk / (kTile * cols)),
                    [&](int64_t i0, int64_t i1) {
                      for (int64_t i = i0; i < i1; ++i) {
                        const int64_t plane = i / bands, r0 = (i % bands) * kTile;
                        for_rows(planes, plane, plane + 1, [&](const std::array<int64_t, 2>& off) {
                          transpose_block(src + off[1] + r0, s, dst + off[0] + r0 * ld_dst, ld_dst,
                                          std::min(kTile, rows - r0), cols);
                        });
                      }
                    });
}

}  // namespace

void strided_copy(ThreadPool& pool, int64_t es, int ndim, const int64_t* shape, const void* src,
                  const int64_t* src_strides, void* dst) {
  for (int d = 0; d < ndim; ++d)
    if (shape[d] == 0) return;
  switch (es) {
    case 1:
      return copy_typed(pool, ndim, shape, static_cast<const uint8_t*>(src), src_strides,
                        static_cast<uint8_t*>(dst));
    case 2:
      return copy_typed(pool, ndim, shape, static_cast<const uint16_t*>(src), src_strides,
                        static_cast<uint16_t*>(dst));
    case 4:
      return copy_typed(pool, ndim, shape, static_cast<const uint32_t*>(src), src_strides,
                        static_cast<uint32_t*>(dst));
    default:
      return copy_typed(pool, ndim, shape, static_cast<const uint64_t*>(src), src_strides,
                        static_cast<uint64_t*>(dst));
  }
}

}  // namespace rma::cpu
