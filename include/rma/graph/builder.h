// rma/graph/builder.h — a small typed C++ front end over Graph.
//
//   GraphBuilder b;
//   Var x = b.input("x", DType::kF32, {Dim::sym("batch"), Dim::of(64)});
//   Var w = b.constant("w", w_tensor);            // [N, 64], the linear layout
//   Var y = b.linear(x, w, bias, Activation::kGelu);
//   b.output(y, "y");
//   Graph g = b.build();
//
// Every method adds one node (or a constant) and returns its output; shapes
// and dtypes are inferred as the node is added, so a mistake is an Error at
// the line that made it. Nodes are named "<op>_<n>" unless name_next() gave
// a name. Ops whose parameters are static but whose input dims are symbolic
// (slice, expand) become the dynamic core ops that specialize() lowers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rma/graph/ir.h"
#include "rma/ops.h"

namespace rma::graph {

// A value of the graph being built.
struct Var {
  Var() = default;
  explicit Var(ValueId v) : id(v) {}
  bool defined() const { return id != kNoValue; }
  ValueId id = kNoValue;
};

class GraphBuilder {
 public:
  GraphBuilder() = default;

  // ------------------------------------------------------------ values
  Var input(const std::string& name, DType dtype, SymShape shape);
  Var constant(const std::string& name, const Tensor& value);  // copied to the host
  // A constant from values (rounded to dtype); named "const_<n>" when unnamed.
  Var constant(const std::vector<float>& values, const Shape& shape, DType dtype = DType::kF32,
               const std::string& name = {});
  Var constant_ints(const std::vector<int64_t>& values, const Shape& shape,
                    DType dtype = DType::kI64, const std::string& name = {});
  // A one-element constant of shape [] (a scalar operand for broadcasting).
  Var scalar(double value, DType dtype = DType::kF32);
  void output(Var v);
  void output(Var v, const std::string& name);  // renames the value

  // The name of the next node added (then back to automatic names).
  GraphBuilder& name_next(std::string name);

  DType dtype(Var v) const;
  const SymShape& shape(Var v) const;
  const Graph& graph() const { return graph_; }
  // The finished graph (validated); the builder is empty afterwards.
  Graph build();

  // ----------------------------------------------------- Tier-1 ops
  // y = act(x . opB(w) + bias); w is [N, K] (trans_b, the linear layout) or
  // [K, N]; bias is optional (Var{}).
  Var linear(Var x, Var w, Var bias = {}, Activation act = Activation::kNone, bool trans_b = true,
             float act_param = 0.01f, float alpha = 1.f);
  Var rms_norm(Var x, Var w, float eps);
  Var layer_norm(Var x, Var w, Var b, float eps);
  Var softmax(Var x, bool log = false);
  Var silu_and_mul(Var x);
  Var gelu_and_mul(Var x, bool approximate_tanh = false);
  Var embedding(Var ids, Var table);
  // q, k, v [T, H, D]; cu_seqlens i32 [B+1].
  Var prefill_attention(Var q, Var k, Var v, Var cu_seqlens, float scale, bool causal = true,
                        int sliding_window = 0);
  std::pair<Var, Var> rope(Var q, Var k, Var positions, const rma_rope_attrs& attrs);

  // ----------------------------------------------------- Tier-2 ops
  Var unary(rma_unary_kind kind, Var x, float param0 = 0.f, float param1 = 0.f);
  Var binary(rma_binary_kind kind, Var a, Var b);
  Var add(Var a, Var b) { return binary(RMA_BINARY_ADD, a, b); }
  Var sub(Var a, Var b) { return binary(RMA_BINARY_SUB, a, b); }
  Var mul(Var a, Var b) { return binary(RMA_BINARY_MUL, a, b); }
  Var div(Var a, Var b) { return binary(RMA_BINARY_DIV, a, b); }
  Var pow(Var a, Var b) { return binary(RMA_BINARY_POW, a, b); }
  Var neg(Var x) { return unary(RMA_UNARY_NEG, x); }
  Var exp(Var x) { return unary(RMA_UNARY_EXP, x); }
  Var sqrt(Var x) { return unary(RMA_UNARY_SQRT, x); }
  Var rsqrt(Var x) { return unary(RMA_UNARY_RSQRT, x); }
  Var reciprocal(Var x) { return unary(RMA_UNARY_RECIPROCAL, x); }
  Var erf(Var x) { return unary(RMA_UNARY_ERF, x); }
  Var tanh(Var x) { return unary(RMA_UNARY_TANH, x); }
  Var sigmoid(Var x) { return unary(RMA_UNARY_SIGMOID, x); }
  Var relu(Var x) { return unary(RMA_UNARY_RELU, x); }
  Var gelu(Var x, bool approximate_tanh = false) {
    return unary(approximate_tanh ? RMA_UNARY_GELU_TANH : RMA_UNARY_GELU, x);
  }
  Var silu(Var x) { return unary(RMA_UNARY_SILU, x); }
  Var matmul(Var a, Var b);
  // Axes may be negative; keepdims keeps reduced axes as size 1.
  Var reduce(rma_reduce_kind kind, Var x, const std::vector<int64_t>& axes, bool keepdims = true);
  Var reduce_mean(Var x, const std::vector<int64_t>& axes, bool keepdims = true) {
    return reduce(RMA_REDUCE_MEAN, x, axes, keepdims);
  }
  Var cast(Var x, DType dtype);
  Var where(Var cond, Var a, Var b);
  Var gather(Var data, Var indices, int64_t axis);
  Var concat(const std::vector<Var>& xs, int64_t axis);
  // ONNX-style slice of one axis: [start, end) by step, negative indices
  // count from the back, ends clamped.
  Var slice(Var x, int64_t axis, int64_t start, int64_t end, int64_t step = 1);
  Var transpose(Var x, const std::vector<int64_t>& perm);
  // Broadcast to `shape` (ONNX Expand rules: 1s in `shape` keep x's dims).
  Var expand(Var x, const std::vector<int64_t>& shape);
  // x[N, C, H, W] convolved with w[M, C/group, kH, kW] (+ bias[M]); attrs from
  // rma::conv2d_attrs (the activation is fused).
  Var conv2d(Var x, Var w, Var bias, const rma_conv2d_attrs& attrs);
  // Max or average over windows of x[N, C, H, W]; attrs from rma::pool2d_attrs.
  Var pool2d(Var x, const rma_pool2d_attrs& attrs);

  // ----------------------------------------------------------- views
  // ONNX Reshape rules: 0 copies the input dim, -1 is inferred.
  Var reshape(Var x, const std::vector<int64_t>& shape);
  Var reshape_to(Var x, Var shape);  // to an i64 shape tensor (e.g. from shape_of())
  Var squeeze(Var x, const std::vector<int64_t>& axes = {});
  Var unsqueeze(Var x, const std::vector<int64_t>& axes);
  Var flatten(Var x, int64_t axis = 1);

  // ----------------------------------------------------- shape values
  Var shape_of(Var x, std::optional<int64_t> start = std::nullopt,
               std::optional<int64_t> end = std::nullopt);

  // Any node: the escape hatch the typed methods use.
  std::vector<Var> node(OpKind op, const std::vector<Var>& inputs,
                        std::vector<uint8_t> abi_attrs = {}, Attributes attrs = {});

 private:
  std::string next_name(const OpKind& op);
  std::string next_constant_name();
  const Value& val(Var v) const;

  Graph graph_;
  std::string pending_name_;
  int counter_ = 0;
};

}  // namespace rma::graph
