// The ONNX op table: each supported op type and how it becomes IR nodes.
// Opset-dependent forms (attributes that became inputs, Softmax's axis
// rule, Clip's bounds) are decided here from the model's opset. Parameters
// ONNX passes as tensors are read at import when they are constants (giving
// interface ops with static attributes); computed ones go to the IR's
// dynamic core ops, which specialize() lowers once shapes are bound.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "onnx_internal.h"

namespace rma::graph::onnx_import {
namespace {

// ------------------------------------------------------------ ABI attrs

std::vector<uint8_t> unary_attrs(rma_unary_kind kind, float p0 = 0.f, float p1 = 0.f) {
  auto a = abi_struct<rma_unary_attrs>();
  a.kind = kind;
  a.param0 = p0;
  a.param1 = p1;
  return abi_bytes(a);
}

std::vector<uint8_t> binary_attrs(rma_binary_kind kind) {
  auto a = abi_struct<rma_binary_attrs>();
  a.kind = kind;
  return abi_bytes(a);
}

std::vector<uint8_t> reduce_attrs(rma_reduce_kind kind, uint32_t mask, bool keepdims) {
  auto a = abi_struct<rma_reduce_attrs>();
  a.kind = kind;
  a.axes = mask;
  a.keepdims = keepdims ? 1 : 0;
  return abi_bytes(a);
}

std::vector<uint8_t> cast_attrs(DType to) {
  auto a = abi_struct<rma_cast_attrs>();
  a.dtype = static_cast<int32_t>(to);
  return abi_bytes(a);
}

std::vector<uint8_t> axis_attrs(int64_t axis) {
  auto a = abi_struct<rma_axis_attrs>();
  a.axis = static_cast<int32_t>(axis);
  return abi_bytes(a);
}

std::vector<uint8_t> softmax_attrs(bool log) {
  auto a = abi_struct<rma_softmax_attrs>();
  a.axis = -1;
  a.log = log ? 1 : 0;
  return abi_bytes(a);
}

std::vector<uint8_t> transpose_attrs(const std::vector<int64_t>& perm) {
  auto a = abi_struct<rma_transpose_attrs>();
  for (size_t i = 0; i < perm.size(); ++i) a.perm[i] = static_cast<int32_t>(perm[i]);
  return abi_bytes(a);
}

// ------------------------------------------------------------ helpers

// `v` reshaped to the shape of `like`: a static shape when known, else the
// shape computed at run time.
void emit_reshape_like(NodeBuilder& b, ValueId v, ValueId like) {
  if (const auto shape = known_shape(b.value(like).shape)) {
    b.emit_outputs(CoreOp::kReshape, {v}, {}, {{"shape", *shape}});
  } else {
    const ValueId shape_v = b.emit1("shape", CoreOp::kShape, {like});
    b.emit_outputs(CoreOp::kReshape, {v, shape_v});
  }
}

std::vector<int64_t> normalized_axes(const NodeBuilder& b, const std::vector<int64_t>& axes,
                                     int64_t rank, const std::string& what) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    const int64_t n = normalize_axis(b, a, rank, what);
    if (std::find(out.begin(), out.end(), n) != out.end())
      b.fail(what + " " + std::to_string(a) + " is given twice");
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ------------------------------------------------------- elementwise ops

Lowering unary(rma_unary_kind kind) {
  return [kind](NodeBuilder& b) { b.emit_outputs(RMA_OP_UNARY, {b.input(0)}, unary_attrs(kind)); };
}

Lowering binary(rma_binary_kind kind) {
  return [kind](NodeBuilder& b) {
    b.emit_outputs(RMA_OP_BINARY, {b.input(0), b.input(1)}, binary_attrs(kind));
  };
}

void lower_pow(NodeBuilder& b) {
  const ValueId base = b.input(0);
  ValueId exponent = b.input(1);
  if (b.dtype(exponent) != b.dtype(base))  // ONNX allows another type for the exponent
    exponent = b.emit1("cast_exponent", RMA_OP_CAST, {exponent}, cast_attrs(b.dtype(base)));
  b.emit_outputs(RMA_OP_BINARY, {base, exponent}, binary_attrs(RMA_BINARY_POW));
}

void lower_equal(NodeBuilder& b) {
  const ValueId x = b.input(0), y = b.input(1);
  if (b.dtype(x) != DType::kBool) {
    b.emit_outputs(RMA_OP_BINARY, {x, y}, binary_attrs(RMA_BINARY_EQUAL));
    return;
  }
  // Comparisons take numbers; for bools, equal is not(xor).
  const ValueId differ = b.emit1("xor", RMA_OP_BINARY, {x, y}, binary_attrs(RMA_BINARY_XOR));
  b.emit_outputs(RMA_OP_UNARY, {differ}, unary_attrs(RMA_UNARY_NOT));
}

void lower_mod(NodeBuilder& b) {
  const ValueId x = b.input(0), y = b.input(1);
  const bool fmod = b.attr_int("fmod", 0) != 0;
  if (is_float(b.dtype(x)) || !fmod) {  // floats: fmod; ints: the divisor's sign
    b.emit_outputs(RMA_OP_BINARY, {x, y}, binary_attrs(RMA_BINARY_MOD));
    return;
  }
  // Integer fmod (the dividend's sign): x - y * trunc(x / y).
  const ValueId q = b.emit1("div", RMA_OP_BINARY, {x, y}, binary_attrs(RMA_BINARY_DIV));
  const ValueId p = b.emit1("mul", RMA_OP_BINARY, {q, y}, binary_attrs(RMA_BINARY_MUL));
  b.emit_outputs(RMA_OP_BINARY, {x, p}, binary_attrs(RMA_BINARY_SUB));
}

// Sum, Max, Min (and Mean's sum): a chain of binary ops, the last one
// producing the output.
Lowering variadic(rma_binary_kind kind) {
  return [kind](NodeBuilder& b) {
    const std::vector<ValueId> in = b.inputs();
    if (in.empty()) b.fail("needs at least one input");
    if (in.size() == 1) {
      b.emit_outputs(CoreOp::kIdentity, {in[0]});
      return;
    }
    ValueId acc = in[0];
    for (size_t i = 1; i + 1 < in.size(); ++i)
      acc = b.emit1("acc" + std::to_string(i), RMA_OP_BINARY, {acc, in[i]}, binary_attrs(kind));
    b.emit_outputs(RMA_OP_BINARY, {acc, in.back()}, binary_attrs(kind));
  };
}

void lower_mean(NodeBuilder& b) {
  const std::vector<ValueId> in = b.inputs();
  if (in.empty()) b.fail("needs at least one input");
  if (in.size() == 1) {
    b.emit_outputs(CoreOp::kIdentity, {in[0]});
    return;
  }
  ValueId acc = in[0];
  for (size_t i = 1; i < in.size(); ++i)
    acc = b.emit1("sum" + std::to_string(i), RMA_OP_BINARY, {acc, in[i]},
                  binary_attrs(RMA_BINARY_ADD));
  const ValueId n = b.scalar("count", static_cast<double>(in.size()), b.dtype(in[0]));
  b.emit_outputs(RMA_OP_BINARY, {acc, n}, binary_attrs(RMA_BINARY_DIV));
}

void lower_clip(NodeBuilder& b) {
  const ValueId x = b.input(0);
  const DType dt = b.dtype(x);
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (b.opset() < 11) {
    const float lo = b.attr_float("min", -std::numeric_limits<float>::infinity());
    const float hi = b.attr_float("max", std::numeric_limits<float>::infinity());
    b.emit_outputs(RMA_OP_UNARY, {x}, unary_attrs(RMA_UNARY_CLIP, lo, hi));
    return;
  }
  const ValueId lo = b.optional_input(1), hi = b.optional_input(2);
  auto bound = [&](ValueId v, double fallback) -> std::optional<double> {
    if (v == kNoValue) return fallback;
    const auto c = b.constant_doubles(v);
    if (!c) return std::nullopt;
    if (c->size() != 1) b.fail("min and max must be scalars, '" + b.value(v).name + "' is not");
    return (*c)[0];
  };
  const auto lo_c = bound(lo, -kInf), hi_c = bound(hi, kInf);
  if (is_float(dt) && lo_c && hi_c) {
    b.emit_outputs(
        RMA_OP_UNARY, {x},
        unary_attrs(RMA_UNARY_CLIP, static_cast<float>(*lo_c), static_cast<float>(*hi_c)));
    return;
  }
  // Computed bounds, or integers (exact beyond float's 24 bits): max then min.
  ValueId y = x;
  if (lo != kNoValue && hi == kNoValue) {
    b.emit_outputs(RMA_OP_BINARY, {y, lo}, binary_attrs(RMA_BINARY_MAX));
    return;
  }
  if (lo != kNoValue) y = b.emit1("max", RMA_OP_BINARY, {y, lo}, binary_attrs(RMA_BINARY_MAX));
  if (hi != kNoValue) {
    b.emit_outputs(RMA_OP_BINARY, {y, hi}, binary_attrs(RMA_BINARY_MIN));
    return;
  }
  b.emit_outputs(CoreOp::kIdentity, {y});
}

void lower_leaky_relu(NodeBuilder& b) {
  b.emit_outputs(RMA_OP_UNARY, {b.input(0)},
                 unary_attrs(RMA_UNARY_LEAKY_RELU, b.attr_float("alpha", 0.01f)));
}

void lower_gelu(NodeBuilder& b) {
  const std::string approximate = b.attr_string("approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    b.fail("attribute 'approximate' is '" + approximate + "', expected 'none' or 'tanh'");
  b.emit_outputs(RMA_OP_UNARY, {b.input(0)},
                 unary_attrs(approximate == "tanh" ? RMA_UNARY_GELU_TANH : RMA_UNARY_GELU));
}

// max(0, min(1, alpha * x + beta))
void lower_hard_sigmoid(NodeBuilder& b) {
  const ValueId x = b.input(0);
  const DType dt = b.dtype(x);
  const ValueId alpha = b.scalar("alpha", b.attr_float("alpha", 0.2f), dt);
  const ValueId beta = b.scalar("beta", b.attr_float("beta", 0.5f), dt);
  const ValueId ax = b.emit1("mul", RMA_OP_BINARY, {x, alpha}, binary_attrs(RMA_BINARY_MUL));
  const ValueId axb = b.emit1("add", RMA_OP_BINARY, {ax, beta}, binary_attrs(RMA_BINARY_ADD));
  b.emit_outputs(RMA_OP_UNARY, {axb}, unary_attrs(RMA_UNARY_CLIP, 0.f, 1.f));
}

// ----------------------------------------------------------- softmax

// Before opset 13 the input is seen as 2-D [prod(dims < axis), prod(rest)]
// (default axis 1); from 13 the softmax runs over one axis (default -1).
Lowering softmax(bool log) {
  return [log](NodeBuilder& b) {
    const ValueId x = b.input(0);
    const int64_t r = b.rank(x);
    const bool legacy = b.opset() < 13;
    const int64_t axis = normalize_axis(b, b.attr_int("axis", legacy ? 1 : -1), r, "axis");
    if (axis == r - 1) {
      b.emit_outputs(RMA_OP_SOFTMAX, {x}, softmax_attrs(log));
      return;
    }
    if (legacy) {
      const ValueId flat = b.emit1("flatten", CoreOp::kFlatten, {x}, {}, {{"axis", axis}});
      const ValueId y = b.emit1("softmax", RMA_OP_SOFTMAX, {flat}, softmax_attrs(log));
      emit_reshape_like(b, y, x);
      return;
    }
    // The softmax op works on the last axis: swap `axis` there and back.
    std::vector<int64_t> perm(static_cast<size_t>(r));
    std::iota(perm.begin(), perm.end(), 0);
    std::swap(perm[axis], perm[r - 1]);
    const ValueId t = b.emit1("transpose_in", RMA_OP_TRANSPOSE, {x}, transpose_attrs(perm));
    const ValueId y = b.emit1("softmax", RMA_OP_SOFTMAX, {t}, softmax_attrs(log));
    b.emit_outputs(RMA_OP_TRANSPOSE, {y}, transpose_attrs(perm));
  };
}

// ------------------------------------------------------------ matmul

void lower_matmul(NodeBuilder& b) {
  ValueId a = b.input(0), c = b.input(1);
  const int ra = b.rank(a), rc = b.rank(c);
  if (ra == 0 || rc == 0) b.fail("MatMul inputs must have at least one dim");
  // numpy rules for 1-D operands: [K] is [1, K] on the left, [K, 1] on the
  // right, and the added dim is removed from the result.
  if (ra == 1)
    a = b.emit1("unsqueeze_a", CoreOp::kUnsqueeze, {a}, {}, {{"axes", std::vector<int64_t>{0}}});
  if (rc == 1)
    c = b.emit1("unsqueeze_b", CoreOp::kUnsqueeze, {c}, {}, {{"axes", std::vector<int64_t>{1}}});
  if (ra > 1 && rc > 1) {
    b.emit_outputs(RMA_OP_MATMUL, {a, c});
    return;
  }
  const ValueId y = b.emit1("matmul", RMA_OP_MATMUL, {a, c});
  const int64_t ry = b.rank(y);
  std::vector<int64_t> axes;
  if (ra == 1) axes.push_back(ry - 2);
  if (rc == 1) axes.push_back(ry - 1);
  b.emit_outputs(CoreOp::kSqueeze, {y}, {}, {{"axes", axes}});
}

// Y = alpha * A' B' + beta * C -> linear (C as its bias when C is [N]),
// plus a broadcast add for any other C.
void lower_gemm(NodeBuilder& b) {
  const ValueId a = b.input(0), w = b.input(1);
  const ValueId c = b.opset() < 11 ? b.input(2) : b.optional_input(2);
  if (b.rank(a) != 2 || b.rank(w) != 2)
    b.fail("A and B must be 2-D, got " + to_string(b.value(a).shape) + " and " +
           to_string(b.value(w).shape));
  const float alpha = b.attr_float("alpha", 1.f), beta = b.attr_float("beta", 1.f);
  const bool trans_b = b.attr_int("transB", 0) != 0;
  auto la = abi_struct<rma_linear_attrs>();
  la.trans_a = b.attr_int("transA", 0) != 0;
  la.trans_b = trans_b;
  la.activation = RMA_ACT_NONE;
  la.alpha = alpha;
  la.precision = RMA_PRECISION_ACCURATE;
  const Dim n = b.value(w).shape[trans_b ? 0 : 1];

  ValueId bias = kNoValue, addend = kNoValue;
  if (c != kNoValue && beta != 0.f) {
    const Value& cv = b.value(c);
    const bool row = cv.shape.size() == 1 || (cv.shape.size() == 2 && cv.shape[0] == Dim::of(1));
    const bool is_bias = row && cv.shape.back() == n && cv.dtype == b.dtype(a);
    if (cv.constant && (beta != 1.f || (is_bias && cv.shape.size() == 2))) {
      // Fold beta (and a [1, N] row's leading 1) into a new constant.
      std::vector<double> vals = tensor_doubles(*cv.constant);
      for (double& v : vals) v *= beta;
      Shape shape = cv.constant->shape();
      if (is_bias) shape = {shape.back()};
      const ValueId folded = b.constant("c", host_tensor(vals, shape, cv.dtype, b.host()));
      (is_bias ? bias : addend) = folded;
    } else if (beta != 1.f) {
      const ValueId s = b.scalar("beta", beta, cv.dtype);
      addend = b.emit1("scale_c", RMA_OP_BINARY, {c, s}, binary_attrs(RMA_BINARY_MUL));
    } else {
      (is_bias && cv.shape.size() == 1 ? bias : addend) = c;
    }
  }
  if (addend == kNoValue) {
    b.emit_outputs(RMA_OP_LINEAR, {a, w, bias}, abi_bytes(la));
    return;
  }
  const ValueId y = b.emit1("linear", RMA_OP_LINEAR, {a, w, bias}, abi_bytes(la));
  b.emit_outputs(RMA_OP_BINARY, {y, addend}, binary_attrs(RMA_BINARY_ADD));
}

// ------------------------------------------------------------ reductions

Lowering reduce(rma_reduce_kind kind) {
  return [kind](NodeBuilder& b) {
    const ValueId x = b.input(0);
    const int64_t r = b.rank(x);
    const bool keepdims = b.attr_int("keepdims", 1) != 0;
    const bool noop_if_empty = b.attr_int("noop_with_empty_axes", 0) != 0;
    // The axes moved from an attribute to an input: ReduceSum at 13, the
    // others at 18.
    const bool axes_input = b.opset() >= (kind == RMA_REDUCE_SUM ? 13 : 18);
    std::optional<std::vector<int64_t>> axes;
    if (!axes_input)
      axes = b.attr_ints("axes", std::vector<int64_t>{});
    else if (!b.has_input(1))
      axes = std::vector<int64_t>{};
    else
      axes = b.constant_ints(b.input(1));
    if (!axes) {
      b.emit_outputs(CoreOp::kReduceDynamic, {x, b.input(1)}, {},
                     {{"kind", int64_t{kind}},
                      {"keepdims", int64_t{keepdims}},
                      {"noop_with_empty_axes", int64_t{noop_if_empty}}});
      return;
    }
    if (axes->empty() && noop_if_empty) {
      b.emit_outputs(CoreOp::kIdentity, {x});
      return;
    }
    if (r == 0) {  // a scalar reduces to itself (its square for sum_square)
      if (kind == RMA_REDUCE_SUM_SQUARE)
        b.emit_outputs(RMA_OP_BINARY, {x, x}, binary_attrs(RMA_BINARY_MUL));
      else
        b.emit_outputs(CoreOp::kIdentity, {x});
      return;
    }
    uint32_t mask = 0;
    if (axes->empty()) mask = (1u << r) - 1;
    for (int64_t a : normalized_axes(b, *axes, r, "axis")) mask |= 1u << a;
    b.emit_outputs(RMA_OP_REDUCE, {x}, reduce_attrs(kind, mask, keepdims));
  };
}

Lowering arg_reduce(rma_reduce_kind kind) {
  return [kind](NodeBuilder& b) {
    const ValueId x = b.input(0);
    if (b.attr_int("select_last_index", 0) != 0)
      b.fail("select_last_index = 1 is not supported (the first index of ties is returned)");
    const int64_t axis = normalize_axis(b, b.attr_int("axis", 0), b.rank(x), "axis");
    b.emit_outputs(RMA_OP_REDUCE, {x},
                   reduce_attrs(kind, 1u << axis, b.attr_int("keepdims", 1) != 0));
  };
}

// ------------------------------------------------------------ types

void emit_cast(NodeBuilder& b, ValueId x, DType to) {
  if (b.dtype(x) == to)
    b.emit_outputs(CoreOp::kIdentity, {x});
  else
    b.emit_outputs(RMA_OP_CAST, {x}, cast_attrs(to));
}

void lower_cast(NodeBuilder& b) {
  const int64_t to = b.attr_int("to");
  const std::optional<DType> dt = import_dtype(static_cast<int32_t>(to));
  if (!dt) b.fail("casting to " + onnx_type_name(static_cast<int32_t>(to)) + " is not supported");
  emit_cast(b, b.input(0), *dt);
}

void lower_cast_like(NodeBuilder& b) { emit_cast(b, b.input(0), b.dtype(b.input(1))); }

// ------------------------------------------------------------ indexing

void lower_where(NodeBuilder& b) {
  b.emit_outputs(RMA_OP_WHERE, {b.input(0), b.input(1), b.input(2)});
}

void lower_gather(NodeBuilder& b) {
  const ValueId data = b.input(0), indices = b.input(1);
  const int64_t axis = normalize_axis(b, b.attr_int("axis", 0), b.rank(data), "axis");
  b.emit_outputs(RMA_OP_GATHER, {data, indices}, axis_attrs(axis));
}

void lower_concat(NodeBuilder& b) {
  std::vector<ValueId> in = b.inputs();
  if (in.empty()) b.fail("needs at least one input");
  const int64_t axis = normalize_axis(b, b.attr_int("axis"), b.rank(in[0]), "axis");
  // The op takes at most 64 inputs: concatenate in groups first.
  constexpr size_t kMaxInputs = 64;
  int group = 0;
  while (in.size() > kMaxInputs) {
    std::vector<ValueId> next;
    for (size_t i = 0; i < in.size(); i += kMaxInputs) {
      const std::vector<ValueId> part(in.begin() + i,
                                      in.begin() + std::min(in.size(), i + kMaxInputs));
      next.push_back(part.size() == 1 ? part[0]
                                      : b.emit1("concat" + std::to_string(group++), RMA_OP_CONCAT,
                                                part, axis_attrs(axis)));
    }
    in = std::move(next);
  }
  b.emit_outputs(RMA_OP_CONCAT, in, axis_attrs(axis));
}

void lower_split(NodeBuilder& b) {
  const ValueId x = b.input(0);
  const int64_t axis = normalize_axis(b, b.attr_int("axis", 0), b.rank(x), "axis");
  ValueId split = kNoValue;
  if (b.opset() >= 13)
    split = b.optional_input(1);
  else if (b.has_attr("split"))
    split = b.ints("split", b.attr_ints("split"));
  const int n = b.num_outputs();
  if (n < 1) b.fail("needs at least one output");
  b.emit_outputs(CoreOp::kSplit, {x, split}, {}, {{"axis", axis}, {"num_outputs", int64_t{n}}}, n);
}

// ONNX Slice for one axis of extent `dim`: (start, size) after clamping.
void resolve_slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t* start_out,
                        int64_t* size_out) {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    *size_out = end > start ? (end - start + step - 1) / step : 0;
  } else {
    start = std::clamp<int64_t>(start, 0, std::max<int64_t>(dim - 1, 0));
    end = std::clamp<int64_t>(end, -1, dim - 1);
    *size_out = (dim > 0 && start > end) ? (start - end + (-step) - 1) / (-step) : 0;
  }
  *start_out = start;
}

void lower_slice(NodeBuilder& b) {
  const ValueId x = b.input(0);
  const int64_t r = b.rank(x);
  // Each parameter: its value when the model passes one, its elements when
  // they are known at import.
  struct Param {
    bool given = false;
    ValueId value = kNoValue;
    std::optional<std::vector<int64_t>> ints;
  };
  Param starts, ends, axes, steps;
  if (b.opset() < 10) {  // parameters are attributes
    starts = {true, kNoValue, b.attr_ints("starts")};
    ends = {true, kNoValue, b.attr_ints("ends")};
    if (b.has_attr("axes")) axes = {true, kNoValue, b.attr_ints("axes")};
  } else {
    auto from_input = [&](int i, bool required) {
      Param p;
      if (!required && !b.has_input(i)) return p;
      p.given = true;
      p.value = b.input(i);
      p.ints = b.constant_ints(p.value);
      return p;
    };
    starts = from_input(1, true);
    ends = from_input(2, true);
    axes = from_input(3, false);
    steps = from_input(4, false);
  }
  const auto shape = known_shape(b.value(x).shape);
  bool all_known = shape.has_value();
  for (const Param* p : {&starts, &ends, &axes, &steps})
    all_known = all_known && (!p->given || p->ints);
  if (!all_known) {
    auto as_value = [&](Param& p, const std::string& what) {
      if (p.given && p.value == kNoValue) p.value = b.ints(what, *p.ints);
      return p.value;
    };
    b.emit_outputs(CoreOp::kSliceDynamic, {x, as_value(starts, "starts"), as_value(ends, "ends"),
                                           as_value(axes, "axes"), as_value(steps, "steps")});
    return;
  }
  const size_t n = starts.ints->size();
  if (ends.ints->size() != n || (axes.given && axes.ints->size() != n) ||
      (steps.given && steps.ints->size() != n))
    b.fail("starts, ends, axes and steps must have one length");
  std::vector<int64_t> axis_list(n);
  if (axes.given)
    axis_list = *axes.ints;
  else
    std::iota(axis_list.begin(), axis_list.end(), 0);
  auto sa = abi_struct<rma_slice_attrs>();
  for (int64_t d = 0; d < r; ++d) {
    sa.start[d] = 0;
    sa.step[d] = 1;
    sa.size[d] = (*shape)[d];
  }
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (size_t i = 0; i < n; ++i) {
    const int64_t axis = normalize_axis(b, axis_list[i], r, "axis");
    if (seen[axis]) b.fail("axis " + std::to_string(axis_list[i]) + " is sliced twice");
    seen[axis] = true;
    const int64_t step = steps.given ? (*steps.ints)[i] : 1;
    if (step == 0) b.fail("a step is 0");
    resolve_slice_axis((*shape)[axis], (*starts.ints)[i], (*ends.ints)[i], step, &sa.start[axis],
                       &sa.size[axis]);
    sa.step[axis] = step;
  }
  b.emit_outputs(RMA_OP_SLICE, {x}, abi_bytes(sa));
}

void lower_transpose(NodeBuilder& b) {
  const ValueId x = b.input(0);
  const int64_t r = b.rank(x);
  std::vector<int64_t> reversed(static_cast<size_t>(r));
  for (int64_t i = 0; i < r; ++i) reversed[i] = r - 1 - i;
  const std::vector<int64_t> perm = b.attr_ints("perm", reversed);
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(static_cast<size_t>(r));
  std::iota(identity.begin(), identity.end(), 0);
  if (sorted != identity) b.fail("perm is not a permutation of the " + std::to_string(r) + " axes");
  b.emit_outputs(RMA_OP_TRANSPOSE, {x}, transpose_attrs(perm));
}

void lower_expand(NodeBuilder& b) {
  const ValueId x = b.input(0), shape_v = b.input(1);
  const auto target = b.constant_ints(shape_v);
  const auto in = known_shape(b.value(x).shape);
  if (!target || !in) {
    b.emit_outputs(CoreOp::kExpandDynamic, {x, shape_v});
    return;
  }
  // Bidirectional broadcast: the result has the larger of each dim pair.
  const size_t rank = std::max(in->size(), target->size());
  if (rank > RMA_MAX_DIMS) b.fail("the result has " + std::to_string(rank) + " dims");
  auto sa = abi_struct<rma_shape_attrs>();
  sa.ndim = static_cast<int32_t>(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t a = i + in->size() >= rank ? (*in)[i + in->size() - rank] : 1;
    const int64_t t = i + target->size() >= rank ? (*target)[i + target->size() - rank] : 1;
    if (a != t && a != 1 && t != 1)
      b.fail("cannot broadcast " + rma::to_string(*in) + " to " + rma::to_string(*target));
    sa.shape[i] = a == 1 ? t : a;
  }
  b.emit_outputs(RMA_OP_EXPAND, {x}, abi_bytes(sa));
}

// ------------------------------------------------------------ shapes

void lower_reshape(NodeBuilder& b) {
  const ValueId x = b.input(0), shape_v = b.input(1);
  const bool allowzero = b.attr_int("allowzero", 0) != 0;
  const auto shape = b.constant_ints(shape_v);
  if (allowzero && (!shape || std::count(shape->begin(), shape->end(), 0) > 0))
    b.fail("allowzero = 1 with a shape that has (or may have) a 0 is not supported");
  if (shape)
    b.emit_outputs(CoreOp::kReshape, {x}, {}, {{"shape", *shape}});
  else
    b.emit_outputs(CoreOp::kReshape, {x, shape_v});
}

// Squeeze/Unsqueeze axes: an attribute before opset 13, an input from 13.
std::optional<std::vector<int64_t>> squeeze_axes(NodeBuilder& b) {
  if (b.opset() < 13) {
    if (!b.has_attr("axes")) return std::nullopt;
    return b.attr_ints("axes");
  }
  if (!b.has_input(1)) return std::nullopt;
  return b.required_constant_ints(1, "axes");
}

void lower_squeeze(NodeBuilder& b) {
  const ValueId x = b.input(0);
  const auto axes = squeeze_axes(b);
  Attributes attrs;
  if (axes)
    attrs["axes"] = normalized_axes(b, *axes, b.rank(x), "axis");
  else
    attrs["axes"] = std::vector<int64_t>{};
  b.emit_outputs(CoreOp::kSqueeze, {x}, {}, attrs);
}

void lower_unsqueeze(NodeBuilder& b) {
  const ValueId x = b.input(0);
  const auto axes = squeeze_axes(b);
  if (!axes) b.fail("axes are required");
  const int64_t out_rank = b.rank(x) + static_cast<int64_t>(axes->size());
  b.emit_outputs(CoreOp::kUnsqueeze, {x}, {},
                 {{"axes", normalized_axes(b, *axes, out_rank, "axis")}});
}

void lower_flatten(NodeBuilder& b) {
  const ValueId x = b.input(0);
  const int64_t r = b.rank(x);
  int64_t axis = b.attr_int("axis", 1);
  if (axis < -r || axis > r)
    b.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(r));
  if (axis < 0) axis += r;
  b.emit_outputs(CoreOp::kFlatten, {x}, {}, {{"axis", axis}});
}

void lower_tile(NodeBuilder& b) { b.emit_outputs(CoreOp::kTile, {b.input(0), b.input(1)}); }

void lower_shape(NodeBuilder& b) {
  Attributes attrs;
  if (b.has_attr("start")) attrs["start"] = b.attr_int("start");
  if (b.has_attr("end")) attrs["end"] = b.attr_int("end");
  b.emit_outputs(CoreOp::kShape, {b.input(0)}, {}, attrs);
}

void lower_size(NodeBuilder& b) { b.emit_outputs(CoreOp::kSize, {b.input(0)}); }

void lower_constant_of_shape(NodeBuilder& b) {
  Tensor value;
  if (const pb::TensorProto* t = b.attr_tensor("value")) {
    value = b.read_tensor(*t, "attribute 'value'");
    if (value.numel() != 1) b.fail("attribute 'value' must have one element");
  } else {
    value = host_tensor({0.0}, {1}, DType::kF32, b.host());
  }
  b.emit_outputs(CoreOp::kConstantOfShape, {b.input(0)}, {}, {{"value", value}});
}

void lower_range(NodeBuilder& b) {
  b.emit_outputs(CoreOp::kRange, {b.input(0), b.input(1), b.input(2)});
}

void lower_constant(NodeBuilder& b) {
  const Device& host = b.host();
  if (const pb::TensorProto* t = b.attr_tensor("value")) {
    b.define_constant_output(b.read_tensor(*t, "attribute 'value'"));
  } else if (b.has_attr("value_float")) {
    b.define_constant_output(host_tensor({b.attr_float("value_float")}, {}, DType::kF32, host));
  } else if (b.has_attr("value_floats")) {
    const std::vector<float> f = b.attr_floats("value_floats");
    b.define_constant_output(
        host_tensor({f.begin(), f.end()}, {static_cast<int64_t>(f.size())}, DType::kF32, host));
  } else if (b.has_attr("value_int")) {
    const int64_t v = b.attr_int("value_int");
    b.define_constant_output(Tensor::from_host(&v, {}, DType::kI64, host));
  } else if (b.has_attr("value_ints")) {
    const std::vector<int64_t> v = b.attr_ints("value_ints");
    b.define_constant_output(
        Tensor::from_host(v.data(), {static_cast<int64_t>(v.size())}, DType::kI64, host));
  } else {
    b.fail("only tensor, float and int values are supported (not sparse or string constants)");
  }
}

void lower_identity(NodeBuilder& b) { b.emit_outputs(CoreOp::kIdentity, {b.input(0)}); }

// Inference: the data passes through; the mask, when asked for, is all true.
void lower_dropout(NodeBuilder& b) {
  const ValueId x = b.input(0);
  b.emit_outputs(CoreOp::kIdentity, {x});
  if (!b.has_output(1)) return;
  const ValueId shape = b.emit1("mask_shape", CoreOp::kShape, {x});
  const ValueId mask = b.emit1("mask", CoreOp::kConstantOfShape, {shape}, {},
                               {{"value", host_tensor({1.0}, {1}, DType::kBool, b.host())}});
  b.set_output(1, mask);
}

void lower_layer_norm(NodeBuilder& b) {
  const ValueId x = b.input(0), scale = b.input(1), bias = b.optional_input(2);
  const int64_t r = b.rank(x);
  const int64_t axis = normalize_axis(b, b.attr_int("axis", -1), r, "axis");
  auto na = abi_struct<rma_norm_attrs>();
  na.eps = b.attr_float("epsilon", 1e-5f);
  b.skip_output(1, "LayerNormalization's Mean output is not computed");
  b.skip_output(2, "LayerNormalization's InvStdDev output is not computed");
  if (axis == r - 1) {
    b.emit_outputs(RMA_OP_LAYER_NORM, {x, scale, bias}, abi_bytes(na));
    return;
  }
  // Normalizing over several trailing dims: flatten them into one.
  const Attributes flat_1d = {{"shape", std::vector<int64_t>{-1}}};
  const ValueId xf = b.emit1("flatten", CoreOp::kFlatten, {x}, {}, {{"axis", axis}});
  const ValueId sf = b.emit1("flatten_scale", CoreOp::kReshape, {scale}, {}, flat_1d);
  const ValueId bf =
      bias == kNoValue ? kNoValue : b.emit1("flatten_bias", CoreOp::kReshape, {bias}, {}, flat_1d);
  const ValueId y = b.emit1("layer_norm", RMA_OP_LAYER_NORM, {xf, sf, bf}, abi_bytes(na));
  emit_reshape_like(b, y, x);
}

}  // namespace

const std::unordered_map<std::string, OpEntry>& op_table() {
  static const std::unordered_map<std::string, OpEntry> table = {
      // elementwise binary
      {"Add", {binary(RMA_BINARY_ADD)}},
      {"Sub", {binary(RMA_BINARY_SUB)}},
      {"Mul", {binary(RMA_BINARY_MUL)}},
      {"Div", {binary(RMA_BINARY_DIV)}},
      {"Pow", {lower_pow}},
      {"Mod", {lower_mod, 10}},
      {"Equal", {lower_equal}},
      {"Less", {binary(RMA_BINARY_LESS)}},
      {"LessOrEqual", {binary(RMA_BINARY_LESS_EQUAL), 12}},
      {"Greater", {binary(RMA_BINARY_GREATER)}},
      {"GreaterOrEqual", {binary(RMA_BINARY_GREATER_EQUAL), 12}},
      {"And", {binary(RMA_BINARY_AND)}},
      {"Or", {binary(RMA_BINARY_OR)}},
      {"Xor", {binary(RMA_BINARY_XOR)}},
      // variadic
      {"Sum", {variadic(RMA_BINARY_ADD)}},
      {"Max", {variadic(RMA_BINARY_MAX)}},
      {"Min", {variadic(RMA_BINARY_MIN)}},
      {"Mean", {lower_mean}},
      // elementwise unary
      {"Not", {unary(RMA_UNARY_NOT)}},
      {"Neg", {unary(RMA_UNARY_NEG)}},
      {"Abs", {unary(RMA_UNARY_ABS)}},
      {"Exp", {unary(RMA_UNARY_EXP)}},
      {"Log", {unary(RMA_UNARY_LOG)}},
      {"Sqrt", {unary(RMA_UNARY_SQRT)}},
      {"Reciprocal", {unary(RMA_UNARY_RECIPROCAL)}},
      {"Sin", {unary(RMA_UNARY_SIN)}},
      {"Cos", {unary(RMA_UNARY_COS)}},
      {"Erf", {unary(RMA_UNARY_ERF), 9}},
      {"Tanh", {unary(RMA_UNARY_TANH)}},
      {"Sigmoid", {unary(RMA_UNARY_SIGMOID)}},
      {"Relu", {unary(RMA_UNARY_RELU)}},
      {"Floor", {unary(RMA_UNARY_FLOOR)}},
      {"Ceil", {unary(RMA_UNARY_CEIL)}},
      {"Round", {unary(RMA_UNARY_ROUND), 11}},
      {"Sign", {unary(RMA_UNARY_SIGN), 9}},
      {"LeakyRelu", {lower_leaky_relu}},
      {"Gelu", {lower_gelu, 20}},
      {"HardSigmoid", {lower_hard_sigmoid}},
      {"Clip", {lower_clip}},
      // softmax
      {"Softmax", {softmax(false)}},
      {"LogSoftmax", {softmax(true)}},
      // matmul
      {"MatMul", {lower_matmul}},
      {"Gemm", {lower_gemm}},
      // reductions
      {"ReduceSum", {reduce(RMA_REDUCE_SUM)}},
      {"ReduceMean", {reduce(RMA_REDUCE_MEAN)}},
      {"ReduceMax", {reduce(RMA_REDUCE_MAX)}},
      {"ReduceMin", {reduce(RMA_REDUCE_MIN)}},
      {"ReduceProd", {reduce(RMA_REDUCE_PROD)}},
      {"ReduceSumSquare", {reduce(RMA_REDUCE_SUM_SQUARE)}},
      {"ArgMax", {arg_reduce(RMA_REDUCE_ARGMAX)}},
      {"ArgMin", {arg_reduce(RMA_REDUCE_ARGMIN)}},
      // types
      {"Cast", {lower_cast}},
      {"CastLike", {lower_cast_like, 15}},
      // indexing and movement
      {"Where", {lower_where, 9}},
      {"Gather", {lower_gather}},
      {"Concat", {lower_concat}},
      {"Split", {lower_split}},
      {"Slice", {lower_slice}},
      {"Transpose", {lower_transpose}},
      {"Expand", {lower_expand, 8}},
      {"Tile", {lower_tile}},
      // shapes and views
      {"Reshape", {lower_reshape}},
      {"Squeeze", {lower_squeeze}},
      {"Unsqueeze", {lower_unsqueeze}},
      {"Flatten", {lower_flatten}},
      {"Shape", {lower_shape}},
      {"Size", {lower_size}},
      {"ConstantOfShape", {lower_constant_of_shape, 9}},
      {"Range", {lower_range, 11}},
      {"Constant", {lower_constant}},
      {"Identity", {lower_identity}},
      {"Dropout", {lower_dropout}},
      // normalization
      {"LayerNormalization", {lower_layer_norm, 17}},
  };
  return table;
}

}  // namespace rma::graph::onnx_import
