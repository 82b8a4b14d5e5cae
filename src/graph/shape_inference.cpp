// Per-node dtype and shape inference over symbolic shapes.
//
// When every input shape is known, interface ops go through the op schema
// (rma::infer_outputs), the single authority on shapes and dtypes. With
// symbolic dims the rules below say what they can: sizes that must agree are
// unified (a known size wins over a symbol), broadcasting keeps a symbol
// against 1, and a size that depends on values not known yet is a fresh
// symbol ("?name[axis]"). Definite contradictions are errors naming the
// node; anything undecidable is left for specialize(), which re-infers with
// concrete shapes through the schemas.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "graph_internal.h"
#include "rma/ops.h"

namespace rma::graph::detail {
namespace {

struct Ctx {
  const Graph& g;
  const std::string& node;
  const OpKind& op;
  const std::vector<ValueId>& inputs;
  const std::vector<uint8_t>& abi;
  const Attributes& attrs;
  const std::vector<std::string>& out_names;

  [[noreturn]] void fail(const std::string& message) const { fail_node(node, op, message); }
  // A valid graph the library cannot type: a result rank that depends on
  // input values.
  [[noreturn]] void unsupported(const std::string& message) const {
    unsupported_node(node, op, message);
  }

  const Value* in(size_t i) const {
    return i < inputs.size() && inputs[i] != kNoValue ? &g.value(inputs[i]) : nullptr;
  }
  const Value& req(size_t i, const std::string& what) const {
    const Value* v = in(i);
    if (!v) fail("input " + std::to_string(i) + " (" + what + ") is required");
    return *v;
  }
  std::string label(size_t i, const std::string& what) const {
    return "input " + std::to_string(i) + " (" + what + ", '" + g.value(inputs[i]).name + "')";
  }
  AttrReader reader() const { return AttrReader{node, op, attrs}; }
  template <class T>
  const T& abi_as() const {
    if (abi.size() < sizeof(T)) fail("attributes are missing");
    return *reinterpret_cast<const T*>(abi.data());
  }
  Dim fresh(int out, int axis) const {
    return fresh_dim(out < static_cast<int>(out_names.size()) ? out_names[out] : node, axis);
  }
  // The elements of input i when it is a constant.
  std::optional<std::vector<int64_t>> const_ints(size_t i) const {
    const Value* v = in(i);
    if (!v || !v->constant) return std::nullopt;
    return tensor_ints(*v->constant);
  }
};

std::string dt(DType d) { return std::string(name(d)); }

void expect_float(const Ctx& c, size_t i, const std::string& what) {
  const Value& v = c.req(i, what);
  if (!is_float(v.dtype))
    c.fail(c.label(i, what) + ": expected a float dtype (f32, f16, bf16), got " + dt(v.dtype));
}

void expect_dtype(const Ctx& c, size_t i, const std::string& what, DType want) {
  const Value& v = c.req(i, what);
  if (v.dtype != want)
    c.fail(c.label(i, what) + ": expected dtype " + dt(want) + ", got " + dt(v.dtype));
}

void expect_index(const Ctx& c, size_t i, const std::string& what) {
  const Value& v = c.req(i, what);
  if (v.dtype != DType::kI32 && v.dtype != DType::kI64)
    c.fail(c.label(i, what) + ": expected an index dtype (i32, i64), got " + dt(v.dtype));
}

void expect_rank(const Ctx& c, size_t i, const std::string& what, size_t rank) {
  const Value& v = c.req(i, what);
  if (v.shape.size() != rank)
    c.fail(c.label(i, what) + ": expected " + std::to_string(rank) + " dims, got shape " +
           to_string(v.shape));
}

void expect_min_rank(const Ctx& c, size_t i, const std::string& what, size_t rank) {
  const Value& v = c.req(i, what);
  if (v.shape.size() < rank)
    c.fail(c.label(i, what) + ": expected at least " + std::to_string(rank) + " dims, got shape " +
           to_string(v.shape));
}

// Two dims that must be equal: a known size wins over a symbol.
Dim unify(const Ctx& c, const Dim& a, const Dim& b, const std::string& what) {
  if (dims_conflict(a, b))
    c.fail(what + ": " + to_string(a) + " vs " + to_string(b) + " (they must be equal)");
  return a.known() ? a : b.known() ? b : a;
}

SymShape broadcast(const Ctx& c, const SymShape& a, const SymShape& b, int out) {
  const size_t n = std::max(a.size(), b.size());
  SymShape y(n);
  for (size_t i = 1; i <= n; ++i) {
    const Dim da = i <= a.size() ? a[a.size() - i] : Dim::of(1);
    const Dim db = i <= b.size() ? b[b.size() - i] : Dim::of(1);
    Dim r;
    if (da == db) {
      r = da;
    } else if (da.known() && da.value == 1) {
      r = db;
    } else if (db.known() && db.value == 1) {
      r = da;
    } else if (da.known() && db.known()) {
      c.fail("shapes " + to_string(a) + " and " + to_string(b) + " do not broadcast (" +
             to_string(da) + " vs " + to_string(db) + " at dim -" + std::to_string(i) + ")");
    } else if (da.known()) {
      r = da;  // the symbol must be 1 or equal to it
    } else if (db.known()) {
      r = db;
    } else {
      r = c.fresh(out, static_cast<int>(n - i));
    }
    y[n - i] = r;
  }
  return y;
}

int64_t norm_axis(const Ctx& c, int64_t axis, size_t rank, const std::string& what) {
  const auto r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r)
    c.fail(what + " " + std::to_string(axis) + " is out of range for " + std::to_string(rank) +
           " dims");
  return axis < 0 ? axis + r : axis;
}

// --------------------------------------------------------- interface ops

std::vector<ValueType> linear_like(const Ctx& c) {
  const auto& a = c.abi_as<rma_linear_attrs>();
  expect_float(c, 0, "x");
  const Value& x = c.req(0, "x");
  const Value& w = c.req(1, "w");
  expect_rank(c, 1, "w", 2);
  Dim k;
  if (a.trans_a) {
    expect_rank(c, 0, "x", 2);
    k = x.shape[0];
  } else {
    expect_min_rank(c, 0, "x", 1);
    k = x.shape.back();
  }
  const Dim wk = a.trans_b ? w.shape[1] : w.shape[0];
  const Dim n = a.trans_b ? w.shape[0] : w.shape[1];
  unify(c, k, wk, "K of x and w");
  if (const Value* bias = c.in(2)) {
    if (bias->shape.size() != 1) c.fail("bias: expected shape [N], got " + to_string(bias->shape));
    unify(c, bias->shape[0], n, "N of bias and w");
  }
  SymShape y = a.trans_a ? SymShape{x.shape[1], n} : x.shape;
  if (!a.trans_a) y.back() = n;
  return {{x.dtype, y}};
}

std::vector<ValueType> same_as_input(const Ctx& c, size_t i, const std::string& what) {
  const Value& x = c.req(i, what);
  return {{x.dtype, x.shape}};
}

std::vector<ValueType> norm(const Ctx& c) {
  expect_float(c, 0, "x");
  expect_min_rank(c, 0, "x", 1);
  const Value& x = c.req(0, "x");
  expect_rank(c, 1, "w", 1);
  unify(c, c.req(1, "w").shape[0], x.shape.back(), "H of w and x");
  return {{x.dtype, x.shape}};
}

std::vector<ValueType> act_and_mul(const Ctx& c) {
  expect_float(c, 0, "x");
  expect_min_rank(c, 0, "x", 1);
  const Value& x = c.req(0, "x");
  SymShape y = x.shape;
  const Dim last = x.shape.back();
  if (last.known()) {
    if (last.value % 2 != 0)
      c.fail("x: expected an even last dim [..., 2I], got " + to_string(x.shape));
    y.back() = Dim::of(last.value / 2);
  } else {
    y.back() = dim_div(last, Dim::of(2)).value_or(c.fresh(0, static_cast<int>(y.size()) - 1));
  }
  return {{x.dtype, y}};
}

// conv2d / pool2d over symbolic shapes: N passes through, the channels come
// from w (conv2d) or x (pool2d), and an output extent is computed where its
// input extent is known, else it is a fresh symbol. The kernel must be
// static.
std::vector<ValueType> window_op(const Ctx& c, rma_op op) {
  expect_float(c, 0, "x");
  expect_rank(c, 0, "x", 4);
  const Value& x = c.req(0, "x");
  Dim channels = x.shape[1];
  int64_t kernel[2] = {1, 1};
  const int32_t *stride = nullptr, *dilation = nullptr, *pad = nullptr;
  bool ceil_mode = false;
  if (op == RMA_OP_CONV2D) {
    const auto& a = c.abi_as<rma_conv2d_attrs>();
    expect_rank(c, 1, "w", 4);
    expect_dtype(c, 1, "w", x.dtype);
    const Value& w = c.req(1, "w");
    if (!w.shape[2].known() || !w.shape[3].known())
      c.unsupported("w: the kernel extents kH, kW must be static, got " + to_string(w.shape));
    if (a.group < 1) c.fail("attribute 'group': expected >= 1, got " + std::to_string(a.group));
    if (x.shape[1].known() && w.shape[1].known() && x.shape[1].value != w.shape[1].value * a.group)
      c.fail("w: expected C/group = " + std::to_string(x.shape[1].value) + " / " +
             std::to_string(a.group) + " in dim 1, got shape " + to_string(w.shape));
    kernel[0] = w.shape[2].value;
    kernel[1] = w.shape[3].value;
    channels = w.shape[0];
    stride = a.stride;
    dilation = a.dilation;
    pad = a.pad;
  } else {
    const auto& a = c.abi_as<rma_pool2d_attrs>();
    kernel[0] = a.kernel[0];
    kernel[1] = a.kernel[1];
    stride = a.stride;
    dilation = a.dilation;
    pad = a.pad;
    ceil_mode = a.ceil_mode != 0;
  }
  SymShape y = {x.shape[0], channels};
  for (int i = 0; i < 2; ++i) {
    const Dim in = x.shape[2 + i];
    if (!in.known()) {
      y.push_back(c.fresh(0, 2 + i));
      continue;
    }
    const int64_t out = window_out_extent(in.value, kernel[i], stride[i], dilation[i], pad[i],
                                          pad[i + 2], ceil_mode);
    if (out < 1)
      c.fail(std::string("x: no window of kernel ") + std::to_string(kernel[i]) + " fits along " +
             (i ? "W" : "H") + " in " + to_string(x.shape) + " with its stride, dilation and pads");
    y.push_back(Dim::of(out));
  }
  return {{x.dtype, y}};
}

std::vector<ValueType> interface_symbolic(const Ctx& c, rma_op op) {
  switch (op) {
    case RMA_OP_LINEAR:
    case RMA_OP_QUANT_LINEAR:
      return linear_like(c);
    case RMA_OP_RMS_NORM:
    case RMA_OP_LAYER_NORM:
      return norm(c);
    case RMA_OP_ADD_RMS_NORM: {
      auto y = norm(c);
      return {y[0], y[0]};
    }
    case RMA_OP_ROPE: {
      expect_float(c, 0, "q");
      expect_rank(c, 0, "q", 3);
      expect_rank(c, 1, "k", 3);
      const Value &q = c.req(0, "q"), &k = c.req(1, "k");
      return {{q.dtype, q.shape}, {k.dtype, k.shape}};
    }
    case RMA_OP_FILL_KV_CACHE:
      c.fail("fill_kv_cache updates caches in place, which graphs do not express");
    case RMA_OP_PREFILL_ATTENTION:
    case RMA_OP_PAGED_DECODE_ATTENTION:
      expect_float(c, 0, "q");
      expect_rank(c, 0, "q", 3);
      return same_as_input(c, 0, "q");
    case RMA_OP_SILU_AND_MUL:
    case RMA_OP_GELU_AND_MUL:
      return act_and_mul(c);
    case RMA_OP_EMBEDDING: {
      expect_index(c, 0, "ids");
      expect_rank(c, 0, "ids", 1);
      expect_rank(c, 1, "table", 2);
      const Value& table = c.req(1, "table");
      const DType out = is_quantized(table.dtype) ? DType::kF32 : table.dtype;
      return {{out, {c.req(0, "ids").shape[0], table.shape[1]}}};
    }
    case RMA_OP_MOE_GATING_TOPK_SOFTMAX: {
      expect_rank(c, 0, "logits", 2);
      const Dim t = c.req(0, "logits").shape[0];
      const Dim k = Dim::of(c.abi_as<rma_moe_gating_attrs>().k);
      return {{DType::kF32, {t, k}}, {DType::kI32, {t, k}}};
    }
    case RMA_OP_SAMPLE:
      expect_rank(c, 0, "logits", 2);
      return {{DType::kI32, {c.req(0, "logits").shape[0]}}};
    case RMA_OP_SOFTMAX:
      expect_float(c, 0, "x");
      expect_min_rank(c, 0, "x", 1);
      return same_as_input(c, 0, "x");
    case RMA_OP_ADD:
    case RMA_OP_MUL: {
      expect_float(c, 0, "a");
      expect_dtype(c, 1, "b", c.req(0, "a").dtype);
      return {{c.req(0, "a").dtype, broadcast(c, c.req(0, "a").shape, c.req(1, "b").shape, 0)}};
    }
    case RMA_OP_UNARY: {
      const auto& a = c.abi_as<rma_unary_attrs>();
      if (a.kind < 0 || a.kind >= RMA_UNARY_COUNT)
        c.fail("attribute 'kind': expected an rma_unary_kind (0.." +
               std::to_string(RMA_UNARY_COUNT - 1) + "), got " + std::to_string(a.kind));
      return same_as_input(c, 0, "x");
    }
    case RMA_OP_BINARY: {
      const auto& a = c.abi_as<rma_binary_attrs>();
      if (a.kind < 0 || a.kind >= RMA_BINARY_COUNT)
        c.fail("attribute 'kind': expected an rma_binary_kind (0.." +
               std::to_string(RMA_BINARY_COUNT - 1) + "), got " + std::to_string(a.kind));
      const Value& x = c.req(0, "a");
      expect_dtype(c, 1, "b", x.dtype);
      const bool to_bool = a.kind >= RMA_BINARY_EQUAL && a.kind <= RMA_BINARY_GREATER_EQUAL;
      return {{to_bool ? DType::kBool : x.dtype, broadcast(c, x.shape, c.req(1, "b").shape, 0)}};
    }
    case RMA_OP_MATMUL: {
      // numpy matmul: a[..., M, K] or [K]; b[..., K, N] or [K].
      expect_float(c, 0, "a");
      expect_min_rank(c, 0, "a", 1);
      expect_min_rank(c, 1, "b", 1);
      const Value &a = c.req(0, "a"), &b = c.req(1, "b");
      expect_dtype(c, 1, "b", a.dtype);
      const size_t kb = b.shape.size() == 1 ? 0 : b.shape.size() - 2;
      unify(c, a.shape.back(), b.shape[kb], "K of a and b");
      const SymShape ba(a.shape.begin(), a.shape.end() - std::min<size_t>(2, a.shape.size()));
      const SymShape bb(b.shape.begin(), b.shape.end() - std::min<size_t>(2, b.shape.size()));
      SymShape y = broadcast(c, ba, bb, 0);
      if (a.shape.size() >= 2) y.push_back(a.shape[a.shape.size() - 2]);
      if (b.shape.size() >= 2) y.push_back(b.shape.back());
      return {{a.dtype, y}};
    }
    case RMA_OP_REDUCE: {
      const auto& a = c.abi_as<rma_reduce_attrs>();
      const Value& x = c.req(0, "x");
      const auto rank = static_cast<int>(x.shape.size());
      if (a.axes == 0 || (rank < 32 && (a.axes >> rank) != 0))
        c.fail("attribute 'axes': mask " + std::to_string(a.axes) + " must name at least one of " +
               std::to_string(rank) + " axes and no other");
      if (a.kind < 0 || a.kind >= RMA_REDUCE_COUNT)
        c.fail("attribute 'kind': expected an rma_reduce_kind, got " + std::to_string(a.kind));
      SymShape y;
      for (int d = 0; d < rank; ++d) {
        if (!(a.axes & (1u << d))) {
          y.push_back(x.shape[d]);
        } else if (a.keepdims) {
          y.push_back(Dim::of(1));
        }
      }
      const bool arg = a.kind == RMA_REDUCE_ARGMAX || a.kind == RMA_REDUCE_ARGMIN;
      return {{arg ? DType::kI64 : x.dtype, y}};
    }
    case RMA_OP_CAST: {
      const auto& a = c.abi_as<rma_cast_attrs>();
      if (!is_valid(a.dtype) || is_quantized(static_cast<DType>(a.dtype)))
        c.fail("attribute 'dtype': expected a plain dtype, got id " + std::to_string(a.dtype));
      return {{static_cast<DType>(a.dtype), c.req(0, "x").shape}};
    }
    case RMA_OP_WHERE: {
      expect_dtype(c, 0, "cond", DType::kBool);
      const Value &a = c.req(1, "a"), &b = c.req(2, "b");
      expect_dtype(c, 2, "b", a.dtype);
      return {
          {a.dtype, broadcast(c, broadcast(c, c.req(0, "cond").shape, a.shape, 0), b.shape, 0)}};
    }
    case RMA_OP_GATHER: {
      const Value &data = c.req(0, "data"), &idx = c.req(1, "indices");
      expect_index(c, 1, "indices");
      const int64_t axis = norm_axis(c, c.abi_as<rma_axis_attrs>().axis, data.shape.size(), "axis");
      SymShape y(data.shape.begin(), data.shape.begin() + axis);
      y.insert(y.end(), idx.shape.begin(), idx.shape.end());
      y.insert(y.end(), data.shape.begin() + axis + 1, data.shape.end());
      return {{data.dtype, y}};
    }
    case RMA_OP_CONCAT: {
      if (c.inputs.empty() || c.inputs.size() > 64)
        c.fail("expected 1 to 64 inputs, got " + std::to_string(c.inputs.size()));
      const Value& x0 = c.req(0, "x0");
      const int64_t axis = norm_axis(c, c.abi_as<rma_axis_attrs>().axis, x0.shape.size(), "axis");
      SymShape y = x0.shape;
      for (size_t i = 1; i < c.inputs.size(); ++i) {
        const Value& xi = c.req(i, "x" + std::to_string(i));
        expect_dtype(c, i, "x" + std::to_string(i), x0.dtype);
        expect_rank(c, i, "x" + std::to_string(i), x0.shape.size());
        for (size_t d = 0; d < y.size(); ++d) {
          if (static_cast<int64_t>(d) == axis) {
            y[d] = dim_add(y[d], xi.shape[d]);
          } else {
            y[d] = unify(c, y[d], xi.shape[d], "dim " + std::to_string(d) + " of the inputs");
          }
        }
      }
      return {{x0.dtype, y}};
    }
    case RMA_OP_SLICE: {
      const auto& a = c.abi_as<rma_slice_attrs>();
      const Value& x = c.req(0, "x");
      SymShape y;
      for (size_t d = 0; d < x.shape.size(); ++d) {
        if (a.step[d] == 0) c.fail("attribute 'step': step " + std::to_string(d) + " is 0");
        y.push_back(Dim::of(a.size[d]));
      }
      return {{x.dtype, y}};
    }
    case RMA_OP_TRANSPOSE: {
      const auto& a = c.abi_as<rma_transpose_attrs>();
      const Value& x = c.req(0, "x");
      std::vector<bool> seen(x.shape.size(), false);
      SymShape y;
      for (size_t d = 0; d < x.shape.size(); ++d) {
        const int32_t p = a.perm[d];
        if (p < 0 || p >= static_cast<int32_t>(x.shape.size()) || seen[p])
          c.fail("attribute 'perm': not a permutation of [0, " + std::to_string(x.shape.size()) +
                 ")");
        seen[p] = true;
        y.push_back(x.shape[p]);
      }
      return {{x.dtype, y}};
    }
    case RMA_OP_EXPAND: {
      const auto& a = c.abi_as<rma_shape_attrs>();
      const Value& x = c.req(0, "x");
      if (a.ndim < static_cast<int32_t>(x.shape.size()) || a.ndim > RMA_MAX_DIMS)
        c.fail("attribute 'shape': " + std::to_string(a.ndim) + " dims, x has " +
               std::to_string(x.shape.size()));
      SymShape y;
      for (int d = 0; d < a.ndim; ++d) y.push_back(Dim::of(a.shape[d]));
      broadcast(c, x.shape, y, 0);
      return {{x.dtype, y}};
    }
    case RMA_OP_CONV2D:
    case RMA_OP_POOL2D:
      return window_op(c, op);
    default:
      c.fail("unknown op");
  }
}

std::vector<ValueType> interface_op(const Ctx& c, rma_op op) {
  if (op == RMA_OP_FILL_KV_CACHE) return interface_symbolic(c, op);
  bool all_known = true;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    if (const Value* v = c.in(i); v && !known_shape(v->shape)) all_known = false;
  // Until an op's schema is registered (its name is empty) only the rules
  // here apply.
  const std::string_view registered = op_name(op);
  if (!all_known || registered.empty() || registered == "unknown_op")
    return interface_symbolic(c, op);

  std::vector<rma_tensor> descs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const Value* v = c.in(i);
    if (!v) {
      descs.push_back(absent_tensor());
      continue;
    }
    rma_tensor t{};
    t.struct_size = sizeof(t);
    t.abi_version = RMA_ABI_VERSION;
    t.dtype = static_cast<int32_t>(v->dtype);
    t.ndim = static_cast<int32_t>(v->shape.size());
    if (t.ndim > RMA_MAX_DIMS) c.fail(c.label(i, "input") + " has more than 8 dims");
    const Shape s = *known_shape(v->shape);
    const Shape strides = contiguous_strides(s);
    for (int d = 0; d < t.ndim; ++d) {
      t.shape[d] = s[d];
      t.strides[d] = strides[d];
    }
    descs.push_back(t);
  }
  std::vector<TensorDesc> out;
  try {
    out = infer_outputs(op, descs, c.abi.empty() ? nullptr : c.abi.data());
  } catch (const Error& e) {
    c.fail(e.message());
  }
  std::vector<ValueType> types;
  for (const TensorDesc& d : out) types.push_back({d.dtype, sym_shape(d.shape)});
  return types;
}

// ---------------------------------------------------------------- core ops

// ONNX Reshape: 0 copies the input dim, -1 is inferred from the rest.
// With allowzero, 0 is a literal size.
SymShape reshape_target(const Ctx& c, const SymShape& x, const std::vector<int64_t>& target,
                        bool allowzero) {
  SymShape y(target.size());
  int infer = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      if (infer >= 0) c.fail("reshape target has two -1 dims");
      infer = static_cast<int>(i);
    } else if (target[i] == 0 && !allowzero) {
      if (i >= x.size())
        c.fail("reshape target dim " + std::to_string(i) + " is 0 (copy), but x has only " +
               std::to_string(x.size()) + " dims");
      y[i] = x[i];
    } else if (target[i] < -1) {
      c.fail("reshape target dim " + std::to_string(i) + " is " + std::to_string(target[i]));
    } else {
      y[i] = Dim::of(target[i]);
    }
  }
  const Dim total = dim_product(x, 0, x.size());
  if (infer >= 0) {
    Dim rest = Dim::of(1);
    for (size_t i = 0; i < y.size(); ++i)
      if (static_cast<int>(i) != infer) rest = dim_mul(rest, y[i]);
    if (total.known() && rest.known() && rest.value == 0)
      c.fail("reshape cannot infer the -1 dim of a target with a 0 size");
    std::optional<Dim> q = dim_div(total, rest);
    if (!q && total.known() && rest.known())
      c.fail("cannot reshape " + to_string(x) + " (" + std::to_string(total.value) +
             " elements) to " + to_string(y) + " with -1 at dim " + std::to_string(infer));
    y[infer] = q.value_or(c.fresh(0, infer));
  } else {
    const Dim got = dim_product(y, 0, y.size());
    if (dims_conflict(total, got))
      c.fail("cannot reshape " + to_string(x) + " (" + std::to_string(total.value) +
             " elements) to " + to_string(y) + " (" + std::to_string(got.value) + ")");
  }
  return y;
}

// A shape tensor read straight from a core.shape node: its symbolic dims.
std::optional<SymShape> shape_of_shape(const Ctx& c, size_t i) {
  const Value* v = c.in(i);
  if (!v || v->producer < 0 || v->producer >= static_cast<NodeId>(c.g.nodes().size()))
    return std::nullopt;
  const Node& p = c.g.nodes()[v->producer];
  const CoreOp* op = std::get_if<CoreOp>(&p.op);
  if (!op || *op != CoreOp::kShape || p.inputs.empty()) return std::nullopt;
  const SymShape& x = c.g.value(p.inputs[0]).shape;
  const auto rank = static_cast<int64_t>(x.size());
  const AttrReader a{p.name, p.op, p.attrs};
  auto clamp = [&](int64_t d) { return std::clamp(d < 0 ? d + rank : d, int64_t{0}, rank); };
  const int64_t start = clamp(a.integer("start", 0)), end = clamp(a.integer("end", rank));
  if (end <= start) return SymShape{};
  return SymShape(x.begin() + start, x.begin() + end);
}

std::vector<ValueType> core_op(const Ctx& c, CoreOp op) {
  const AttrReader a = c.reader();
  switch (op) {
    case CoreOp::kReshape: {
      const Value& x = c.req(0, "x");
      const bool allowzero = a.integer("allowzero", 0) != 0;
      if (const Value* shape = c.in(1)) {
        expect_index(c, 1, "shape");
        expect_rank(c, 1, "shape", 1);
        if (auto target = c.const_ints(1))
          return {{x.dtype, reshape_target(c, x.shape, *target, allowzero)}};
        if (auto dims = shape_of_shape(c, 1)) return {{x.dtype, *dims}};
        if (!shape->shape[0].known()) c.unsupported("input 1 (shape) has an unknown length");
        SymShape y;
        for (int i = 0; i < shape->shape[0].value; ++i) y.push_back(c.fresh(0, i));
        return {{x.dtype, y}};
      }
      return {{x.dtype, reshape_target(c, x.shape, a.ints("shape"), allowzero)}};
    }
    case CoreOp::kSqueeze: {
      const Value& x = c.req(0, "x");
      std::vector<int64_t> axes = a.ints("axes", std::vector<int64_t>{});
      std::set<int64_t> drop;
      if (axes.empty()) {
        for (size_t d = 0; d < x.shape.size(); ++d)
          if (x.shape[d].known() && x.shape[d].value == 1) drop.insert(static_cast<int64_t>(d));
      }
      for (int64_t ax : axes) {
        const int64_t d = norm_axis(c, ax, x.shape.size(), "squeeze axis");
        if (dims_conflict(x.shape[d], Dim::of(1)))
          c.fail("squeeze axis " + std::to_string(ax) + " has size " + to_string(x.shape[d]) +
                 ", not 1");
        drop.insert(d);
      }
      SymShape y;
      for (size_t d = 0; d < x.shape.size(); ++d)
        if (!drop.count(static_cast<int64_t>(d))) y.push_back(x.shape[d]);
      return {{x.dtype, y}};
    }
    case CoreOp::kUnsqueeze: {
      const Value& x = c.req(0, "x");
      const std::vector<int64_t> axes = a.ints("axes");
      const size_t rank = x.shape.size() + axes.size();
      std::vector<bool> is_new(rank, false);
      for (int64_t ax : axes) {
        const int64_t d = norm_axis(c, ax, rank, "unsqueeze axis");
        if (is_new[d]) c.fail("unsqueeze axis " + std::to_string(ax) + " given twice");
        is_new[d] = true;
      }
      SymShape y;
      size_t next = 0;
      for (size_t d = 0; d < rank; ++d) y.push_back(is_new[d] ? Dim::of(1) : x.shape[next++]);
      return {{x.dtype, y}};
    }
    case CoreOp::kFlatten: {
      const Value& x = c.req(0, "x");
      const auto rank = static_cast<int64_t>(x.shape.size());
      int64_t axis = a.integer("axis", 1);
      if (axis < -rank || axis > rank)
        c.fail("flatten axis " + std::to_string(axis) + " is out of range for " +
               std::to_string(rank) + " dims");
      if (axis < 0) axis += rank;
      return {{x.dtype, {dim_product(x.shape, 0, axis), dim_product(x.shape, axis, rank)}}};
    }
    case CoreOp::kIdentity:
      return same_as_input(c, 0, "x");
    case CoreOp::kShape: {
      const auto rank = static_cast<int64_t>(c.req(0, "x").shape.size());
      auto clamp = [&](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
      const int64_t start = clamp(a.integer("start", 0)), end = clamp(a.integer("end", rank));
      return {{DType::kI64, {Dim::of(std::max<int64_t>(end - start, 0))}}};
    }
    case CoreOp::kSize:
      c.req(0, "x");
      return {{DType::kI64, {}}};
    case CoreOp::kConstantOfShape: {
      expect_index(c, 0, "shape");
      expect_rank(c, 0, "shape", 1);
      const std::optional<Tensor> value = a.tensor("value");
      if (value && value->numel() != 1)
        c.fail("attribute 'value': expected one element, got " + value->describe());
      const DType dtype = value ? value->dtype() : DType::kF32;
      if (auto dims = c.const_ints(0)) {
        for (int64_t d : *dims)
          if (d < 0) c.fail("shape has a negative size " + std::to_string(d));
        return {{dtype, sym_shape(*dims)}};
      }
      if (auto dims = shape_of_shape(c, 0)) return {{dtype, *dims}};
      const Dim len = c.req(0, "shape").shape[0];
      if (!len.known()) c.unsupported("input 0 (shape) has an unknown length");
      SymShape y;
      for (int i = 0; i < len.value; ++i) y.push_back(c.fresh(0, i));
      return {{dtype, y}};
    }
    case CoreOp::kRange: {
      const Value& start = c.req(0, "start");
      for (size_t i = 0; i < 3; ++i) {
        const Value& v = c.req(i, i == 0 ? "start" : i == 1 ? "limit" : "delta");
        if (v.dtype != start.dtype)
          c.fail(c.label(i, "range input") + ": expected dtype " + dt(start.dtype) + ", got " +
                 dt(v.dtype));
        if (!known_shape(v.shape) || numel(*known_shape(v.shape)) != 1)
          c.fail(c.label(i, "range input") + ": expected a scalar, got shape " +
                 to_string(v.shape));
      }
      const Value *s = c.in(0), *l = c.in(1), *d = c.in(2);
      if (s->constant && l->constant && d->constant) {
        const double s0 = *scalar_value(*s->constant), l0 = *scalar_value(*l->constant),
                     d0 = *scalar_value(*d->constant);
        if (d0 == 0) c.fail("range delta is 0");
        const auto n = static_cast<int64_t>(std::max(std::ceil((l0 - s0) / d0), 0.0));
        return {{start.dtype, {Dim::of(n)}}};
      }
      return {{start.dtype, {c.fresh(0, 0)}}};
    }
    case CoreOp::kSliceDynamic: {
      const Value& x = c.req(0, "x");
      expect_index(c, 1, "starts");
      expect_index(c, 2, "ends");
      const auto starts = c.const_ints(1), ends = c.const_ints(2);
      std::optional<std::vector<int64_t>> axes, steps;
      if (c.in(3)) axes = c.const_ints(3);
      if (c.in(4)) steps = c.const_ints(4);
      SymShape y = x.shape;
      const bool params_known = starts && ends && (!c.in(3) || axes) && (!c.in(4) || steps);
      if (!params_known) {
        if (c.in(3) && axes) {
          for (int64_t ax : *axes) {
            const int64_t d = norm_axis(c, ax, x.shape.size(), "slice axis");
            y[d] = c.fresh(0, static_cast<int>(d));
          }
        } else {
          for (size_t d = 0; d < y.size(); ++d) y[d] = c.fresh(0, static_cast<int>(d));
        }
        return {{x.dtype, y}};
      }
      const size_t n = starts->size();
      if (ends->size() != n || (axes && axes->size() != n) || (steps && steps->size() != n))
        c.fail("starts, ends, axes and steps must have one length");
      std::vector<bool> seen(x.shape.size(), false);
      for (size_t i = 0; i < n; ++i) {
        const int64_t d =
            norm_axis(c, axes ? (*axes)[i] : static_cast<int64_t>(i), x.shape.size(), "slice axis");
        if (seen[d]) c.fail("slice axis " + std::to_string(d) + " is given twice");
        seen[d] = true;
        const int64_t step = steps ? (*steps)[i] : 1;
        if (step == 0) c.fail("slice step is 0 on axis " + std::to_string(d));
        const int64_t s = (*starts)[i], e = (*ends)[i];
        if (x.shape[d].known()) {
          y[d] = Dim::of(resolve_slice(x.shape[d].value, s, e, step).size);
        } else if (step == 1 && s == 0 && e >= (int64_t{1} << 62)) {
          y[d] = x.shape[d];  // the whole axis
        } else if (step == 1 && s >= 0 && e >= 0 && e >= s && e < (int64_t{1} << 62)) {
          y[d] = c.fresh(0, static_cast<int>(d));  // min(e, dim) - min(s, dim)
        } else {
          y[d] = c.fresh(0, static_cast<int>(d));
        }
      }
      return {{x.dtype, y}};
    }
    case CoreOp::kExpandDynamic: {
      const Value& x = c.req(0, "x");
      expect_index(c, 1, "shape");
      expect_rank(c, 1, "shape", 1);
      if (auto target = c.const_ints(1))
        return {{x.dtype, broadcast(c, x.shape, sym_shape(*target), 0)}};
      if (auto dims = shape_of_shape(c, 1)) return {{x.dtype, broadcast(c, x.shape, *dims, 0)}};
      const Dim len = c.req(1, "shape").shape[0];
      if (!len.known()) c.unsupported("input 1 (shape) has an unknown length");
      const size_t rank = std::max<size_t>(x.shape.size(), static_cast<size_t>(len.value));
      SymShape y(rank);
      for (size_t i = 0; i < rank; ++i) {
        const size_t from_back = rank - i;
        const bool has_x = from_back <= x.shape.size();
        const Dim xd = has_x ? x.shape[x.shape.size() - from_back] : Dim::of(1);
        y[i] = (xd.known() && xd.value != 1) ? xd : c.fresh(0, static_cast<int>(i));
      }
      return {{x.dtype, y}};
    }
    case CoreOp::kReduceDynamic: {
      const Value& x = c.req(0, "x");
      const int32_t kind = reduce_kind_attr(a);
      const bool keepdims = a.integer("keepdims", 1) != 0;
      const bool noop = a.integer("noop_with_empty_axes", 0) != 0;
      const bool arg = kind == RMA_REDUCE_ARGMAX || kind == RMA_REDUCE_ARGMIN;
      const DType out = arg ? DType::kI64 : x.dtype;
      std::optional<std::vector<int64_t>> axes;
      if (c.in(1)) {
        expect_index(c, 1, "axes");
        axes = c.const_ints(1);
        if (!axes) {
          if (keepdims) {
            SymShape y;
            for (size_t d = 0; d < x.shape.size(); ++d)
              y.push_back(c.fresh(0, static_cast<int>(d)));
            return {{out, y}};
          }
          c.unsupported("axes are not constant and keepdims is 0: the output rank is unknown");
        }
      } else {
        axes = a.ints("axes", std::vector<int64_t>{});
      }
      if (axes->empty()) {
        if (noop) return {{out, x.shape}};
        for (size_t d = 0; d < x.shape.size(); ++d) axes->push_back(static_cast<int64_t>(d));
      }
      std::set<int64_t> reduced;
      for (int64_t ax : *axes) reduced.insert(norm_axis(c, ax, x.shape.size(), "reduce axis"));
      SymShape y;
      for (size_t d = 0; d < x.shape.size(); ++d) {
        if (!reduced.count(static_cast<int64_t>(d))) {
          y.push_back(x.shape[d]);
        } else if (keepdims) {
          y.push_back(Dim::of(1));
        }
      }
      return {{out, y}};
    }
    case CoreOp::kSplit: {
      const Value& x = c.req(0, "x");
      const int64_t axis = norm_axis(c, a.integer("axis", 0), x.shape.size(), "split axis");
      const int n = num_outputs(c.g, c.node, c.op, c.inputs, c.attrs);
      std::vector<ValueType> out(n, {x.dtype, x.shape});
      const Dim dim = x.shape[axis];
      std::optional<std::vector<int64_t>> sizes;
      if (c.in(1)) {
        expect_index(c, 1, "split");
        sizes = c.const_ints(1);
      }
      if (sizes) {
        int64_t total = 0;
        for (int64_t s : *sizes) {
          if (s < 0) c.fail("split size " + std::to_string(s) + " is negative");
          total += s;
        }
        if (dims_conflict(dim, Dim::of(total)))
          c.fail("split sizes add up to " + std::to_string(total) + ", the axis has " +
                 to_string(dim));
        for (int i = 0; i < n; ++i) out[i].shape[axis] = Dim::of((*sizes)[i]);
      } else if (c.in(1)) {
        for (int i = 0; i < n; ++i) out[i].shape[axis] = c.fresh(i, static_cast<int>(axis));
      } else if (dim.known()) {
        // ONNX: ceil(dim / n) each, the last one smaller.
        const int64_t each = (dim.value + n - 1) / n;
        for (int i = 0; i < n; ++i)
          out[i].shape[axis] = Dim::of(std::clamp<int64_t>(dim.value - each * i, 0, each));
      } else {
        const std::optional<Dim> each = dim_div(dim, Dim::of(n));
        for (int i = 0; i < n; ++i)
          out[i].shape[axis] = each.value_or(c.fresh(i, static_cast<int>(axis)));
      }
      return out;
    }
    case CoreOp::kTile: {
      const Value& x = c.req(0, "x");
      expect_index(c, 1, "repeats");
      SymShape y = x.shape;
      if (auto reps = c.const_ints(1)) {
        if (reps->size() != x.shape.size())
          c.fail("repeats has " + std::to_string(reps->size()) + " entries, x has " +
                 std::to_string(x.shape.size()) + " dims");
        for (size_t d = 0; d < y.size(); ++d) {
          if ((*reps)[d] < 0) c.fail("repeats has a negative entry");
          y[d] = dim_mul(y[d], Dim::of((*reps)[d]));
        }
      } else {
        for (size_t d = 0; d < y.size(); ++d) y[d] = c.fresh(0, static_cast<int>(d));
      }
      return {{x.dtype, y}};
    }
  }
  c.fail("unknown core op");
}

}  // namespace

int num_outputs(const Graph& g, const std::string& node, const OpKind& op,
                const std::vector<ValueId>& inputs, const Attributes& attrs) {
  if (const rma_op* iop = std::get_if<rma_op>(&op)) {
    if (*iop == RMA_OP_ADD_RMS_NORM || *iop == RMA_OP_ROPE || *iop == RMA_OP_FILL_KV_CACHE ||
        *iop == RMA_OP_MOE_GATING_TOPK_SOFTMAX)
      return 2;
    return 1;
  }
  if (std::get<CoreOp>(op) != CoreOp::kSplit) return 1;
  const AttrReader a{node, op, attrs};
  if (inputs.size() > 1 && inputs[1] != kNoValue) {
    const Value& split = g.value(inputs[1]);
    if (split.shape.size() == 1 && split.shape[0].known())
      return static_cast<int>(split.shape[0].value);
    if (a.has("num_outputs")) return static_cast<int>(a.integer("num_outputs"));
    unsupported_node(node, op,
                     "input 1 (split) has an unknown length and 'num_outputs' is not given");
  }
  const int64_t n = a.integer("num_outputs");
  if (n < 1 || n > 1024)
    fail_node(node, op, "attribute 'num_outputs': expected 1..1024, got " + std::to_string(n));
  return static_cast<int>(n);
}

std::vector<ValueType> infer_node(const Graph& g, const std::string& node, const OpKind& op,
                                  const std::vector<ValueId>& inputs,
                                  const std::vector<uint8_t>& abi_attrs, const Attributes& attrs,
                                  const std::vector<std::string>& output_names) {
  const Ctx c{g, node, op, inputs, abi_attrs, attrs, output_names};
  std::vector<ValueType> types = std::holds_alternative<rma_op>(op)
                                     ? interface_op(c, std::get<rma_op>(op))
                                     : core_op(c, std::get<CoreOp>(op));
  for (const ValueType& t : types)
    if (t.shape.size() > RMA_MAX_DIMS)
      c.fail("an output would have " + std::to_string(t.shape.size()) + " dims, at most " +
             std::to_string(RMA_MAX_DIMS) + " are supported");
  return types;
}

}  // namespace rma::graph::detail
