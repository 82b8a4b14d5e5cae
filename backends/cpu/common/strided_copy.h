// Strided copies for the data-movement ops (slice, transpose, expand, the
// general reduce): a dense output filled from a source read at arbitrary
// element strides (0: broadcast; negative: reversed).
#pragma once

#include <cstdint>

#include "common/thread_pool.h"

namespace rma::cpu {

// dst (dense row-major, `shape` of ndim dims, elements of es bytes: 1, 2, 4
// or 8) = src read at element strides src_strides[d] from src, the address
// of the source's element (0, ..., 0). Rows contiguous in the source are
// memcpy'd; a source stride of 0 fills; a transposing copy (the source's
// unit stride on another dim than the output's last) goes tile by tile so
// both sides stay in cache.
void strided_copy(ThreadPool& pool, int64_t es, int ndim, const int64_t* shape, const void* src,
                  const int64_t* src_strides, void* dst);

}  // namespace rma::cpu
