// Evaluating one node on concrete tensors (graph_internal.h): interface ops
// through rma::ops::run, views as reshapes of their input, shape
// computations on the host, and the dynamic-parameter core ops lowered to
// their interface op first.
#include <algorithm>
#include <cmath>
#include <set>

#include "../ops/reference/reference.h"  // librma's reference ops: the host path
#include "graph_internal.h"
#include "rma/ops.h"

namespace rma::graph::detail {
namespace {
// Core ops evaluated on the host build small tensors (shapes, masks, index
// ranges); past this many elements a request is a malformed model, refused
// with an Error instead of an allocation failure.
constexpr int64_t kMaxHostElements = int64_t{1} << 28;

template <class T>
std::vector<uint8_t> bytes_of(T attrs) {
  attrs.struct_size = sizeof(T);
  attrs.abi_version = RMA_ABI_VERSION;
  return abi_bytes(attrs);
}

// Lowering from parameter values (nullopt: an absent optional input).
struct Params {
  std::vector<std::optional<std::vector<int64_t>>> ints;  // per input, from 1 on
  const std::optional<std::vector<int64_t>>& at(size_t i) const {
    static const std::optional<std::vector<int64_t>> none;
    return i < ints.size() ? ints[i] : none;
  }
};

std::optional<Lowered> lower_with(const Node& node, const Shape& x, const Params& p) {
  const OpKind& op = node.op;
  const std::string& name = node.name;
  const CoreOp core = std::get<CoreOp>(op);
  const auto rank = static_cast<int64_t>(x.size());
  auto axis_of = [&](int64_t ax) {
    if (ax < -rank || ax >= rank)
      fail_node(
          name, op,
          "axis " + std::to_string(ax) + " is out of range for " + std::to_string(rank) + " dims");
    return ax < 0 ? ax + rank : ax;
  };
  switch (core) {
    case CoreOp::kSliceDynamic: {
      const auto &starts = p.at(1), &ends = p.at(2), &axes = p.at(3), &steps = p.at(4);
      if (!starts || !ends) return std::nullopt;
      rma_slice_attrs a{};
      for (int64_t d = 0; d < rank; ++d) {
        a.start[d] = 0;
        a.step[d] = 1;
        a.size[d] = x[d];
      }
      const size_t n = starts->size();
      if (ends->size() != n || (axes && axes->size() != n) || (steps && steps->size() != n))
        fail_node(name, op, "starts, ends, axes and steps must have one length");
      std::set<int64_t> seen;
      for (size_t i = 0; i < n; ++i) {
        const int64_t d = axis_of(axes ? (*axes)[i] : static_cast<int64_t>(i));
        if (!seen.insert(d).second)
          fail_node(name, op, "slice axis " + std::to_string(d) + " is given twice");
        const int64_t step = steps ? (*steps)[i] : 1;
        if (step == 0) fail_node(name, op, "slice step is 0 on axis " + std::to_string(d));
        const SliceAxis s = resolve_slice(x[d], (*starts)[i], (*ends)[i], step);
        a.start[d] = s.start;
        a.step[d] = s.step;
        a.size[d] = s.size;
      }
      return Lowered{RMA_OP_SLICE, bytes_of(a)};
    }
    case CoreOp::kExpandDynamic: {
      const auto& target = p.at(1);
      if (!target) return std::nullopt;
      const size_t n = std::max(x.size(), target->size());
      if (n > RMA_MAX_DIMS) fail_node(name, op, "the expanded shape has more than 8 dims");
      rma_shape_attrs a{};
      a.ndim = static_cast<int32_t>(n);
      for (size_t i = 1; i <= n; ++i) {
        const int64_t dx = i <= x.size() ? x[x.size() - i] : 1;
        const int64_t dt = i <= target->size() ? (*target)[target->size() - i] : 1;
        if (dx != dt && dx != 1 && dt != 1)
          fail_node(name, op,
                    "x of shape " + rma::to_string(x) + " does not broadcast to " +
                        rma::to_string(Shape(*target)));
        a.shape[n - i] = dx == 1 ? dt : dx;
      }
      return Lowered{RMA_OP_EXPAND, bytes_of(a)};
    }
    case CoreOp::kReduceDynamic: {
      const AttrReader r{name, op, node.attrs};
      const int32_t kind = reduce_kind_attr(r);
      std::vector<int64_t> axes;
      if (node.inputs.size() > 1 && node.inputs[1] != kNoValue) {
        if (!p.at(1)) return std::nullopt;
        axes = *p.at(1);
      } else {
        axes = r.ints("axes", std::vector<int64_t>{});
      }
      if (axes.empty()) {
        if (r.integer("noop_with_empty_axes", 0)) return Lowered{RMA_OP_COUNT, {}};  // identity
        for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
      }
      rma_reduce_attrs a{};
      a.kind = kind;
      a.keepdims = r.integer("keepdims", 1) != 0;
      for (int64_t ax : axes) a.axes |= 1u << axis_of(ax);
      if (rank == 0) {
        // A scalar reduces to itself.
        return Lowered{RMA_OP_COUNT, {}};
      }
      return Lowered{RMA_OP_REDUCE, bytes_of(a)};
    }
    default:
      return std::nullopt;
  }
}

Tensor on(const Tensor& t, const Device& device) { return t.device() == device ? t : t.to(device); }

// On the host the reference ops run directly, so folding works for every
// op and dtype the schemas accept, whatever the CPU plugin implements.
std::vector<Tensor> run_interface(rma_op op, const std::vector<uint8_t>& abi,
                                  const std::vector<Tensor>& inputs) {
  const bool on_host = std::all_of(inputs.begin(), inputs.end(), [](const Tensor& t) {
    return !t.defined() || t.device() == host_device();
  });
  if (on_host) return host_run(op, inputs, abi);
  return ops::run(op, inputs, abi.empty() ? nullptr : abi.data());
}

Tensor run_slice(const Tensor& x, int64_t axis, int64_t start, int64_t size) {
  rma_slice_attrs a{};
  for (int d = 0; d < x.ndim(); ++d) {
    a.start[d] = 0;
    a.step[d] = 1;
    a.size[d] = x.dim(d);
  }
  a.start[axis] = start;
  a.size[axis] = size;
  return run_interface(RMA_OP_SLICE, bytes_of(a), {x}).at(0);
}

Tensor run_expand(const Tensor& x, const Shape& shape) {
  rma_shape_attrs a{};
  a.ndim = static_cast<int32_t>(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) a.shape[d] = shape[d];
  return run_interface(RMA_OP_EXPAND, bytes_of(a), {x}).at(0);
}

}  // namespace

Tensor shape_op_result(const Node& node, const Shape& x) {
  if (std::get<CoreOp>(node.op) == CoreOp::kSize) return host_ints({numel(x)}, {});
  const auto rank = static_cast<int64_t>(x.size());
  const AttrReader r{node.name, node.op, node.attrs};
  auto clamp = [&](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
  const int64_t start = clamp(r.integer("start", 0)), end = clamp(r.integer("end", rank));
  const std::vector<int64_t> dims(x.begin() + start, x.begin() + std::max(start, end));
  return host_ints(dims, {static_cast<int64_t>(dims.size())});
}

std::vector<Tensor> host_run(rma_op op, const std::vector<Tensor>& inputs,
                             const std::vector<uint8_t>& abi) {
  const void* attrs = abi.empty() ? nullptr : abi.data();
  std::vector<Tensor> in;
  std::vector<rma_tensor> descs;
  for (const Tensor& t : inputs) {
    in.push_back(t.defined() ? to_host(t) : t);
    descs.push_back(t.defined() ? in.back().to_abi() : absent_tensor());
  }
  const std::vector<TensorDesc> out_descs = infer_outputs(op, descs, attrs);
  std::vector<Tensor> outputs;
  std::vector<rma_tensor> out_abi;
  for (const TensorDesc& d : out_descs) {
    outputs.push_back(Tensor::empty(d.shape, d.dtype, host_device()));
    out_abi.push_back(outputs.back().to_abi());
  }
  rma_op_call call{};
  call.struct_size = sizeof(call);
  call.abi_version = RMA_ABI_VERSION;
  call.op = op;
  call.num_inputs = static_cast<int32_t>(descs.size());
  call.inputs = descs.data();
  call.num_outputs = static_cast<int32_t>(out_abi.size());
  call.outputs = out_abi.data();
  call.attrs = attrs;
  reference::run(call);
  return outputs;
}

std::optional<Lowered> lower_dynamic(const Graph& g, const Node& node) {
  const CoreOp* core = std::get_if<CoreOp>(&node.op);
  if (!core || (*core != CoreOp::kSliceDynamic && *core != CoreOp::kExpandDynamic &&
                *core != CoreOp::kReduceDynamic))
    return std::nullopt;
  const std::optional<Shape> x = known_shape(g.value(node.inputs.at(0)).shape);
  if (!x) return std::nullopt;
  Params p;
  p.ints.resize(node.inputs.size());
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    if (node.inputs[i] == kNoValue) continue;
    const Value& v = g.value(node.inputs[i]);
    if (!v.constant) return std::nullopt;
    p.ints[i] = tensor_ints(*v.constant);
  }
  return lower_with(node, *x, p);
}

std::vector<Tensor> eval_node(const Node& node, const std::vector<Tensor>& inputs,
                              const std::vector<ValueType>& outputs, const Device& device) {
  if (const rma_op* op = std::get_if<rma_op>(&node.op)) {
    std::vector<Tensor> in;
    for (const Tensor& t : inputs) in.push_back(t.defined() ? on(t, device).contiguous() : t);
    return run_interface(*op, node.abi_attrs, in);
  }
  const CoreOp core = std::get<CoreOp>(node.op);
  auto input = [&](size_t i) -> const Tensor& {
    if (i >= inputs.size() || !inputs[i].defined())
      fail_node(node.name, node.op, "input " + std::to_string(i) + " is missing");
    return inputs[i];
  };
  auto out_shape = [&](size_t i) {
    const std::optional<Shape> s = known_shape(outputs.at(i).shape);
    if (!s)
      fail_node(node.name, node.op,
                "output shape " + to_string(outputs.at(i).shape) + " is not known");
    return *s;
  };
  auto ints_of = [&](size_t i) { return tensor_ints(input(i)); };
  switch (core) {
    case CoreOp::kReshape:
    case CoreOp::kSqueeze:
    case CoreOp::kUnsqueeze:
    case CoreOp::kFlatten:
    case CoreOp::kIdentity:
      return {on(input(0), device).contiguous().reshape(out_shape(0))};
    case CoreOp::kShape:
    case CoreOp::kSize:
      return {on(shape_op_result(node, input(0).shape()), device)};
    case CoreOp::kConstantOfShape: {
      const AttrReader r{node.name, node.op, node.attrs};
      const std::optional<Tensor> value = r.tensor("value");
      const double v = value ? scalar_value(*value).value_or(0.0) : 0.0;
      const Shape shape = out_shape(0);
      if (numel(shape) > kMaxHostElements)
        fail_node(node.name, node.op,
                  "constant_of_shape " + to_string(shape) + " has more than " +
                      std::to_string(kMaxHostElements) + " elements");
      return {
          on(host_values(std::vector<double>(numel(shape), v), shape, outputs[0].dtype), device)};
    }
    case CoreOp::kRange: {
      const double s = *scalar_value(input(0)), l = *scalar_value(input(1)),
                   d = *scalar_value(input(2));
      if (d == 0) fail_node(node.name, node.op, "range delta is 0");
      const double count = std::ceil((l - s) / d);
      if (!std::isfinite(count) || count > static_cast<double>(kMaxHostElements))
        fail_node(node.name, node.op,
                  "range(" + std::to_string(s) + ", " + std::to_string(l) + ", " +
                      std::to_string(d) + ") has more than " + std::to_string(kMaxHostElements) +
                      " elements (host-evaluated tensors are for shapes and small constants)");
      const auto n = static_cast<int64_t>(std::max(count, 0.0));
      std::vector<double> v(n);
      for (int64_t i = 0; i < n; ++i) v[i] = s + d * static_cast<double>(i);
      return {on(host_values(v, {n}, outputs[0].dtype), device)};
    }
    case CoreOp::kSliceDynamic:
    case CoreOp::kExpandDynamic:
    case CoreOp::kReduceDynamic: {
      Params p;
      p.ints.resize(inputs.size());
      for (size_t i = 1; i < inputs.size(); ++i)
        if (inputs[i].defined()) p.ints[i] = tensor_ints(inputs[i]);
      const std::optional<Lowered> low = lower_with(node, input(0).shape(), p);
      if (!low) fail_node(node.name, node.op, "its parameter inputs are missing");
      const Tensor x = on(input(0), device).contiguous();
      if (low->op == RMA_OP_COUNT) return {x};
      return run_interface(low->op, low->abi_attrs, {x});
    }
    case CoreOp::kSplit: {
      const Tensor x = on(input(0), device).contiguous();
      const AttrReader r{node.name, node.op, node.attrs};
      int64_t axis = r.integer("axis", 0);
      if (axis < 0) axis += x.ndim();
      std::vector<Tensor> out;
      int64_t offset = 0;
      for (size_t i = 0; i < outputs.size(); ++i) {
        const int64_t size = out_shape(i).at(axis);
        out.push_back(run_slice(x, axis, offset, size));
        offset += size;
      }
      return out;
    }
    case CoreOp::kTile: {
      const Tensor x = on(input(0), device).contiguous();
      const std::vector<int64_t> reps = ints_of(1);
      // [d0, d1, ...] -> [1, d0, 1, d1, ...] -> expand to [r0, d0, r1, d1, ...] -> merge pairs.
      Shape split, expanded;
      for (int d = 0; d < x.ndim(); ++d) {
        split.push_back(1);
        split.push_back(x.dim(d));
        expanded.push_back(reps.at(d));
        expanded.push_back(x.dim(d));
      }
      return {run_expand(x.reshape(split), expanded).reshape(out_shape(0))};
    }
  }
  fail_node(node.name, node.op, "cannot be evaluated");
}

}  // namespace rma::graph::detail
