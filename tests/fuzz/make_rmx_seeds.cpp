// Writes small compiled models into a folder as seeds for rmx_fuzz: a
// static MLP whose linears are prepared (T = 32, past the small-M range),
// the same with dynamic batch, and a multi-op graph (layer norm, softmax,
// transpose, binary) — so mutations reach the plan, the weights and the
// prepared sections.
//
//   rmx_fuzz_seeds DIR
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "rma/compile/compiler.h"
#include "rma/device.h"
#include "rma/error.h"
#include "rma/graph/builder.h"

namespace {

using rma::DType;
using rma::Tensor;
using rma::graph::Dim;
using rma::graph::GraphBuilder;
using rma::graph::Var;

Tensor random_f32(const rma::Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(static_cast<size_t>(rma::numel(shape)));
  for (float& x : v) x = u(rng);
  return Tensor::from_vector(v, shape, DType::kF32, rma::Runtime::get().device("cpu"));
}

rma::graph::Graph mlp() {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::of(16)});
  const Var h = b.linear(x, b.constant("w1", random_f32({24, 16}, 1)),
                         b.constant("b1", random_f32({24}, 2)), rma::Activation::kGelu);
  b.output(b.softmax(b.linear(h, b.constant("w2", random_f32({8, 24}, 3)))), "y");
  return b.build();
}

rma::graph::Graph block() {
  GraphBuilder b;
  const Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::of(4), Dim::of(8)});
  const Var n = b.layer_norm(x, b.constant("g", random_f32({8}, 4)),
                             b.constant("beta", random_f32({8}, 5)), 1e-5f);
  const Var t = b.transpose(n, {0, 2, 1});
  b.output(b.binary(RMA_BINARY_MUL, b.softmax(t), b.constant("s", random_f32({1}, 6))), "y");
  return b.build();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    const std::string dir = argv[1];
    rma::compile::CompileOptions fixed;
    fixed.target = "cpu";
    fixed.batch_size = 32;
    rma::compile::CompileOptions dynamic;
    dynamic.target = "cpu";
    rma::compile::CompiledModel::compile(mlp(), fixed).save(dir + "/mlp_static.rmx");
    rma::compile::CompiledModel::compile(mlp(), dynamic).save(dir + "/mlp_dynamic.rmx");
    rma::compile::CompiledModel::compile(block(), fixed).save(dir + "/block_static.rmx");
    // The host pool keeps freed blocks for reuse; hand them back so the
    // leak checker sees none.
    rma::Runtime::get().device("cpu").release_cached_memory();
  } catch (const rma::Error& e) {
    std::fprintf(stderr, "rmx_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
