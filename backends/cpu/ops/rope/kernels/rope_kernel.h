#pragma once
#include <cstdint>

namespace rma::cpu {
// c[i], s[i] = cos, sin of position * inv_freq[i] for i < half. The angle is
// formed and reduced to [-pi, pi] in double, so large positions keep f32
// accuracy; cos/sin are then vectorised in f32.
void rope_angles(const float* inv_freq, int64_t half, double position, float* c, float* s);
// Rotates one head: neox pairs (i, i + half), i < half. y may alias x; only
// the first 2 * half elements are written.
void rope_rotate_neox(const float* x, float* y, const float* c, const float* s, int64_t half);
// Rotates one head: gptj pairs (2i, 2i + 1) with ce[2i] = ce[2i+1] = cos and
// se[2i] = -sin, se[2i+1] = +sin (expanded by rope_expand_gptj). y may alias x.
void rope_rotate_gptj(const float* x, float* y, const float* ce, const float* se, int64_t r);
}  // namespace rma::cpu
