// The ONNX op table: each supported op type and how it becomes IR nodes.
// Opset-dependent forms (attributes that became inputs, Softmax's axis
// rule, Clip's bounds) are decided here from the model's opset. Parameters
// ONNX passes as tensors are read at import when they are constants (giving
// interface ops with static attributes); computed ones go to the IR's
// dynamic core ops, which specialize() lowers once shapes are bound.
#include <algorithm>
#include <cctype>
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

// Arithmetic and comparisons take f32/f16/bf16/i32/i64 (and bools where
// logical); ONNX INT8 is imported as i8, which the IR only moves and casts.
void require_arithmetic_dtype(NodeBuilder& b, ValueId v) {
  if (b.dtype(v) == DType::kI8)
    b.unsupported("dtype i8 (ONNX INT8) is not supported by " + b.op_type() +
                  ": the IR keeps i8 for data movement only");
}

Lowering unary(rma_unary_kind kind) {
  return [kind](NodeBuilder& b) {
    require_arithmetic_dtype(b, b.input(0));
    b.emit_outputs(RMA_OP_UNARY, {b.input(0)}, unary_attrs(kind));
  };
}

Lowering binary(rma_binary_kind kind) {
  return [kind](NodeBuilder& b) {
    require_arithmetic_dtype(b, b.input(0));
    b.emit_outputs(RMA_OP_BINARY, {b.input(0), b.input(1)}, binary_attrs(kind));
  };
}

void lower_pow(NodeBuilder& b) {
  const ValueId base = b.input(0);
  if (!is_float(b.dtype(base)))
    b.unsupported("dtype " + std::string(rma::name(b.dtype(base))) +
                  " is not supported for the base (float bases only)");
  ValueId exponent = b.input(1);
  if (b.dtype(exponent) != b.dtype(base))  // ONNX allows another type for the exponent
    exponent = b.emit1("cast_exponent", RMA_OP_CAST, {exponent}, cast_attrs(b.dtype(base)));
  b.emit_outputs(RMA_OP_BINARY, {base, exponent}, binary_attrs(RMA_BINARY_POW));
}

void lower_equal(NodeBuilder& b) {
  const ValueId x = b.input(0), y = b.input(1);
  require_arithmetic_dtype(b, x);
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
  require_arithmetic_dtype(b, x);
  const bool fmod = b.attr_int("fmod", 0) != 0;
  const bool floats = is_float(b.dtype(x));
  if (floats == fmod) {  // the op: floats fmod; ints the divisor's sign
    b.emit_outputs(RMA_OP_BINARY, {x, y}, binary_attrs(RMA_BINARY_MOD));
    return;
  }
  if (floats) {
    // fmod = 0 on floats (as numpy.mod): the divisor's sign. r = fmod(x, y),
    // plus y where r is nonzero and its sign differs from y's (an infinite y
    // then gives y, as the spec asks).
    const DType dt = b.dtype(x);
    const ValueId zero = b.scalar("zero", 0, dt);
    const ValueId r = b.emit1("fmod", RMA_OP_BINARY, {x, y}, binary_attrs(RMA_BINARY_MOD));
    const ValueId r_neg = b.emit1("r_neg", RMA_OP_BINARY, {r, zero}, binary_attrs(RMA_BINARY_LESS));
    const ValueId y_neg = b.emit1("y_neg", RMA_OP_BINARY, {y, zero}, binary_attrs(RMA_BINARY_LESS));
    const ValueId r_nonzero =
        b.emit1("r_nonzero", RMA_OP_UNARY,
                {b.emit1("r_zero", RMA_OP_BINARY, {r, zero}, binary_attrs(RMA_BINARY_EQUAL))},
                unary_attrs(RMA_UNARY_NOT));
    const ValueId signs_differ =
        b.emit1("signs_differ", RMA_OP_BINARY, {r_neg, y_neg}, binary_attrs(RMA_BINARY_XOR));
    const ValueId adjust =
        b.emit1("adjust", RMA_OP_BINARY, {signs_differ, r_nonzero}, binary_attrs(RMA_BINARY_AND));
    const ValueId shifted = b.emit1("shifted", RMA_OP_BINARY, {r, y}, binary_attrs(RMA_BINARY_ADD));
    b.emit_outputs(RMA_OP_WHERE, {adjust, shifted, r});
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
    require_arithmetic_dtype(b, in[0]);
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
  require_arithmetic_dtype(b, x);
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

// ------------------------------------------------ composite activations
// Activations without an IR unary kind, spelled with unary, binary and
// where ops in the input's dtype.

ValueId emit_binary(NodeBuilder& b, const std::string& what, rma_binary_kind kind, ValueId x,
                    ValueId y) {
  return b.emit1(what, RMA_OP_BINARY, {x, y}, binary_attrs(kind));
}

ValueId emit_unary(NodeBuilder& b, const std::string& what, rma_unary_kind kind, ValueId x) {
  return b.emit1(what, RMA_OP_UNARY, {x}, unary_attrs(kind));
}

// The node's input 0, which must be a float tensor: an unsupported-dtype
// Error naming the dtype otherwise.
ValueId float_input(NodeBuilder& b) {
  const ValueId x = b.input(0);
  if (!is_float(b.dtype(x)))
    b.unsupported("dtype " + std::string(rma::name(b.dtype(x))) +
                  " is not supported (float inputs only)");
  return x;
}

// alpha * (exp(x) - 1) where x <= 0, else x: the body of Elu and Selu.
ValueId emit_elu(NodeBuilder& b, ValueId x, float alpha) {
  const DType dt = b.dtype(x);
  const ValueId e = emit_unary(b, "exp", RMA_UNARY_EXP, x);
  const ValueId em1 = emit_binary(b, "exp_minus_1", RMA_BINARY_SUB, e, b.scalar("one", 1, dt));
  const ValueId neg =
      emit_binary(b, "scale_neg", RMA_BINARY_MUL, em1, b.scalar("alpha", alpha, dt));
  const ValueId pos = emit_binary(b, "positive", RMA_BINARY_GREATER, x, b.scalar("zero", 0, dt));
  return b.emit1("select", RMA_OP_WHERE, {pos, x, neg});
}

void lower_elu(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const ValueId y = emit_elu(b, x, b.attr_float("alpha", 1.f));
  b.emit_outputs(CoreOp::kIdentity, {y});
}

void lower_selu(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const ValueId y = emit_elu(b, x, b.attr_float("alpha", 1.67326319217681884765625f));
  const ValueId gamma =
      b.scalar("gamma", b.attr_float("gamma", 1.05070102214813232421875f), b.dtype(x));
  b.emit_outputs(RMA_OP_BINARY, {y, gamma}, binary_attrs(RMA_BINARY_MUL));
}

// max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
void lower_celu(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const DType dt = b.dtype(x);
  const ValueId alpha = b.scalar("alpha", b.attr_float("alpha", 1.f), dt);
  const ValueId zero = b.scalar("zero", 0, dt);
  const ValueId e =
      emit_unary(b, "exp", RMA_UNARY_EXP, emit_binary(b, "div", RMA_BINARY_DIV, x, alpha));
  const ValueId em1 = emit_binary(b, "exp_minus_1", RMA_BINARY_SUB, e, b.scalar("one", 1, dt));
  const ValueId neg = emit_binary(b, "min", RMA_BINARY_MIN,
                                  emit_binary(b, "scale", RMA_BINARY_MUL, em1, alpha), zero);
  const ValueId pos = emit_binary(b, "max", RMA_BINARY_MAX, x, zero);
  b.emit_outputs(RMA_OP_BINARY, {pos, neg}, binary_attrs(RMA_BINARY_ADD));
}

// log(1 + exp(x)) as max(x, 0) + log(1 + exp(-|x|)), which cannot overflow.
ValueId emit_softplus(NodeBuilder& b, ValueId x) {
  const DType dt = b.dtype(x);
  const ValueId neg_abs =
      emit_unary(b, "neg_abs", RMA_UNARY_NEG, emit_unary(b, "abs", RMA_UNARY_ABS, x));
  const ValueId e = emit_unary(b, "exp", RMA_UNARY_EXP, neg_abs);
  const ValueId l =
      emit_unary(b, "log1p", RMA_UNARY_LOG,
                 emit_binary(b, "one_plus", RMA_BINARY_ADD, e, b.scalar("one", 1, dt)));
  const ValueId pos = emit_binary(b, "max", RMA_BINARY_MAX, x, b.scalar("zero", 0, dt));
  return emit_binary(b, "softplus", RMA_BINARY_ADD, pos, l);
}

void lower_softplus(NodeBuilder& b) {
  b.emit_outputs(CoreOp::kIdentity, {emit_softplus(b, float_input(b))});
}

// x * tanh(softplus(x))
void lower_mish(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const ValueId t = emit_unary(b, "tanh", RMA_UNARY_TANH, emit_softplus(b, x));
  b.emit_outputs(RMA_OP_BINARY, {x, t}, binary_attrs(RMA_BINARY_MUL));
}

// x / (1 + |x|)
void lower_softsign(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const ValueId d =
      emit_binary(b, "one_plus_abs", RMA_BINARY_ADD, emit_unary(b, "abs", RMA_UNARY_ABS, x),
                  b.scalar("one", 1, b.dtype(x)));
  b.emit_outputs(RMA_OP_BINARY, {x, d}, binary_attrs(RMA_BINARY_DIV));
}

// x * max(0, min(1, x / 6 + 1 / 2))
void lower_hard_swish(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const DType dt = b.dtype(x);
  const ValueId ax = emit_binary(b, "mul", RMA_BINARY_MUL, x, b.scalar("alpha", 1.0 / 6.0, dt));
  const ValueId axb = emit_binary(b, "add", RMA_BINARY_ADD, ax, b.scalar("beta", 0.5, dt));
  const ValueId gate = b.emit1("clip", RMA_OP_UNARY, {axb}, unary_attrs(RMA_UNARY_CLIP, 0.f, 1.f));
  b.emit_outputs(RMA_OP_BINARY, {x, gate}, binary_attrs(RMA_BINARY_MUL));
}

// x * sigmoid(alpha * x)
void lower_swish(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const ValueId ax = emit_binary(b, "mul", RMA_BINARY_MUL, x,
                                 b.scalar("alpha", b.attr_float("alpha", 1.f), b.dtype(x)));
  const ValueId s = emit_unary(b, "sigmoid", RMA_UNARY_SIGMOID, ax);
  b.emit_outputs(RMA_OP_BINARY, {x, s}, binary_attrs(RMA_BINARY_MUL));
}

// x where x > alpha, else 0
void lower_thresholded_relu(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const DType dt = b.dtype(x);
  const ValueId above = emit_binary(b, "above", RMA_BINARY_GREATER, x,
                                    b.scalar("alpha", b.attr_float("alpha", 1.f), dt));
  b.emit_outputs(RMA_OP_WHERE, {above, x, b.scalar("zero", 0, dt)});
}

// x + bias where x < -lambd, x - bias where x > lambd, else 0
void lower_shrink(NodeBuilder& b) {
  const ValueId x = b.input(0);
  const DType dt = b.dtype(x);
  const double lambd = b.attr_float("lambd", 0.5f), bias = b.attr_float("bias", 0.f);
  const ValueId below =
      emit_binary(b, "below", RMA_BINARY_LESS, x, b.scalar("neg_lambd", -lambd, dt));
  const ValueId above =
      emit_binary(b, "above", RMA_BINARY_GREATER, x, b.scalar("lambd", lambd, dt));
  const ValueId up = emit_binary(b, "add_bias", RMA_BINARY_ADD, x, b.scalar("bias", bias, dt));
  const ValueId down = emit_binary(b, "sub_bias", RMA_BINARY_SUB, x, b.scalar("bias", bias, dt));
  const ValueId upper =
      b.emit1("select_above", RMA_OP_WHERE, {above, down, b.scalar("zero", 0, dt)});
  b.emit_outputs(RMA_OP_WHERE, {below, up, upper});
}

// slope * x where x < 0, else x (slope broadcasts to x)
void lower_prelu(NodeBuilder& b) {
  const ValueId x = b.input(0), slope = b.input(1);
  const ValueId neg =
      emit_binary(b, "negative", RMA_BINARY_LESS, x, b.scalar("zero", 0, b.dtype(x)));
  const ValueId scaled = emit_binary(b, "scale", RMA_BINARY_MUL, x, slope);
  b.emit_outputs(RMA_OP_WHERE, {neg, scaled, x});
}

// NaN is the one value not equal to itself.
void lower_is_nan(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const ValueId same = emit_binary(b, "equal_self", RMA_BINARY_EQUAL, x, x);
  b.emit_outputs(RMA_OP_UNARY, {same}, unary_attrs(RMA_UNARY_NOT));
}

void lower_is_inf(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const DType dt = b.dtype(x);
  const bool positive = b.attr_int("detect_positive", 1) != 0;
  const bool negative = b.attr_int("detect_negative", 1) != 0;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (positive && negative) {
    const ValueId a = emit_unary(b, "abs", RMA_UNARY_ABS, x);
    b.emit_outputs(RMA_OP_BINARY, {a, b.scalar("inf", kInf, dt)}, binary_attrs(RMA_BINARY_EQUAL));
  } else if (positive || negative) {
    b.emit_outputs(RMA_OP_BINARY, {x, b.scalar("inf", positive ? kInf : -kInf, dt)},
                   binary_attrs(RMA_BINARY_EQUAL));
  } else {  // detects nothing: all false
    const ValueId shape = b.emit1("shape", CoreOp::kShape, {x});
    b.emit_outputs(CoreOp::kConstantOfShape, {shape}, {},
                   {{"value", host_tensor({0.0}, {1}, DType::kBool, b.host())}});
  }
}

// sin / cos
void lower_tan(NodeBuilder& b) {
  const ValueId x = float_input(b);
  b.emit_outputs(RMA_OP_BINARY,
                 {emit_unary(b, "sin", RMA_UNARY_SIN, x), emit_unary(b, "cos", RMA_UNARY_COS, x)},
                 binary_attrs(RMA_BINARY_DIV));
}

// (exp(x) -/+ exp(-x)) / 2
Lowering hyperbolic(rma_binary_kind combine) {
  return [combine](NodeBuilder& b) {
    const ValueId x = float_input(b);
    const ValueId ep = emit_unary(b, "exp", RMA_UNARY_EXP, x);
    const ValueId en =
        emit_unary(b, "exp_neg", RMA_UNARY_EXP, emit_unary(b, "neg", RMA_UNARY_NEG, x));
    const ValueId c = emit_binary(b, "combine", combine, ep, en);
    b.emit_outputs(RMA_OP_BINARY, {c, b.scalar("half", 0.5, b.dtype(x))},
                   binary_attrs(RMA_BINARY_MUL));
  };
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

// The reduction `kind` of `x` over the node's axes (an attribute before
// `axes_input_opset`, an input from it), emitted as the node's output when
// `last`, else as an intermediate value. `keep_reduced_dims` overrides the
// node's keepdims.
ValueId emit_reduce(NodeBuilder& b, ValueId x, rma_reduce_kind kind, int64_t axes_input_opset,
                    bool last, std::optional<bool> keep_reduced_dims = std::nullopt) {
  const auto emit = [&](const OpKind& op, const std::vector<ValueId>& in,
                        std::vector<uint8_t> abi = {}, Attributes attrs = {}) {
    return last ? b.emit_outputs(op, in, std::move(abi), std::move(attrs)).at(0)
                : b.emit1("reduce", op, in, std::move(abi), std::move(attrs));
  };
  const int64_t r = b.rank(x);
  const bool keepdims = keep_reduced_dims.value_or(b.attr_int("keepdims", 1) != 0);
  const bool noop_if_empty = b.attr_int("noop_with_empty_axes", 0) != 0;
  std::optional<std::vector<int64_t>> axes;
  if (b.opset() < axes_input_opset)
    axes = b.attr_ints("axes", std::vector<int64_t>{});
  else if (!b.has_input(1))
    axes = std::vector<int64_t>{};
  else
    axes = b.constant_ints(b.input(1));
  if (!axes)
    return emit(CoreOp::kReduceDynamic, {x, b.input(1)}, {},
                {{"kind", int64_t{kind}},
                 {"keepdims", int64_t{keepdims}},
                 {"noop_with_empty_axes", int64_t{noop_if_empty}}});
  if (axes->empty() && noop_if_empty) return emit(CoreOp::kIdentity, {x});
  if (r == 0) {  // a scalar reduces to itself (its square for sum_square)
    if (kind == RMA_REDUCE_SUM_SQUARE)
      return emit(RMA_OP_BINARY, {x, x}, binary_attrs(RMA_BINARY_MUL));
    return emit(CoreOp::kIdentity, {x});
  }
  uint32_t mask = 0;
  if (axes->empty()) mask = (1u << r) - 1;
  for (int64_t a : normalized_axes(b, *axes, r, "axis")) mask |= 1u << a;
  return emit(RMA_OP_REDUCE, {x}, reduce_attrs(kind, mask, keepdims));
}

Lowering reduce(rma_reduce_kind kind) {
  return [kind](NodeBuilder& b) {
    // The axes moved from an attribute to an input: ReduceSum at 13, the
    // others at 18.
    emit_reduce(b, b.input(0), kind, kind == RMA_REDUCE_SUM ? 13 : 18, true);
  };
}

// ReduceL1 = sum |x|, ReduceL2 = sqrt(sum x²), ReduceLogSum = log(sum x),
// ReduceLogSumExp = log(sum exp(x - max)) + max (no overflow for large x).
void lower_reduce_l1(NodeBuilder& b) {
  const ValueId x = b.input(0);
  const ValueId a = b.emit1("abs", RMA_OP_UNARY, {x}, unary_attrs(RMA_UNARY_ABS));
  emit_reduce(b, a, RMA_REDUCE_SUM, 18, true);
}

void lower_reduce_l2(NodeBuilder& b) {
  const ValueId s = emit_reduce(b, b.input(0), RMA_REDUCE_SUM_SQUARE, 18, false);
  b.emit_outputs(RMA_OP_UNARY, {s}, unary_attrs(RMA_UNARY_SQRT));
}

void lower_reduce_log_sum(NodeBuilder& b) {
  const ValueId s = emit_reduce(b, b.input(0), RMA_REDUCE_SUM, 18, false);
  b.emit_outputs(RMA_OP_UNARY, {s}, unary_attrs(RMA_UNARY_LOG));
}

void lower_reduce_log_sum_exp(NodeBuilder& b) {
  const ValueId x = b.input(0);
  const ValueId m = emit_reduce(b, x, RMA_REDUCE_MAX, 18, false, true);
  const ValueId d = b.emit1("sub_max", RMA_OP_BINARY, {x, m}, binary_attrs(RMA_BINARY_SUB));
  const ValueId e = b.emit1("exp", RMA_OP_UNARY, {d}, unary_attrs(RMA_UNARY_EXP));
  const ValueId s = emit_reduce(b, e, RMA_REDUCE_SUM, 18, false, true);
  const ValueId l = b.emit1("log", RMA_OP_UNARY, {s}, unary_attrs(RMA_UNARY_LOG));
  const ValueId y = b.emit1("add_max", RMA_OP_BINARY, {l, m}, binary_attrs(RMA_BINARY_ADD));
  // The reduced dims have extent 1 here: a sum over them drops them (or
  // not) as the node's keepdims says.
  emit_reduce(b, y, RMA_REDUCE_SUM, 18, true);
}

Lowering arg_reduce(rma_reduce_kind kind) {
  return [kind](NodeBuilder& b) {
    const ValueId x = b.input(0);
    const int64_t r = b.rank(x);
    const int64_t axis = normalize_axis(b, b.attr_int("axis", 0), r, "axis");
    const std::vector<uint8_t> attrs =
        reduce_attrs(kind, 1u << axis, b.attr_int("keepdims", 1) != 0);
    if (b.attr_int("select_last_index", 0) == 0) {
      b.emit_outputs(RMA_OP_REDUCE, {x}, attrs);
      return;
    }
    // The last index of ties: the first one of x reversed along the axis,
    // counted from the end (n - 1 - i).
    const auto shape = known_shape(b.value(x).shape);
    if (!shape)
      b.unsupported("select_last_index = 1 needs the input shape known at import, got " +
                    to_string(b.value(x).shape));
    auto sa = abi_struct<rma_slice_attrs>();
    for (int64_t d = 0; d < r; ++d) {
      sa.start[d] = d == axis ? (*shape)[d] - 1 : 0;
      sa.size[d] = (*shape)[d];
      sa.step[d] = d == axis ? -1 : 1;
    }
    const ValueId reversed = b.emit1("reverse", RMA_OP_SLICE, {x}, abi_bytes(sa));
    const ValueId first = b.emit1("reduce", RMA_OP_REDUCE, {reversed}, attrs);
    const ValueId last = b.scalar("last", static_cast<double>((*shape)[axis] - 1), DType::kI64);
    b.emit_outputs(RMA_OP_BINARY, {last, first}, binary_attrs(RMA_BINARY_SUB));
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
  if (!dt)
    b.unsupported("casting to " + onnx_type_name(static_cast<int32_t>(to)) + " is not supported");
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
    b.unsupported("allowzero = 1 with a shape that has (or may have) a 0 is not supported");
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
    b.unsupported(
        "only tensor, float and int values are supported (not sparse or string constants)");
  }
}

void lower_identity(NodeBuilder& b) { b.emit_outputs(CoreOp::kIdentity, {b.input(0)}); }

// Inference: the data passes through; the mask, when asked for, is all true.
void lower_dropout(NodeBuilder& b) {
  const ValueId x = b.input(0);
  // training_mode: an attribute `is_test` = 0 before 7 (not imported), an
  // input from 12. Random masks are not reproducible: inference only.
  if (b.opset() >= 12 && b.has_input(2)) {
    const auto training = b.constant_ints(b.input(2));
    if (!training)
      b.unsupported(
          "training_mode is computed by the graph; only inference (training_mode "
          "absent or a constant false) is supported");
    if (training->size() != 1) b.fail("training_mode must be a scalar");
    if ((*training)[0] != 0)
      b.unsupported("training_mode = true is not supported (inference only)");
  }
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
  if (b.has_output(1) || b.has_output(2)) {
    // Mean and InvStdDev asked for: spelled out, the statistics kept with
    // their reduced dims (1), in f32 (the stash type).
    if (b.attr_int("stash_type", 1) != 1)
      b.unsupported("stash_type " + std::to_string(b.attr_int("stash_type", 1)) +
                    " is not supported (1, float, only)");
    const DType dt = b.dtype(x);
    uint32_t mask = 0;
    for (int64_t d = axis; d < r; ++d) mask |= 1u << d;
    const ValueId mean =
        b.emit1("mean", RMA_OP_REDUCE, {x}, reduce_attrs(RMA_REDUCE_MEAN, mask, true));
    const ValueId centered = emit_binary(b, "center", RMA_BINARY_SUB, x, mean);
    const ValueId var = b.emit1("variance", RMA_OP_REDUCE, {centered},
                                reduce_attrs(RMA_REDUCE_SUM_SQUARE, mask, true));
    int64_t count = 1;
    const auto shape = known_shape(b.value(x).shape);
    if (!shape)
      b.unsupported("the Mean and InvStdDev outputs need the input shape known at import, got " +
                    to_string(b.value(x).shape));
    for (int64_t d = axis; d < r; ++d) count *= (*shape)[d];
    const ValueId var_mean = emit_binary(b, "variance_mean", RMA_BINARY_DIV, var,
                                         b.scalar("count", static_cast<double>(count), dt));
    const ValueId inv = emit_unary(
        b, "inv_std", RMA_UNARY_RSQRT,
        emit_binary(b, "add_eps", RMA_BINARY_ADD, var_mean, b.scalar("eps", na.eps, dt)));
    const ValueId normed = emit_binary(b, "normalize", RMA_BINARY_MUL, centered, inv);
    if (bias == kNoValue) {
      b.emit_outputs(RMA_OP_BINARY, {normed, scale}, binary_attrs(RMA_BINARY_MUL));
    } else {
      const ValueId scaled = emit_binary(b, "scale", RMA_BINARY_MUL, normed, scale);
      b.emit_outputs(RMA_OP_BINARY, {scaled, bias}, binary_attrs(RMA_BINARY_ADD));
    }
    const auto stat = [&](ValueId v, const std::string& what) {
      return dt == DType::kF32 ? v : b.emit1(what, RMA_OP_CAST, {v}, cast_attrs(DType::kF32));
    };
    if (b.has_output(1)) b.set_output(1, stat(mean, "mean_f32"));
    if (b.has_output(2)) b.set_output(2, stat(inv, "inv_std_f32"));
    return;
  }
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

// X / sqrt(mean(X², axes >= axis) + epsilon) * scale: the rms_norm op when
// normalizing the last axis with a 1-D scale, else spelled out.
void lower_rms_norm(NodeBuilder& b) {
  const ValueId x = float_input(b), scale = b.input(1);
  const int64_t r = b.rank(x);
  const int64_t axis = normalize_axis(b, b.attr_int("axis", -1), r, "axis");
  const float eps = b.attr_float("epsilon", 1e-5f);
  if (axis == r - 1 && b.rank(scale) == 1 && b.dtype(scale) == b.dtype(x)) {
    auto na = abi_struct<rma_norm_attrs>();
    na.eps = eps;
    b.emit_outputs(RMA_OP_RMS_NORM, {x, scale}, abi_bytes(na));
    return;
  }
  uint32_t mask = 0;
  for (int64_t d = axis; d < r; ++d) mask |= 1u << d;
  const ValueId sq = emit_binary(b, "square", RMA_BINARY_MUL, x, x);
  const ValueId ms =
      b.emit1("mean_square", RMA_OP_REDUCE, {sq}, reduce_attrs(RMA_REDUCE_MEAN, mask, true));
  const ValueId inv =
      emit_unary(b, "rsqrt", RMA_UNARY_RSQRT,
                 emit_binary(b, "add_eps", RMA_BINARY_ADD, ms, b.scalar("eps", eps, b.dtype(x))));
  const ValueId normed = emit_binary(b, "normalize", RMA_BINARY_MUL, x, inv);
  b.emit_outputs(RMA_OP_BINARY, {normed, scale}, binary_attrs(RMA_BINARY_MUL));
}

// The upper (or lower) triangle of the last two dims from diagonal k: a
// constant mask selects x or 0. Needs the two dims and k known at import.
void lower_trilu(NodeBuilder& b) {
  const ValueId x = b.input(0);
  const int64_t r = b.rank(x);
  if (r < 2) b.fail("input must have at least 2 dims, got " + to_string(b.value(x).shape));
  const SymShape& shape = b.value(x).shape;
  if (!shape[r - 2].known() || !shape[r - 1].known())
    b.unsupported("the last two dims must be known at import, got " + to_string(shape));
  int64_t k = 0;
  if (b.has_input(1)) {
    const std::vector<int64_t> kv = b.required_constant_ints(1, "k");
    if (kv.size() != 1) b.fail("k must be a scalar");
    k = kv[0];
  }
  const bool upper = b.attr_int("upper", 1) != 0;
  const int64_t rows = shape[r - 2].value, cols = shape[r - 1].value;
  std::vector<double> mask(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) mask[i * cols + j] = upper ? j - i >= k : j - i <= k;
  const ValueId m = b.constant("mask", host_tensor(mask, {rows, cols}, DType::kBool, b.host()));
  b.emit_outputs(RMA_OP_WHERE, {m, x, b.scalar("zero", 0, b.dtype(x))});
}

// x / ||x||_p along one axis (p = 1 or 2).
void lower_lp_norm(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const int64_t axis = normalize_axis(b, b.attr_int("axis", -1), b.rank(x), "axis");
  const int64_t p = b.attr_int("p", 2);
  if (p != 1 && p != 2) b.fail("p is " + std::to_string(p) + ", expected 1 or 2");
  const uint32_t mask = 1u << axis;
  ValueId norm;
  if (p == 1) {
    norm = b.emit1("l1", RMA_OP_REDUCE, {emit_unary(b, "abs", RMA_UNARY_ABS, x)},
                   reduce_attrs(RMA_REDUCE_SUM, mask, true));
  } else {
    norm = emit_unary(
        b, "sqrt", RMA_UNARY_SQRT,
        b.emit1("sum_square", RMA_OP_REDUCE, {x}, reduce_attrs(RMA_REDUCE_SUM_SQUARE, mask, true)));
  }
  // A zero norm divides by 1 (the vector stays 0), as the ONNX reference.
  const DType dt = b.dtype(x);
  const ValueId is_zero =
      emit_binary(b, "norm_is_zero", RMA_BINARY_EQUAL, norm, b.scalar("zero", 0, dt));
  const ValueId safe = b.emit1("safe_norm", RMA_OP_WHERE, {is_zero, b.scalar("one", 1, dt), norm});
  b.emit_outputs(RMA_OP_BINARY, {x, safe}, binary_attrs(RMA_BINARY_DIV));
}

// ------------------------------------------------- more normalizations

// The static shape of `v`; an unsupported Error naming `what` needs it.
Shape require_known_shape(NodeBuilder& b, ValueId v, const std::string& what) {
  const auto shape = known_shape(b.value(v).shape);
  if (!shape)
    b.unsupported(what + " needs the input shape known at import, got " +
                  to_string(b.value(v).shape));
  return *shape;
}

// (x - mean) * rsqrt(var + eps) over the axes of `mask`, statistics kept
// with their reduced dims.
ValueId emit_standardize(NodeBuilder& b, ValueId x, uint32_t mask, double eps) {
  const ValueId mean =
      b.emit1("mean", RMA_OP_REDUCE, {x}, reduce_attrs(RMA_REDUCE_MEAN, mask, true));
  const ValueId centered = emit_binary(b, "center", RMA_BINARY_SUB, x, mean);
  const ValueId sq = emit_binary(b, "square", RMA_BINARY_MUL, centered, centered);
  const ValueId var =
      b.emit1("variance", RMA_OP_REDUCE, {sq}, reduce_attrs(RMA_REDUCE_MEAN, mask, true));
  const ValueId inv =
      emit_unary(b, "rsqrt", RMA_UNARY_RSQRT,
                 emit_binary(b, "add_eps", RMA_BINARY_ADD, var, b.scalar("eps", eps, b.dtype(x))));
  return emit_binary(b, "normalize", RMA_BINARY_MUL, centered, inv);
}

// A [C] parameter as [C, 1, ...] to broadcast over dim 1 of a rank-r value.
ValueId channel_param(NodeBuilder& b, ValueId p, int64_t r, const std::string& what) {
  std::vector<int64_t> shape(static_cast<size_t>(r - 1), 1);
  shape[0] = -1;
  return b.emit1(what, CoreOp::kReshape, {p}, {}, {{"shape", shape}});
}

// Per sample and channel over the spatial dims, then scale and B per channel.
void lower_instance_norm(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const int64_t r = b.rank(x);
  if (r < 3) b.fail("input must be [N, C, D1, ...], got " + to_string(b.value(x).shape));
  uint32_t mask = 0;
  for (int64_t d = 2; d < r; ++d) mask |= 1u << d;
  const ValueId normed = emit_standardize(b, x, mask, b.attr_float("epsilon", 1e-5f));
  const ValueId scaled =
      emit_binary(b, "scale", RMA_BINARY_MUL, normed, channel_param(b, b.input(1), r, "scale_c"));
  b.emit_outputs(RMA_OP_BINARY, {scaled, channel_param(b, b.input(2), r, "bias_c")},
                 binary_attrs(RMA_BINARY_ADD));
}

// Statistics per sample over groups of C / num_groups channels (and the
// spatial dims); scale and bias per channel (opset 21) or per group (18).
void lower_group_norm(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const int64_t r = b.rank(x);
  if (r < 2) b.fail("input must be [N, C, ...], got " + to_string(b.value(x).shape));
  const Shape shape = require_known_shape(b, x, "GroupNormalization");
  const int64_t groups = b.attr_int("num_groups");
  if (groups <= 0 || shape[1] % groups != 0)
    b.fail("num_groups " + std::to_string(groups) + " does not divide the " +
           std::to_string(shape[1]) + " channels");
  const ValueId grouped = b.emit1("group", CoreOp::kReshape, {x}, {},
                                  {{"shape", std::vector<int64_t>{shape[0], groups, -1}}});
  ValueId normed = emit_standardize(b, grouped, 1u << 2, b.attr_float("epsilon", 1e-5f));
  ValueId scale = b.input(1), bias = b.input(2);
  if (b.opset() < 21) {  // per-group parameters, applied on the grouped view
    scale = channel_param(b, scale, 3, "scale_g");
    bias = channel_param(b, bias, 3, "bias_g");
    normed = emit_binary(b, "scale", RMA_BINARY_MUL, normed, scale);
    normed = emit_binary(b, "bias", RMA_BINARY_ADD, normed, bias);
    b.emit_outputs(CoreOp::kReshape, {normed}, {}, {{"shape", shape}});
    return;
  }
  const ValueId y = b.emit1("ungroup", CoreOp::kReshape, {normed}, {}, {{"shape", shape}});
  const ValueId scaled =
      emit_binary(b, "scale", RMA_BINARY_MUL, y, channel_param(b, scale, r, "scale_c"));
  b.emit_outputs(RMA_OP_BINARY, {scaled, channel_param(b, bias, r, "bias_c")},
                 binary_attrs(RMA_BINARY_ADD));
}

// (X - E[X]) / (sqrt(E[X²] - E[X]²) + 1e-9) over `axes` (default 0, 2, 3),
// as the op's ONNX function.
void lower_mvn(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const int64_t r = b.rank(x);
  uint32_t mask = 0;
  for (int64_t a :
       normalized_axes(b, b.attr_ints("axes", std::vector<int64_t>{0, 2, 3}), r, "axis"))
    mask |= 1u << a;
  const DType dt = b.dtype(x);
  const ValueId mean =
      b.emit1("mean", RMA_OP_REDUCE, {x}, reduce_attrs(RMA_REDUCE_MEAN, mask, true));
  const ValueId mean_sq =
      b.emit1("mean_of_square", RMA_OP_REDUCE, {emit_binary(b, "square", RMA_BINARY_MUL, x, x)},
              reduce_attrs(RMA_REDUCE_MEAN, mask, true));
  const ValueId var = emit_binary(b, "variance", RMA_BINARY_SUB, mean_sq,
                                  emit_binary(b, "square_of_mean", RMA_BINARY_MUL, mean, mean));
  const ValueId std_eps =
      emit_binary(b, "std_eps", RMA_BINARY_ADD, emit_unary(b, "std", RMA_UNARY_SQRT, var),
                  b.scalar("eps", 1e-9, dt));
  b.emit_outputs(RMA_OP_BINARY, {emit_binary(b, "center", RMA_BINARY_SUB, x, mean), std_eps},
                 binary_attrs(RMA_BINARY_DIV));
}

// --------------------------------------------------------- rearrangement

// 1 at the first maximum along `axis`, 0 elsewhere: argmax compared with
// the positions along the axis. Before 13 the input is seen as 2-D.
void lower_hardmax(NodeBuilder& b) {
  const ValueId x = float_input(b);
  const int64_t r = b.rank(x);
  const bool legacy = b.opset() < 13;
  const int64_t axis = normalize_axis(b, b.attr_int("axis", legacy ? 1 : -1), r, "axis");
  ValueId v = x;
  int64_t along = axis;
  if (legacy) {
    v = b.emit1("flatten", CoreOp::kFlatten, {x}, {}, {{"axis", axis}});
    along = 1;
  }
  const Shape shape = require_known_shape(b, v, "Hardmax");
  const int64_t n = shape[along];
  std::vector<double> positions(static_cast<size_t>(n));
  std::iota(positions.begin(), positions.end(), 0.0);
  Shape positions_shape(shape.size(), 1);
  positions_shape[along] = n;
  const ValueId pos =
      b.constant("positions", host_tensor(positions, positions_shape, DType::kI64, b.host()));
  const ValueId first_max =
      b.emit1("argmax", RMA_OP_REDUCE, {v}, reduce_attrs(RMA_REDUCE_ARGMAX, 1u << along, true));
  const ValueId hit = emit_binary(b, "is_max", RMA_BINARY_EQUAL, pos, first_max);
  if (!legacy) {
    b.emit_outputs(RMA_OP_CAST, {hit}, cast_attrs(b.dtype(x)));
    return;
  }
  emit_reshape_like(b, b.emit1("cast", RMA_OP_CAST, {hit}, cast_attrs(b.dtype(x))), x);
}

// A 2-D constant with ones on diagonal k, shaped like the input.
void lower_eye_like(NodeBuilder& b) {
  const ValueId x = b.input(0);
  if (b.rank(x) != 2) b.fail("input must be 2-D, got " + to_string(b.value(x).shape));
  const Shape shape = require_known_shape(b, x, "EyeLike");
  DType dt = b.dtype(x);
  if (b.has_attr("dtype")) {
    const auto onnx_type = static_cast<int32_t>(b.attr_int("dtype"));
    const std::optional<DType> d = import_dtype(onnx_type);
    if (!d) b.unsupported("dtype " + onnx_type_name(onnx_type) + " is not supported");
    dt = *d;
  }
  const int64_t k = b.attr_int("k", 0);
  std::vector<double> eye(static_cast<size_t>(shape[0] * shape[1]), 0.0);
  for (int64_t i = 0; i < shape[0]; ++i)
    if (i + k >= 0 && i + k < shape[1]) eye[i * shape[1] + i + k] = 1.0;
  b.define_constant_output(host_tensor(eye, shape, dt, b.host()));
}

// Reshape to 6-D, transpose, reshape back: DepthToSpace and SpaceToDepth.
void emit_block_rearrange(NodeBuilder& b, ValueId x, const std::vector<int64_t>& split,
                          const std::vector<int64_t>& perm, const std::vector<int64_t>& result) {
  const ValueId six = b.emit1("split_blocks", CoreOp::kReshape, {x}, {}, {{"shape", split}});
  const ValueId moved = b.emit1("move_blocks", RMA_OP_TRANSPOSE, {six}, transpose_attrs(perm));
  b.emit_outputs(CoreOp::kReshape, {moved}, {}, {{"shape", result}});
}

// [N, C, H, W] blocks: the block mode string, checked.
std::string block_mode(NodeBuilder& b) {
  const std::string mode = b.attr_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD")
    b.fail("attribute 'mode' is '" + mode + "', expected 'DCR' or 'CRD'");
  return mode;
}

void lower_depth_to_space(NodeBuilder& b) {
  const ValueId x = b.input(0);
  if (b.rank(x) != 4) b.fail("input must be [N, C, H, W], got " + to_string(b.value(x).shape));
  const Shape s = require_known_shape(b, x, "DepthToSpace");
  const int64_t k = b.attr_int("blocksize");
  if (k <= 0 || s[1] % (k * k) != 0)
    b.fail("blocksize " + std::to_string(k) + " squared does not divide the " +
           std::to_string(s[1]) + " channels");
  const int64_t c = s[1] / (k * k);
  const std::vector<int64_t> result = {s[0], c, s[2] * k, s[3] * k};
  if (block_mode(b) == "DCR")
    emit_block_rearrange(b, x, {s[0], k, k, c, s[2], s[3]}, {0, 3, 4, 1, 5, 2}, result);
  else
    emit_block_rearrange(b, x, {s[0], c, k, k, s[2], s[3]}, {0, 1, 4, 2, 5, 3}, result);
}

void lower_space_to_depth(NodeBuilder& b) {
  const ValueId x = b.input(0);
  if (b.rank(x) != 4) b.fail("input must be [N, C, H, W], got " + to_string(b.value(x).shape));
  const Shape s = require_known_shape(b, x, "SpaceToDepth");
  const int64_t k = b.attr_int("blocksize");
  if (k <= 0 || s[2] % k != 0 || s[3] % k != 0)
    b.fail("blocksize " + std::to_string(k) + " does not divide H and W of " + rma::to_string(s));
  const std::vector<int64_t> split = {s[0], s[1], s[2] / k, k, s[3] / k, k};
  const std::vector<int64_t> result = {s[0], s[1] * k * k, s[2] / k, s[3] / k};
  if (block_mode(b) == "DCR")
    emit_block_rearrange(b, x, split, {0, 3, 5, 1, 2, 4}, result);
  else
    emit_block_rearrange(b, x, split, {0, 1, 3, 5, 2, 4}, result);
}

// ------------------------------------------------------------- Einsum
// One or two operands with distinct labels each (no '...', no diagonals):
// labels only one operand has and the output lacks are summed first; the
// rest becomes one batched matmul [batch, M, K] x [batch, K, N] between
// transposes and reshapes. Needs the input shapes known at import.

struct EinsumOperand {
  ValueId value;
  std::string labels;  // one letter per dim
  Shape shape;
};

// `op` transposed so its labels read `order` (a permutation of them).
EinsumOperand einsum_transpose(NodeBuilder& b, const EinsumOperand& op, const std::string& order,
                               const std::string& what) {
  if (op.labels == order) return op;
  std::vector<int64_t> perm;
  Shape shape;
  for (char c : order) {
    const auto d = static_cast<int64_t>(op.labels.find(c));
    perm.push_back(d);
    shape.push_back(op.shape[d]);
  }
  return {b.emit1(what, RMA_OP_TRANSPOSE, {op.value}, transpose_attrs(perm)), order, shape};
}

// `op` summed over the labels `keep` lacks (kept in their order).
EinsumOperand einsum_sum_out(NodeBuilder& b, const EinsumOperand& op, const std::string& keep,
                             const std::string& what) {
  uint32_t mask = 0;
  EinsumOperand out{op.value, "", {}};
  for (size_t d = 0; d < op.labels.size(); ++d) {
    if (keep.find(op.labels[d]) == std::string::npos) {
      mask |= 1u << d;
    } else {
      out.labels += op.labels[d];
      out.shape.push_back(op.shape[d]);
    }
  }
  if (mask == 0) return op;
  out.value = b.emit1(what, RMA_OP_REDUCE, {op.value}, reduce_attrs(RMA_REDUCE_SUM, mask, false));
  return out;
}

void lower_einsum(NodeBuilder& b) {
  std::string eq;
  for (char c : b.attr_string("equation"))
    if (c != ' ') eq += c;
  if (eq.find("...") != std::string::npos)
    b.unsupported("equation '" + eq + "': ellipsis ('...') is not supported");
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t begin = 0;;) {
    const size_t comma = lhs.find(',', begin);
    terms.push_back(lhs.substr(begin, comma == std::string::npos ? comma : comma - begin));
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  const std::vector<ValueId> in = b.inputs();
  if (terms.size() != in.size())
    b.fail("equation '" + eq + "' has " + std::to_string(terms.size()) + " operands, the node " +
           std::to_string(in.size()) + " inputs");
  if (in.size() > 2)
    b.unsupported("equation '" + eq + "': " + std::to_string(in.size()) +
                  " operands are not supported (one or two)");
  std::vector<EinsumOperand> ops;
  std::map<char, int64_t> sizes, uses;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!is_float(b.dtype(in[i])))
      b.unsupported("dtype " + std::string(rma::name(b.dtype(in[i]))) +
                    " is not supported (float inputs only)");
    EinsumOperand op{in[i], terms[i], require_known_shape(b, in[i], "Einsum")};
    if (op.labels.size() != op.shape.size())
      b.fail("operand " + std::to_string(i) + " of '" + eq + "' has " +
             std::to_string(op.labels.size()) + " labels for shape " + rma::to_string(op.shape));
    for (size_t d = 0; d < op.labels.size(); ++d) {
      const char c = op.labels[d];
      if (!std::isalpha(static_cast<unsigned char>(c)))
        b.fail("equation '" + eq + "': '" + std::string(1, c) + "' is not a label");
      if (op.labels.find(c) != d)
        b.unsupported("equation '" + eq +
                      "': a label repeated in one operand (a diagonal) is "
                      "not supported");
      if (sizes.count(c) && sizes[c] != op.shape[d])
        b.fail("label '" + std::string(1, c) + "' has sizes " + std::to_string(sizes[c]) + " and " +
               std::to_string(op.shape[d]));
      sizes[c] = op.shape[d];
      ++uses[c];
    }
    ops.push_back(op);
  }
  std::string out;
  if (arrow != std::string::npos) {
    out = eq.substr(arrow + 2);
    for (size_t d = 0; d < out.size(); ++d)
      if (!sizes.count(out[d]) || out.find(out[d]) != d)
        b.fail("equation '" + eq + "': output label '" + std::string(1, out[d]) +
               "' is unknown or repeated");
  } else {  // implicit: the labels used once, alphabetically
    for (const auto& [c, n] : uses)
      if (n == 1) out += c;
  }
  const auto has = [](const std::string& labels, char c) {
    return labels.find(c) != std::string::npos;
  };

  if (ops.size() == 1) {
    const EinsumOperand summed = einsum_sum_out(b, ops[0], out, "sum");
    const EinsumOperand y = einsum_transpose(b, summed, out, "transpose");
    b.emit_outputs(CoreOp::kIdentity, {y.value});
    return;
  }
  // Labels one operand has alone and the output lacks: summed right away.
  std::string keep_a, keep_b;
  for (char c : ops[0].labels)
    if (has(ops[1].labels, c) || has(out, c)) keep_a += c;
  for (char c : ops[1].labels)
    if (has(ops[0].labels, c) || has(out, c)) keep_b += c;
  const EinsumOperand a = einsum_sum_out(b, ops[0], keep_a, "sum_a");
  const EinsumOperand c = einsum_sum_out(b, ops[1], keep_b, "sum_b");
  std::string batch, contracted, a_kept, b_kept;
  for (char l : a.labels) {
    if (has(c.labels, l))
      (has(out, l) ? batch : contracted) += l;
    else
      a_kept += l;
  }
  for (char l : c.labels)
    if (!has(a.labels, l)) b_kept += l;
  const auto product = [&](const std::string& labels) {
    int64_t p = 1;
    for (char l : labels) p *= sizes[l];
    return p;
  };
  const int64_t nb = product(batch), m = product(a_kept), k = product(contracted),
                n = product(b_kept);
  const EinsumOperand at = einsum_transpose(b, a, batch + a_kept + contracted, "transpose_a");
  const EinsumOperand ct = einsum_transpose(b, c, batch + contracted + b_kept, "transpose_b");
  const ValueId a3 = b.emit1("reshape_a", CoreOp::kReshape, {at.value}, {},
                             {{"shape", std::vector<int64_t>{nb, m, k}}});
  const ValueId c3 = b.emit1("reshape_b", CoreOp::kReshape, {ct.value}, {},
                             {{"shape", std::vector<int64_t>{nb, k, n}}});
  const ValueId prod = b.emit1("matmul", RMA_OP_MATMUL, {a3, c3});
  EinsumOperand y{kNoValue, batch + a_kept + b_kept, {}};
  for (char l : y.labels) y.shape.push_back(sizes[l]);
  y.value = b.emit1("reshape_out", CoreOp::kReshape, {prod}, {},
                    {{"shape", std::vector<int64_t>(y.shape.begin(), y.shape.end())}});
  b.emit_outputs(CoreOp::kIdentity, {einsum_transpose(b, y, out, "transpose_out").value});
}

// ------------------------------------------------------ GatherElements
// y[i] = data[i with i[axis] replaced by indices[i]]: every candidate k of
// the axis is compared with the index (a one-hot over a new last dim), the
// matching data element selected and the rest summed away. data is first
// cut to the indices' extents on the other dims and its axis moved last.
// Needs shapes known at import; O(size · axis extent), for modest sizes.
void lower_gather_elements(NodeBuilder& b) {
  const ValueId data = b.input(0), indices = b.input(1);
  const int64_t r = b.rank(data);
  if (b.rank(indices) != r)
    b.fail("indices must have the rank of data (" + std::to_string(r) + "), got " +
           to_string(b.value(indices).shape));
  const int64_t axis = normalize_axis(b, b.attr_int("axis", 0), r, "axis");
  const Shape ds = require_known_shape(b, data, "GatherElements");
  const Shape is = require_known_shape(b, indices, "GatherElements");
  const DType dt = b.dtype(data), it = b.dtype(indices);
  if (dt == DType::kBool || dt == DType::kI8)
    b.unsupported("data of dtype " + std::string(rma::name(dt)) + " is not supported");
  auto sa = abi_struct<rma_slice_attrs>();
  for (int64_t d = 0; d < r; ++d) {
    if (d != axis && is[d] > ds[d])
      b.fail("indices shape " + rma::to_string(is) + " exceeds data shape " + rma::to_string(ds) +
             " on dim " + std::to_string(d));
    sa.start[d] = 0;
    sa.step[d] = 1;
    sa.size[d] = d == axis ? ds[d] : is[d];
  }
  const ValueId cut = b.emit1("cut", RMA_OP_SLICE, {data}, abi_bytes(sa));
  std::vector<int64_t> perm;
  for (int64_t d = 0; d < r; ++d)
    if (d != axis) perm.push_back(d);
  perm.push_back(axis);
  ValueId moved = b.emit1("axis_last", RMA_OP_TRANSPOSE, {cut}, transpose_attrs(perm));
  moved = b.emit1("unsqueeze_data", CoreOp::kUnsqueeze, {moved}, {},
                  {{"axes", std::vector<int64_t>{axis}}});
  const int64_t k = ds[axis];
  // Negative indices count from the end.
  const ValueId negative =
      emit_binary(b, "negative", RMA_BINARY_LESS, indices, b.scalar("zero", 0, it));
  const ValueId wrapped = emit_binary(b, "wrap", RMA_BINARY_ADD, indices,
                                      b.scalar("extent", static_cast<double>(k), it));
  const ValueId index = b.emit1("index", RMA_OP_WHERE, {negative, wrapped, indices});
  std::vector<double> candidates(static_cast<size_t>(k));
  std::iota(candidates.begin(), candidates.end(), 0.0);
  const ValueId pos = b.constant("candidates", host_tensor(candidates, {k}, it, b.host()));
  const ValueId index_col = b.emit1("unsqueeze_index", CoreOp::kUnsqueeze, {index}, {},
                                    {{"axes", std::vector<int64_t>{r}}});
  const ValueId hit = emit_binary(b, "one_hot", RMA_BINARY_EQUAL, index_col, pos);
  const ValueId picked = b.emit1("pick", RMA_OP_WHERE, {hit, moved, b.scalar("zero", 0, dt)});
  b.emit_outputs(RMA_OP_REDUCE, {picked}, reduce_attrs(RMA_REDUCE_SUM, 1u << r, false));
}

// ----------------------------------------------------------- losses

// NegativeLogLikelihoodLoss of `input` [N, C, d...] (log-probabilities)
// and `target` [N, d...]: -input[n, target, d...] · weight[target], 0 where
// target == ignore_index; reduced by `reduction` (none, sum, or mean: the sum
// over the sum of the weights used). The class is picked by comparing it
// with every class (a one-hot over dim 1).
ValueId emit_nll(NodeBuilder& b, ValueId input, ValueId target, ValueId weight,
                 const std::string& reduction) {
  const int64_t r = b.rank(input);
  const Shape is = require_known_shape(b, input, b.op_type());
  if (r < 2 || b.rank(target) != r - 1)
    b.fail("input must be [N, C, d...] and target [N, d...], got " + rma::to_string(is) + " and " +
           to_string(b.value(target).shape));
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    b.fail("attribute 'reduction' is '" + reduction + "', expected none, sum or mean");
  const DType dt = b.dtype(input), tt = b.dtype(target);
  ValueId ignored = kNoValue, safe_target = target;
  if (b.has_attr("ignore_index")) {
    ignored =
        emit_binary(b, "ignored", RMA_BINARY_EQUAL, target,
                    b.scalar("ignore_index", static_cast<double>(b.attr_int("ignore_index")), tt));
    safe_target = b.emit1("safe_target", RMA_OP_WHERE, {ignored, b.scalar("zero", 0, tt), target});
  }
  const int64_t c = is[1];
  std::vector<double> classes(static_cast<size_t>(c));
  std::iota(classes.begin(), classes.end(), 0.0);
  Shape class_shape(static_cast<size_t>(r), 1);
  class_shape[1] = c;
  const ValueId hit =
      emit_binary(b, "one_hot", RMA_BINARY_EQUAL,
                  b.emit1("unsqueeze_target", CoreOp::kUnsqueeze, {safe_target}, {},
                          {{"axes", std::vector<int64_t>{1}}}),
                  b.constant("classes", host_tensor(classes, class_shape, tt, b.host())));
  const ValueId picked =
      b.emit1("pick", RMA_OP_REDUCE,
              {b.emit1("select", RMA_OP_WHERE, {hit, input, b.scalar("zero", 0, dt)})},
              reduce_attrs(RMA_REDUCE_SUM, 1u << 1, false));
  // The weight of each element: weight[target] (or 1), 0 where ignored.
  ValueId w = kNoValue;
  if (weight != kNoValue)
    w = b.emit1("weight", RMA_OP_GATHER, {weight, safe_target}, axis_attrs(0));
  if (ignored != kNoValue)
    w = b.emit1("weight_kept", RMA_OP_WHERE,
                {ignored, b.scalar("zero", 0, dt), w == kNoValue ? b.scalar("one", 1, dt) : w});
  const ValueId weighted =
      w == kNoValue ? picked : emit_binary(b, "weighted", RMA_BINARY_MUL, picked, w);
  const ValueId loss = emit_unary(b, "neg", RMA_UNARY_NEG, weighted);
  if (reduction == "none") return loss;
  const uint32_t all = (1u << (r - 1)) - 1;
  const ValueId total =
      b.emit1("sum", RMA_OP_REDUCE, {loss}, reduce_attrs(RMA_REDUCE_SUM, all, false));
  if (reduction == "sum") return total;
  // w, when present, has the target's shape (gathered, or 0/1 by ignored).
  const ValueId denominator =
      w == kNoValue
          ? b.scalar("count",
                     static_cast<double>(rma::numel(require_known_shape(b, target, b.op_type()))),
                     dt)
          : b.emit1("weight_sum", RMA_OP_REDUCE, {w}, reduce_attrs(RMA_REDUCE_SUM, all, false));
  return emit_binary(b, "mean", RMA_BINARY_DIV, total, denominator);
}

void lower_nll_loss(NodeBuilder& b) {
  const ValueId input = float_input(b);
  const ValueId loss =
      emit_nll(b, input, b.input(1), b.optional_input(2), b.attr_string("reduction", "mean"));
  b.emit_outputs(CoreOp::kIdentity, {loss});
}

// LogSoftmax over dim 1, then NegativeLogLikelihoodLoss; output 1 is the
// log-probabilities.
void lower_softmax_cross_entropy(NodeBuilder& b) {
  const ValueId scores = float_input(b);
  const int64_t r = b.rank(scores);
  if (r < 2) b.fail("scores must be [N, C, d...], got " + to_string(b.value(scores).shape));
  std::vector<int64_t> perm(static_cast<size_t>(r));
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[1], perm[r - 1]);
  ValueId log_prob = scores;
  if (r > 2) log_prob = b.emit1("classes_last", RMA_OP_TRANSPOSE, {scores}, transpose_attrs(perm));
  log_prob = b.emit1("log_softmax", RMA_OP_SOFTMAX, {log_prob}, softmax_attrs(true));
  if (r > 2)
    log_prob = b.emit1("classes_back", RMA_OP_TRANSPOSE, {log_prob}, transpose_attrs(perm));
  const ValueId loss =
      emit_nll(b, log_prob, b.input(1), b.optional_input(2), b.attr_string("reduction", "mean"));
  b.emit_outputs(CoreOp::kIdentity, {loss});
  b.set_output(1, log_prob);
}

// ---------------------------------------------------------- Attention
// softmax(Q·Kᵀ·scale + bias)·V spelled out (opsets 23+), as the ONNX
// reference: 3-D inputs split into heads, past_key/past_value concatenated
// (present_* outputs), grouped K/V heads repeated, a bool or additive mask
// (padded with -inf to the key length), is_causal (aligned to the end of
// the past), softcap, softmax_precision and the qk_matmul_output modes; a
// row masked everywhere gives 0. Needs shapes known at import; the padding
// lengths (nonpad_kv_seqlen) and sliding windows are not supported.

// `v` repeated `times` along axis 1 ([B, H, S, D] -> [B, H·times, S, D]).
ValueId repeat_heads(NodeBuilder& b, ValueId v, const Shape& s, int64_t times,
                     const std::string& what) {
  if (times == 1) return v;
  const ValueId u = b.emit1(what + "_unsqueeze", CoreOp::kUnsqueeze, {v}, {},
                            {{"axes", std::vector<int64_t>{2}}});
  auto ea = abi_struct<rma_shape_attrs>();
  ea.ndim = 5;
  const int64_t dims[5] = {s[0], s[1], times, s[2], s[3]};
  for (int i = 0; i < 5; ++i) ea.shape[i] = dims[i];
  const ValueId e = b.emit1(what + "_expand", RMA_OP_EXPAND, {u}, abi_bytes(ea));
  return b.emit1(what + "_merge", CoreOp::kReshape, {e}, {},
                 {{"shape", std::vector<int64_t>{s[0], s[1] * times, s[2], s[3]}}});
}

void lower_attention(NodeBuilder& b) {
  ValueId q = float_input(b), k = b.input(1), v = b.input(2);
  const DType dt = b.dtype(q);
  const ValueId mask = b.optional_input(3), past_k = b.optional_input(4),
                past_v = b.optional_input(5);
  if (b.has_input(6)) b.unsupported("input nonpad_kv_seqlen is not supported");
  if (b.attr_int("left_window_size", -1) >= 0 || b.attr_int("right_window_size", -1) >= 0)
    b.unsupported("sliding windows (left_window_size/right_window_size) are not supported");
  if ((past_k == kNoValue) != (past_v == kNoValue))
    b.fail("past_key and past_value must be given together");
  const int64_t rank = b.rank(q);
  if (rank != 3 && rank != 4) b.fail("Q must be 3-D or 4-D, got " + to_string(b.value(q).shape));
  const auto to_heads = [&](ValueId x, const char* what, const char* heads_attr) {
    if (rank == 4) return x;
    const Shape s = require_known_shape(b, x, "Attention");
    const int64_t heads = b.attr_int(heads_attr);
    if (heads <= 0 || s[2] % heads != 0)
      b.fail(std::string(heads_attr) + " " + std::to_string(heads) + " does not divide the " +
             std::to_string(s[2]) + " features of " + what);
    const ValueId split = b.emit1(std::string(what) + "_split", CoreOp::kReshape, {x}, {},
                                  {{"shape", std::vector<int64_t>{s[0], s[1], heads, -1}}});
    return b.emit1(std::string(what) + "_heads", RMA_OP_TRANSPOSE, {split},
                   transpose_attrs({0, 2, 1, 3}));
  };
  q = to_heads(q, "q", "q_num_heads");
  k = to_heads(k, "k", "kv_num_heads");
  v = to_heads(v, "v", "kv_num_heads");
  int64_t past_len = 0;
  if (past_k != kNoValue) {
    past_len = require_known_shape(b, past_k, "Attention")[2];
    k = b.emit1("present_key", RMA_OP_CONCAT, {past_k, k}, axis_attrs(2));
    v = b.emit1("present_value", RMA_OP_CONCAT, {past_v, v}, axis_attrs(2));
  }
  const ValueId present_k = k, present_v = v;
  const Shape qs = require_known_shape(b, q, "Attention");
  const Shape ks = require_known_shape(b, k, "Attention");
  const Shape vs = require_known_shape(b, v, "Attention");
  const int64_t q_len = qs[2], kv_len = ks[2];
  if (qs[1] % ks[1] != 0 || ks[1] != vs[1])
    b.fail("the " + std::to_string(qs[1]) + " query heads cannot be grouped over " +
           std::to_string(ks[1]) + " key and " + std::to_string(vs[1]) + " value heads");
  k = repeat_heads(b, k, ks, qs[1] / ks[1], "k");
  v = repeat_heads(b, v, vs, qs[1] / vs[1], "v");

  // Q and K each scaled by sqrt(scale), as the reference.
  const double scale =
      b.has_attr("scale") ? b.attr_float("scale") : 1.0 / std::sqrt(static_cast<double>(qs[3]));
  const ValueId root = b.scalar("sqrt_scale", std::sqrt(scale), dt);
  const ValueId qk_scaled = emit_binary(b, "scale_q", RMA_BINARY_MUL, q, root);
  const ValueId kt = b.emit1("k_t", RMA_OP_TRANSPOSE, {k}, transpose_attrs({0, 1, 3, 2}));
  ValueId qk = b.emit1("qk", RMA_OP_MATMUL,
                       {qk_scaled, emit_binary(b, "scale_k", RMA_BINARY_MUL, kt, root)});
  const float softcap = b.attr_float("softcap", 0.f);
  if (softcap > 0) {
    const ValueId cap = b.scalar("softcap", softcap, dt);
    const ValueId t = emit_unary(b, "softcap_tanh", RMA_UNARY_TANH,
                                 emit_binary(b, "softcap_div", RMA_BINARY_DIV, qk, cap));
    qk = emit_binary(b, "softcap_mul", RMA_BINARY_MUL, t, cap);
  }

  // The additive bias: the mask (bools as 0 / -inf, padded to the key
  // length), plus the causal part.
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  ValueId bias = kNoValue;
  if (mask != kNoValue) {
    bias = mask;
    if (b.dtype(mask) == DType::kBool)
      bias = b.emit1("mask_bias", RMA_OP_WHERE,
                     {mask, b.scalar("zero", 0, dt), b.scalar("neg_inf", kNegInf, dt)});
    const Shape ms = require_known_shape(b, bias, "Attention");
    if (ms.empty()) b.fail("attn_mask must have at least one dim");
    if (ms.back() < kv_len) {
      Shape pad_shape = ms;
      pad_shape.back() = kv_len - ms.back();
      const std::vector<double> pad(static_cast<size_t>(rma::numel(pad_shape)), kNegInf);
      bias = b.emit1("mask_pad", RMA_OP_CONCAT,
                     {bias, b.constant("mask_pad", host_tensor(pad, pad_shape, dt, b.host()))},
                     axis_attrs(static_cast<int64_t>(ms.size()) - 1));
    }
  }
  if (b.attr_int("is_causal", 0) != 0) {
    std::vector<double> causal(static_cast<size_t>(q_len * kv_len));
    for (int64_t i = 0; i < q_len; ++i)
      for (int64_t j = 0; j < kv_len; ++j)
        causal[i * kv_len + j] = j <= i + past_len ? 0.0 : kNegInf;
    const ValueId c = b.constant("causal", host_tensor(causal, {q_len, kv_len}, dt, b.host()));
    bias = bias == kNoValue ? c : emit_binary(b, "add_causal", RMA_BINARY_ADD, bias, c);
  }
  const ValueId qk_biased =
      bias == kNoValue ? qk : emit_binary(b, "add_bias", RMA_BINARY_ADD, qk, bias);

  DType softmax_dt = dt;
  if (b.has_attr("softmax_precision")) {
    const auto t = static_cast<int32_t>(b.attr_int("softmax_precision"));
    const std::optional<DType> d = import_dtype(t);
    if (!d || !is_float(*d))
      b.unsupported("softmax_precision " + onnx_type_name(t) + " is not supported");
    softmax_dt = *d;
  }
  const auto cast_to = [&](ValueId x, DType to, const std::string& what) {
    return b.dtype(x) == to ? x : b.emit1(what, RMA_OP_CAST, {x}, cast_attrs(to));
  };
  ValueId probs = b.emit1("softmax", RMA_OP_SOFTMAX, {cast_to(qk_biased, softmax_dt, "softmax_in")},
                          softmax_attrs(false));
  if (bias != kNoValue) {  // rows the bias masks everywhere: 0, not NaN
    const ValueId row_max = b.emit1("bias_row_max", RMA_OP_REDUCE, {bias},
                                    reduce_attrs(RMA_REDUCE_MAX, 1u << (b.rank(bias) - 1), true));
    const ValueId all_masked = emit_binary(b, "row_all_masked", RMA_BINARY_EQUAL, row_max,
                                           b.scalar("neg_inf", kNegInf, dt));
    probs = b.emit1("zero_masked_rows", RMA_OP_WHERE,
                    {all_masked, b.scalar("zero", 0, softmax_dt), probs});
  }
  probs = cast_to(probs, dt, "softmax_out");
  ValueId y = b.emit1("attend", RMA_OP_MATMUL, {probs, v});
  if (rank == 3) {
    const ValueId t =
        b.emit1("merge_heads_t", RMA_OP_TRANSPOSE, {y}, transpose_attrs({0, 2, 1, 3}));
    y = b.emit1("merge_heads", CoreOp::kReshape, {t}, {},
                {{"shape", std::vector<int64_t>{qs[0], q_len, -1}}});
  }
  b.emit_outputs(CoreOp::kIdentity, {y});
  b.set_output(1, present_k);
  b.set_output(2, present_v);
  if (b.has_output(3)) {
    const int64_t mode = b.attr_int("qk_matmul_output_mode", 0);
    if (mode < 0 || mode > 3)
      b.fail("qk_matmul_output_mode is " + std::to_string(mode) + ", expected 0 to 3");
    b.set_output(3, mode <= 1 ? qk : mode == 2 ? qk_biased : probs);
  }
}

}  // namespace

const std::unordered_map<std::string, OpEntry>& op_table() {
  static const std::unordered_map<std::string, OpEntry> table = with_vision_ops({
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
      {"Elu", {lower_elu}},
      {"Selu", {lower_selu}},
      {"Celu", {lower_celu, 12}},
      {"Softplus", {lower_softplus}},
      {"Softsign", {lower_softsign}},
      {"Mish", {lower_mish, 18}},
      {"HardSwish", {lower_hard_swish, 14}},
      {"Swish", {lower_swish, 24}},
      {"ThresholdedRelu", {lower_thresholded_relu, 10}},
      {"Shrink", {lower_shrink, 9}},
      {"PRelu", {lower_prelu}},
      {"IsNaN", {lower_is_nan, 9}},
      {"IsInf", {lower_is_inf, 10}},
      {"Tan", {lower_tan}},
      {"Sinh", {hyperbolic(RMA_BINARY_SUB), 9}},
      {"Cosh", {hyperbolic(RMA_BINARY_ADD), 9}},
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
      {"ReduceL1", {lower_reduce_l1}},
      {"ReduceL2", {lower_reduce_l2}},
      {"ReduceLogSum", {lower_reduce_log_sum}},
      {"ReduceLogSumExp", {lower_reduce_log_sum_exp}},
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
      {"RMSNormalization", {lower_rms_norm, 23}},
      {"LpNormalization", {lower_lp_norm}},
      {"Trilu", {lower_trilu, 14}},
      {"Einsum", {lower_einsum, 12}},
      {"NegativeLogLikelihoodLoss", {lower_nll_loss, 12}},
      {"SoftmaxCrossEntropyLoss", {lower_softmax_cross_entropy, 12}},
      {"GatherElements", {lower_gather_elements, 11}},
      {"Attention", {lower_attention, 23}},
      {"InstanceNormalization", {lower_instance_norm}},
      {"GroupNormalization", {lower_group_norm, 18}},
      {"MeanVarianceNormalization", {lower_mvn, 9}},
      {"Hardmax", {lower_hardmax}},
      {"EyeLike", {lower_eye_like, 9}},
      {"DepthToSpace", {lower_depth_to_space}},
      {"SpaceToDepth", {lower_space_to_depth}},
  });
  return table;
}

}  // namespace rma::graph::onnx_import
