// rma/graph/passes.h — graph rewrites between import and specialize().
//
// Each pass rewrites a Graph in place, keeps it valid (topological order,
// shapes inferred, graph outputs keep their names) and returns how many
// rewrites it made. Every rewrite preserves the graph's results: fusions
// match only patterns whose constants (eps, 0.5, sqrt(2/pi), 0.044715,
// exponents, axes) make the fused op compute exactly the same function.
#pragma once

#include <string>
#include <vector>

#include "rma/graph/ir.h"

namespace rma::graph {

// Evaluates on the host every node whose inputs are all constants (and
// shape/size of values whose shape is known), turning its outputs into
// constants. A result larger than 1 MiB is folded only when it is no larger
// than the constants it reads, so a broadcast never blows up the weights.
int fold_constants(Graph& g);

// Removes nodes and constants no graph output depends on.
int remove_dead_code(Graph& g);

// Drops identity views, transposes, casts, expands and slices; merges
// consecutive reshape-like views and consecutive transposes; lowers
// dynamic-parameter core ops whose parameters are constants (reduce always,
// slice and expand when the input shape is known) to their interface op.
int simplify_shapes(Graph& g);

// erf GELU  0.5·x·(1 + erf(x/√2))                        -> unary gelu
// tanh GELU 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))  -> unary gelu_tanh
int fuse_gelu(Graph& g);
// x·sigmoid(x) -> unary silu
int fuse_silu(Graph& g);
// mean, sub, pow 2 (or square), mean, add eps, sqrt, div (or mul by
// reciprocal/rsqrt), mul w?, add b? over the last axis -> layer_norm
int fuse_layer_norm(Graph& g);
// pow 2 (or x·x), mean, add eps, sqrt + div / reciprocal + mul / rsqrt + mul,
// mul w? over the last axis -> rms_norm
int fuse_rms_norm(Graph& g);
// matmul(x, W) with a constant 2-D W, then add of a constant bias [N]?, then
// relu / leaky_relu / gelu / gelu_tanh / silu / sigmoid / tanh? -> linear
// with that epilogue (W stored transposed, the linear layout).
int fuse_linear(Graph& g);
// act(x[..., :I]) · x[..., I:] with act silu (or gelu) -> silu_and_mul
// (gelu_and_mul), for slices or a two-way split of one tensor's last axis.
int fuse_silu_and_mul(Graph& g);
// softmax(scale·q·kᵀ + mask)·v over heads [B, H, S, D] (scale on the
// scores, q or k; mask a constant causal or all-zero one) ->
// prefill_attention over B sequences of length S.
int fuse_attention(Graph& g);

// conv2d followed by a mul and/or add of per-channel constants (an imported
// BatchNormalization with constant statistics) -> conv2d with w and bias
// rewritten (w and bias constants).
int fold_conv_batch_norm(Graph& g);
// conv2d then relu / leaky_relu / gelu / gelu_tanh / silu / sigmoid / tanh
// -> conv2d with that activation epilogue.
int fuse_conv_activation(Graph& g);

// One pass as run_passes ran it.
struct PassRun {
  std::string name;
  int rewrites = 0;
  double milliseconds = 0;
};

// The pipeline for an optimisation level: 0 nothing; 1 folding, shape
// simplification and dead code; 2 also every fusion; 3 repeats level 2 until
// nothing changes (at most 4 rounds). Logs one debug line per pass; returns
// what ran.
std::vector<PassRun> run_passes(Graph& g, int opt_level);

}  // namespace rma::graph
