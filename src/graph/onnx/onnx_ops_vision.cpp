// ONNX vision ops: Conv, MaxPool, AveragePool, GlobalAveragePool,
// GlobalMaxPool and BatchNormalization (inference). 1-D forms ([N, C, L])
// run as 2-D ones with H = 1: x and w gain a unit axis before the op and y
// loses it after. auto_pad becomes explicit pads here (SAME needs the
// spatial dims known at import). BatchNormalization becomes one mul and one
// add of per-channel [C, 1, ...] values, precomputed when its parameters are
// constants, which fold_conv_batch_norm then folds into a preceding conv.
#include <cmath>
#include <string>
#include <vector>

#include "onnx_internal.h"
#include "rma/ops.h"

namespace rma::graph::onnx_import {
namespace {

// The spatial window of a Conv or pool node, as 2-D (h, w) pairs.
struct Window {
  int64_t kernel[2] = {1, 1};
  int64_t stride[2] = {1, 1};
  int64_t dilation[2] = {1, 1};
  int64_t pad[4] = {0, 0, 0, 0};  // top, left, bottom, right
};

std::string join(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(v[i]);
  }
  return s + "]";
}

// Spatial rank of `x` (rank - 2); 1 or 2, else kUnsupported.
int spatial_rank(NodeBuilder& b, ValueId x) {
  const int r = b.rank(x) - 2;
  if (r < 1) b.fail("X must have at least 3 dims [N, C, ...], got " + to_string(b.value(x).shape));
  if (r > 2)
    b.unsupported(std::to_string(r) + "-D " + b.op_type() +
                  " is not supported (1-D and 2-D only), X is " + to_string(b.value(x).shape));
  return r;
}

// A per-axis attribute list of `n` entries (default `fallback` for each).
std::vector<int64_t> axis_list(NodeBuilder& b, const std::string& key, int n, int64_t fallback,
                               int64_t min) {
  const std::vector<int64_t> v =
      b.attr_ints(key, std::vector<int64_t>(static_cast<size_t>(n), fallback));
  if (static_cast<int>(v.size()) != n)
    b.fail("attribute '" + key + "': expected " + std::to_string(n) + " values, got " + join(v));
  for (int64_t e : v)
    if (e < min)
      b.fail("attribute '" + key + "': expected values >= " + std::to_string(min) + ", got " +
             join(v));
  return v;
}

// Reads kernel, strides, dilations, pads and auto_pad for `rank` spatial
// axes of x; `kernel` is given (from w or kernel_shape). A 1-D window is
// put on the w axis.
Window read_window(NodeBuilder& b, ValueId x, int rank, const std::vector<int64_t>& kernel) {
  const std::vector<int64_t> strides = axis_list(b, "strides", rank, 1, 1);
  const std::vector<int64_t> dilations = axis_list(b, "dilations", rank, 1, 1);
  std::vector<int64_t> pads = axis_list(b, "pads", 2 * rank, 0, 0);
  const std::string auto_pad = b.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "VALID") {
    pads.assign(pads.size(), 0);
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    // out = ceil(in / stride); the total padding splits evenly, the odd
    // cell at the end (UPPER) or the beginning (LOWER).
    const SymShape& xs = b.value(x).shape;
    for (int i = 0; i < rank; ++i) {
      const Dim& in = xs[2 + i];
      if (!in.known())
        b.unsupported("auto_pad = " + auto_pad + " needs the spatial dims of X known at import, " +
                      "got " + to_string(xs) + " (give the input a static shape)");
      const int64_t out = (in.value + strides[i] - 1) / strides[i];
      const int64_t span = dilations[i] * (kernel[i] - 1) + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * strides[i] + span - in.value);
      const int64_t small = total / 2, large = total - small;
      pads[i] = auto_pad == "SAME_UPPER" ? small : large;
      pads[i + rank] = auto_pad == "SAME_UPPER" ? large : small;
    }
  } else if (auto_pad != "NOTSET") {
    b.fail("attribute 'auto_pad': expected NOTSET, VALID, SAME_UPPER or SAME_LOWER, got '" +
           auto_pad + "'");
  }
  Window w;
  const int first = 2 - rank;  // 1-D: only the w axis
  for (int i = 0; i < rank; ++i) {
    w.kernel[first + i] = kernel[i];
    w.stride[first + i] = strides[i];
    w.dilation[first + i] = dilations[i];
    w.pad[first + i] = pads[i];
    w.pad[2 + first + i] = pads[i + rank];
  }
  return w;
}

int32_t narrow(NodeBuilder& b, int64_t v, const std::string& what) {
  if (v > INT32_MAX) b.unsupported(what + " " + std::to_string(v) + " does not fit in 32 bits");
  return static_cast<int32_t>(v);
}

// x [N, C, L] as [N, C, 1, L] (1-D); x itself for 2-D.
ValueId as_2d(NodeBuilder& b, ValueId x, int rank, const std::string& what) {
  if (rank == 2) return x;
  return b.emit1(what + "_2d", CoreOp::kReshape, {x}, {},
                 {{"shape", std::vector<int64_t>{0, 0, 1, -1}}});
}

// Emits `op` producing the node's output 0, for 1-D through a 2-D op whose
// result drops its unit H axis.
void emit_spatial(NodeBuilder& b, int rank, rma_op op, const std::vector<ValueId>& inputs,
                  std::vector<uint8_t> abi) {
  if (rank == 2) {
    b.emit_outputs(op, inputs, std::move(abi));
    return;
  }
  const ValueId y = b.emit1(std::string(op_name(op)), op, inputs, std::move(abi));
  b.emit_outputs(CoreOp::kReshape, {y}, {}, {{"shape", std::vector<int64_t>{0, 0, -1}}});
}

void require_float(NodeBuilder& b, ValueId x, const std::string& what) {
  if (!is_float(b.dtype(x)))
    b.unsupported(what + " of dtype " + std::string(name(b.dtype(x))) +
                  " is not supported (f32, f16, bf16 only)");
}

// ------------------------------------------------------------------ Conv

void lower_conv(NodeBuilder& b) {
  const ValueId x = b.input(0), w = b.input(1), bias = b.optional_input(2);
  const int rank = spatial_rank(b, x);
  require_float(b, x, "X");
  if (b.rank(w) != rank + 2)
    b.fail("W must have " + std::to_string(rank + 2) + " dims [M, C/group, k...], got " +
           to_string(b.value(w).shape));
  std::vector<int64_t> kernel;
  const SymShape& ws = b.value(w).shape;
  for (int i = 0; i < rank; ++i) {
    if (!ws[2 + i].known()) b.unsupported("W's kernel dims must be static, got " + to_string(ws));
    kernel.push_back(ws[2 + i].value);
  }
  if (b.has_attr("kernel_shape") && b.attr_ints("kernel_shape") != kernel)
    b.fail("attribute 'kernel_shape' " + join(b.attr_ints("kernel_shape")) +
           " does not match W's kernel dims " + to_string(ws));
  const Window win = read_window(b, x, rank, kernel);
  const int64_t group = b.attr_int("group", 1);
  if (group < 1) b.fail("attribute 'group': expected >= 1, got " + std::to_string(group));

  auto a = abi_struct<rma_conv2d_attrs>();
  for (int i = 0; i < 2; ++i) {
    a.stride[i] = narrow(b, win.stride[i], "stride");
    a.dilation[i] = narrow(b, win.dilation[i], "dilation");
  }
  for (int i = 0; i < 4; ++i) a.pad[i] = narrow(b, win.pad[i], "pad");
  a.group = narrow(b, group, "group");
  a.activation = RMA_ACT_NONE;
  emit_spatial(b, rank, RMA_OP_CONV2D, {as_2d(b, x, rank, "x"), as_2d(b, w, rank, "w"), bias},
               abi_bytes(a));
}

// ----------------------------------------------------------------- pools

void lower_pool(NodeBuilder& b, rma_pool_kind kind) {
  const ValueId x = b.input(0);
  const int rank = spatial_rank(b, x);
  require_float(b, x, "X");
  if (kind == RMA_POOL_MAX && b.has_output(1))
    b.unsupported("the Indices output is not supported (only Y)");
  // storage_order only orders Indices, which are not produced.
  const std::vector<int64_t> kernel = b.attr_ints("kernel_shape");
  if (static_cast<int>(kernel.size()) != rank)
    b.fail("attribute 'kernel_shape': expected " + std::to_string(rank) + " values for X " +
           to_string(b.value(x).shape) + ", got " + join(kernel));
  for (int64_t k : kernel)
    if (k < 1) b.fail("attribute 'kernel_shape': expected values >= 1, got " + join(kernel));
  const bool ceil_mode = b.attr_int("ceil_mode", 0) != 0;
  const Window win = read_window(b, x, rank, kernel);

  auto a = abi_struct<rma_pool2d_attrs>();
  a.kind = kind;
  for (int i = 0; i < 2; ++i) {
    a.kernel[i] = narrow(b, win.kernel[i], "kernel");
    a.stride[i] = narrow(b, win.stride[i], "stride");
    a.dilation[i] = narrow(b, win.dilation[i], "dilation");
  }
  for (int i = 0; i < 4; ++i) a.pad[i] = narrow(b, win.pad[i], "pad");
  a.ceil_mode = ceil_mode;
  a.count_include_pad = kind == RMA_POOL_AVG && b.attr_int("count_include_pad", 0) != 0;
  emit_spatial(b, rank, RMA_OP_POOL2D, {as_2d(b, x, rank, "x")}, abi_bytes(a));
}

void lower_max_pool(NodeBuilder& b) { lower_pool(b, RMA_POOL_MAX); }
void lower_average_pool(NodeBuilder& b) { lower_pool(b, RMA_POOL_AVG); }

// Global pools: one window over the whole plane (pool2d) when x is
// [N, C, H, W] with H and W known, else a mean / max reduction over every
// spatial axis (any rank, symbolic dims too).
void lower_global_pool(NodeBuilder& b, rma_pool_kind kind) {
  const ValueId x = b.input(0);
  require_float(b, x, "X");
  const SymShape& xs = b.value(x).shape;
  if (xs.size() < 3) b.fail("X must have at least 3 dims [N, C, ...], got " + to_string(xs));
  if (xs.size() == 4 && xs[2].known() && xs[3].known() && xs[2].value <= INT32_MAX &&
      xs[3].value <= INT32_MAX) {
    auto a = abi_struct<rma_pool2d_attrs>();
    a.kind = kind;
    for (int i = 0; i < 2; ++i) {
      a.kernel[i] = static_cast<int32_t>(xs[2 + i].value);
      a.stride[i] = 1;
      a.dilation[i] = 1;
    }
    b.emit_outputs(RMA_OP_POOL2D, {x}, abi_bytes(a));
    return;
  }
  auto r = abi_struct<rma_reduce_attrs>();
  r.kind = kind == RMA_POOL_MAX ? RMA_REDUCE_MAX : RMA_REDUCE_MEAN;
  for (size_t d = 2; d < xs.size(); ++d) r.axes |= 1u << d;
  r.keepdims = 1;
  b.emit_outputs(RMA_OP_REDUCE, {x}, abi_bytes(r));
}

void lower_global_average_pool(NodeBuilder& b) { lower_global_pool(b, RMA_POOL_AVG); }
void lower_global_max_pool(NodeBuilder& b) { lower_global_pool(b, RMA_POOL_MAX); }

// ----------------------------------------------------- BatchNormalization

std::vector<uint8_t> binary(rma_binary_kind kind) {
  auto a = abi_struct<rma_binary_attrs>();
  a.kind = kind;
  return abi_bytes(a);
}

// Inference form: y = x · s + t per channel (dim 1), s = scale /
// sqrt(var + epsilon), t = B - mean · s.
void lower_batch_norm(NodeBuilder& b) {
  const ValueId x = b.input(0);
  if (b.attr_int("training_mode", 0) != 0)
    b.unsupported("training_mode = 1 is not supported (inference only)");
  if (b.opset() < 9 && b.attr_int("spatial", 1) == 0) b.unsupported("spatial = 0 is not supported");
  for (int i = 1; i < b.num_outputs(); ++i)
    b.skip_output(i, "BatchNormalization's running statistics are not computed (inference only)");
  require_float(b, x, "X");
  const int64_t r = b.rank(x);
  if (r < 2) b.fail("X must have at least 2 dims [N, C, ...], got " + to_string(b.value(x).shape));
  const double eps = b.attr_float("epsilon", 1e-5f);
  const DType dt = b.dtype(x);
  // [C, 1, ...]: broadcasts over dim 1 of x.
  std::vector<int64_t> param_shape(static_cast<size_t>(r - 1), 1);

  const auto scale = b.constant_doubles(b.input(1)), shift = b.constant_doubles(b.input(2)),
             mean = b.constant_doubles(b.input(3)), var = b.constant_doubles(b.input(4));
  ValueId s, t;
  if (scale && shift && mean && var) {
    const size_t c = scale->size();
    if (shift->size() != c || mean->size() != c || var->size() != c)
      b.fail("scale, B, input_mean and input_var must have one value per channel, got " +
             std::to_string(c) + ", " + std::to_string(shift->size()) + ", " +
             std::to_string(mean->size()) + " and " + std::to_string(var->size()));
    std::vector<double> sv(c), tv(c);
    for (size_t i = 0; i < c; ++i) {
      sv[i] = (*scale)[i] / std::sqrt((*var)[i] + eps);
      tv[i] = (*shift)[i] - (*mean)[i] * sv[i];
    }
    param_shape[0] = static_cast<int64_t>(c);
    s = b.constant("scale", host_tensor(sv, Shape(param_shape), dt, b.host()));
    t = b.constant("shift", host_tensor(tv, Shape(param_shape), dt, b.host()));
  } else {
    param_shape[0] = -1;
    const auto param = [&](int i, const std::string& what) {
      return b.emit1(what, CoreOp::kReshape, {b.input(i)}, {}, {{"shape", param_shape}});
    };
    const ValueId var_eps = b.emit1("add_eps", RMA_OP_BINARY,
                                    {param(4, "var"), b.scalar("eps", eps, b.dtype(b.input(4)))},
                                    binary(RMA_BINARY_ADD));
    const ValueId inv = b.emit1("rsqrt", RMA_OP_UNARY, {var_eps}, abi_bytes([] {
                                  auto u = abi_struct<rma_unary_attrs>();
                                  u.kind = RMA_UNARY_RSQRT;
                                  return u;
                                }()));
    s = b.emit1("scale", RMA_OP_BINARY, {param(1, "gamma"), inv}, binary(RMA_BINARY_MUL));
    const ValueId mean_s =
        b.emit1("mean_scaled", RMA_OP_BINARY, {param(3, "mean"), s}, binary(RMA_BINARY_MUL));
    t = b.emit1("shift", RMA_OP_BINARY, {param(2, "beta"), mean_s}, binary(RMA_BINARY_SUB));
  }
  const ValueId scaled = b.emit1("mul", RMA_OP_BINARY, {x, s}, binary(RMA_BINARY_MUL));
  b.emit_outputs(RMA_OP_BINARY, {scaled, t}, binary(RMA_BINARY_ADD));
}

}  // namespace

std::unordered_map<std::string, OpEntry> with_vision_ops(
    std::unordered_map<std::string, OpEntry> table) {
  table["Conv"] = {lower_conv};
  table["MaxPool"] = {lower_max_pool};
  table["AveragePool"] = {lower_average_pool};
  table["GlobalAveragePool"] = {lower_global_average_pool};
  table["GlobalMaxPool"] = {lower_global_max_pool};
  // Replaces a generic lowering: precomputed scale and shift, which
  // fold_conv_batch_norm folds into a preceding Conv.
  table["BatchNormalization"] = {lower_batch_norm};
  return table;
}

}  // namespace rma::graph::onnx_import
