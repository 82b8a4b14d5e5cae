// The generic passes (constant folding, dead code, shape simplification)
// and the pipeline. Fusions are in passes_fusion.cpp and
// passes_attention.cpp.
#include "rma/graph/passes.h"

#include <chrono>
#include <cstdio>
#include <numeric>

#include "pass_util.h"
#include "rma/log.h"

namespace rma::graph {
namespace {

using pass::Matcher;

constexpr uint64_t kFoldMinBytes = uint64_t{1} << 20;

uint64_t bytes_of(const Value& v) {
  const std::optional<Shape> s = known_shape(v.shape);
  return s ? static_cast<uint64_t>(bytes_for(v.dtype, numel(*s))) : UINT64_MAX;
}

// Turns node `n`'s outputs into the given constants and drops the node.
void replace_by_constants(Graph& g, std::vector<bool>& erase, NodeId n,
                          const std::vector<Tensor>& results) {
  std::vector<Value>& values = g.mutable_values();
  const Node& node = g.nodes()[n];
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    Value& v = values[node.outputs[i]];
    v.constant = detail::to_host(results.at(i));
    v.producer = -1;
    v.dtype = results[i].dtype();
    v.shape = sym_shape(results[i].shape());
  }
  erase[n] = true;
}

void erase_nodes(Graph& g, const std::vector<bool>& erase) {
  std::vector<Node>& nodes = g.mutable_nodes();
  std::vector<Node> kept;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!erase[i]) kept.push_back(std::move(nodes[i]));
  nodes = std::move(kept);
  std::vector<Value>& values = g.mutable_values();
  for (Value& v : values) v.producer = -1;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (ValueId v : nodes[i].outputs) values[v].producer = static_cast<NodeId>(i);
}

bool is_core(const Node& n, CoreOp op) {
  const CoreOp* c = std::get_if<CoreOp>(&n.op);
  return c && *c == op;
}

// Removes node `n` by pointing its readers at `replacement` (its single
// output's stand-in); false when that would rename a graph input/constant.
bool bypass(Graph& g, const Node& n, ValueId replacement) {
  const ValueId out = n.outputs.at(0);
  const Value& r = g.value(replacement);
  if (g.is_output(out) && (r.producer < 0 || g.is_output(replacement))) return false;
  g.replace_uses(out, replacement);
  return true;
}

}  // namespace

// -------------------------------------------------------------- folding

int fold_constants(Graph& g) {
  int folded = 0;
  std::vector<bool> erase(g.nodes().size(), false);
  for (size_t n = 0; n < g.nodes().size(); ++n) {
    const Node& node = g.nodes()[n];
    bool all_const = true;
    uint64_t in_bytes = 0;
    for (ValueId v : node.inputs) {
      if (v == kNoValue) continue;
      const Value& val = g.value(v);
      if (!val.constant) {
        all_const = false;
        break;
      }
      in_bytes += val.constant->nbytes();
    }
    // shape and size need only a known input shape.
    const bool shape_only = (is_core(node, CoreOp::kShape) || is_core(node, CoreOp::kSize)) &&
                            known_shape(g.value(node.inputs.at(0)).shape);
    if (!all_const && !shape_only) continue;
    uint64_t out_bytes = 0;
    bool known = true;
    for (ValueId v : node.outputs) {
      known = known && known_shape(g.value(v).shape).has_value();
      out_bytes += known ? bytes_of(g.value(v)) : 0;
    }
    if (!known || out_bytes > std::max(kFoldMinBytes, in_bytes)) continue;

    if (shape_only) {
      const Tensor r = detail::shape_op_result(node, *known_shape(g.value(node.inputs[0]).shape));
      replace_by_constants(g, erase, static_cast<NodeId>(n), {r});
      ++folded;
      continue;
    }
    std::vector<Tensor> inputs;
    for (ValueId v : node.inputs) inputs.push_back(v == kNoValue ? Tensor{} : *g.value(v).constant);
    std::vector<detail::ValueType> types;
    for (ValueId v : node.outputs) types.push_back({g.value(v).dtype, g.value(v).shape});
    try {
      const std::vector<Tensor> results =
          detail::eval_node(node, inputs, types, detail::host_device());
      replace_by_constants(g, erase, static_cast<NodeId>(n), results);
      ++folded;
    } catch (const Error& e) {
      // The host cannot run it (an unsupported dtype): leave the node.
      if (e.code() != ErrorCode::kUnsupported) throw;
      log::debug("fold_constants: keeping node '" + node.name + "': " + e.what());
    }
  }
  if (folded) {
    // The constants the folded nodes read stay until remove_dead_code.
    erase_nodes(g, erase);
    g.validate();
  }
  return folded;
}

int remove_dead_code(Graph& g) { return g.remove_dead_nodes(); }

// ---------------------------------------------------- shape simplification
namespace {

bool is_reshape_like(const Node& n) {
  const CoreOp* c = std::get_if<CoreOp>(&n.op);
  if (!c || !is_view(*c)) return false;
  // A reshape reading a shape tensor is static only once that is constant.
  return !(*c == CoreOp::kReshape && n.inputs.size() > 1 && n.inputs[1] != kNoValue);
}

bool identity_perm(const rma_transpose_attrs& a, size_t rank) {
  for (size_t i = 0; i < rank; ++i)
    if (a.perm[i] != static_cast<int32_t>(i)) return false;
  return true;
}

bool full_slice(const rma_slice_attrs& a, const SymShape& x) {
  for (size_t d = 0; d < x.size(); ++d)
    if (!x[d].known() || a.start[d] != 0 || a.step[d] != 1 || a.size[d] != x[d].value) return false;
  return true;
}

// Attributes of a static reshape from `from` to `to`, if one can be written.
std::optional<Attributes> reshape_attrs(const SymShape& from, const SymShape& to) {
  if (const std::optional<Shape> k = known_shape(to))
    return Attributes{{"shape", std::vector<int64_t>(k->begin(), k->end())},
                      {"allowzero", int64_t{1}}};
  if (auto spec = pass::reshape_spec(from, to)) return Attributes{{"shape", *spec}};
  return std::nullopt;
}

// One rewrite, if any applies to node n; true when the graph changed.
bool simplify_node(Graph& g, const Matcher& m, NodeId n) {
  const Node& node = g.nodes()[n];
  if (node.outputs.size() != 1 || node.inputs.empty() || node.inputs[0] == kNoValue) return false;
  const ValueId x = node.inputs[0], y = node.outputs[0];
  const Value &xv = g.value(x), &yv = g.value(y);

  // Lower dynamic-parameter ops whose parameters are constants.
  if (is_core(node, CoreOp::kReduceDynamic) || is_core(node, CoreOp::kSliceDynamic) ||
      is_core(node, CoreOp::kExpandDynamic)) {
    std::optional<detail::Lowered> low;
    if (is_core(node, CoreOp::kReduceDynamic) && !known_shape(xv.shape)) {
      // Only the rank matters for a reduction: lower over a stand-in shape.
      Graph probe;
      Shape ones(xv.shape.size(), 1);
      Node copy = node;
      copy.inputs[0] = probe.add_input("x", xv.dtype, sym_shape(ones));
      for (size_t i = 1; i < node.inputs.size(); ++i) {
        if (node.inputs[i] == kNoValue) continue;
        const Value& p = g.value(node.inputs[i]);
        if (!p.constant) return false;
        std::string name = "param";
        name += std::to_string(i);
        copy.inputs[i] = probe.add_constant(name, *p.constant);
      }
      low = detail::lower_dynamic(probe, copy);
    } else {
      low = detail::lower_dynamic(g, node);
    }
    if (!low) return false;
    if (low->op == RMA_OP_COUNT) return bypass(g, node, x);
    Node& mut = g.mutable_nodes()[n];
    mut.op = low->op;
    mut.abi_attrs = low->abi_attrs;
    mut.attrs.clear();
    mut.inputs = {x};
    return true;
  }

  // reshape(x, constant shape) -> reshape with the shape as an attribute.
  if (is_core(node, CoreOp::kReshape) && node.inputs.size() > 1 && node.inputs[1] != kNoValue) {
    const Value& target = g.value(node.inputs[1]);
    if (!target.constant) return false;
    std::vector<int64_t> dims = detail::tensor_ints(*target.constant);
    Node& mut = g.mutable_nodes()[n];
    mut.attrs["shape"] = std::move(dims);
    mut.inputs = {x};
    return true;
  }

  // Identities.
  bool identity = false;
  if (is_core(node, CoreOp::kIdentity)) identity = true;
  if (is_reshape_like(node) && xv.shape == yv.shape) identity = true;
  if (Matcher::is_op(node, RMA_OP_TRANSPOSE) &&
      identity_perm(node.attrs_as<rma_transpose_attrs>(), xv.shape.size()))
    identity = true;
  if (Matcher::is_op(node, RMA_OP_CAST) && xv.dtype == yv.dtype) identity = true;
  if (Matcher::is_op(node, RMA_OP_EXPAND) && xv.shape == yv.shape) identity = true;
  if (Matcher::is_op(node, RMA_OP_SLICE) && full_slice(node.attrs_as<rma_slice_attrs>(), xv.shape))
    identity = true;
  if (identity) return bypass(g, node, x);

  const Node* inner = m.producer(x);
  if (!inner) return false;
  // view(view(x)) -> one reshape of x.
  if (is_reshape_like(node) && is_reshape_like(*inner)) {
    const ValueId src = inner->inputs[0];
    const std::optional<Attributes> attrs = reshape_attrs(g.value(src).shape, yv.shape);
    if (!attrs) return false;
    if (g.value(src).shape == yv.shape) return bypass(g, node, src);
    Node& mut = g.mutable_nodes()[n];
    mut.op = CoreOp::kReshape;
    mut.inputs = {src};
    mut.attrs = *attrs;
    return true;
  }
  // transpose(transpose(x)) -> one transpose (or none).
  if (Matcher::is_op(node, RMA_OP_TRANSPOSE) && Matcher::is_op(*inner, RMA_OP_TRANSPOSE)) {
    const auto& outer_p = node.attrs_as<rma_transpose_attrs>();
    const auto& inner_p = inner->attrs_as<rma_transpose_attrs>();
    const size_t rank = xv.shape.size();
    rma_transpose_attrs a = outer_p;
    for (size_t d = 0; d < rank; ++d) a.perm[d] = inner_p.perm[outer_p.perm[d]];
    const ValueId src = inner->inputs[0];
    if (identity_perm(a, rank)) return bypass(g, node, src);
    Node& mut = g.mutable_nodes()[n];
    mut.inputs = {src};
    mut.abi_attrs = abi_bytes(a);
    return true;
  }
  return false;
}

}  // namespace

int simplify_shapes(Graph& g) {
  int rewrites = 0;
  // Each rewrite may enable another (a chain of views collapses one link at
  // a time), so sweep until nothing changes.
  for (bool changed = true; changed;) {
    changed = false;
    std::optional<Matcher> m;
    for (size_t n = 0; n < g.nodes().size(); ++n) {
      if (!m) m.emplace(g);
      if (simplify_node(g, *m, static_cast<NodeId>(n))) {
        ++rewrites;
        changed = true;
        m.reset();  // consumers changed
      }
    }
    if (changed) {
      g.infer_shapes();
      pass::finish(g);
    }
  }
  return rewrites;
}

// --------------------------------------------------------------- pipeline

std::vector<PassRun> run_passes(Graph& g, int opt_level) {
  using PassFn = int (*)(Graph&);
  struct Step {
    const char* name;
    PassFn fn;
  };
  const std::vector<Step> basic = {{"fold_constants", fold_constants},
                                   {"simplify_shapes", simplify_shapes},
                                   {"remove_dead_code", remove_dead_code}};
  const std::vector<Step> fusions = {{"fuse_gelu", fuse_gelu},
                                     {"fuse_silu", fuse_silu},
                                     {"fuse_layer_norm", fuse_layer_norm},
                                     {"fuse_rms_norm", fuse_rms_norm},
                                     {"fuse_linear", fuse_linear},
                                     {"fuse_silu_and_mul", fuse_silu_and_mul},
                                     {"fuse_attention", fuse_attention},
                                     {"fold_conv_batch_norm", fold_conv_batch_norm},
                                     {"fuse_conv_activation", fuse_conv_activation}};

  std::vector<Step> pipeline;
  if (opt_level >= 1) pipeline = basic;
  if (opt_level >= 2) {
    pipeline.insert(pipeline.end(), fusions.begin(), fusions.end());
    pipeline.insert(pipeline.end(), basic.begin(), basic.end());
  }
  const int rounds = opt_level >= 3 ? 4 : 1;

  std::vector<PassRun> runs;
  for (int round = 0; round < rounds; ++round) {
    int total = 0;
    for (const Step& step : pipeline) {
      const auto t0 = std::chrono::steady_clock::now();
      const int n = step.fn(g);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      runs.push_back({step.name, n, ms});
      total += n;
      char line[160];
      std::snprintf(line, sizeof(line), "graph pass %s: %d rewrite(s), %zu nodes left (%.2f ms)",
                    step.name, n, g.nodes().size(), ms);
      log::debug(line);
    }
    if (total == 0) break;
  }
  return runs;
}

}  // namespace rma::graph
