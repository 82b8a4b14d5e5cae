// rma/graph/interpreter.h — the reference way to run a graph on one device.
//
// Runs a static graph (what Graph::specialize returns: known shapes, only
// interface ops and views) node by node with rma::ops::run; views are
// reshapes of their input's storage; each value is released after its last
// use. Constants are uploaded to the device once and cached while their host
// tensors live. The multi-device partitioned executor is built on the same
// semantics; this is what tests compare against.
#pragma once

#include <memory>
#include <vector>

#include "rma/device.h"
#include "rma/graph/ir.h"
#include "rma/tensor.h"

namespace rma::graph {

// Runs `specialized` on `dev`. `inputs` are in graph-input order, with the
// graph's dtypes and shapes (an input on another device is copied to `dev`).
// Returns the outputs in graph-output order, on `dev`. A graph that is not
// static, or inputs that do not match it, are an Error naming the input.
std::vector<Tensor> run_graph(const Graph& specialized, const Device& dev,
                              const std::vector<Tensor>& inputs);

// Specializes `g` for the inputs' shapes first when it is not static.
std::vector<Tensor> specialize_and_run(const Graph& g, const Device& dev,
                                       const std::vector<Tensor>& inputs);

// A graph bound to a device: constants uploaded once, then run many times.
class Interpreter {
 public:
  Interpreter(Graph specialized, Device dev);
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) const;
  const Graph& graph() const { return graph_; }
  const Device& device() const { return device_; }

 private:
  Graph graph_;
  Device device_;
  std::vector<Tensor> constants_;  // per value id; defined for constants
};

}  // namespace rma::graph
