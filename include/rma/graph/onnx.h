// rma/graph/onnx.h — ONNX models into the graph IR (docs/onnx.md).
//
// Reads a ModelProto (opsets 7 to 28 of the default domain) and builds a
// Graph: initializers and Constant nodes become constants (external data is
// memory-mapped, not copied), graph inputs keep their ONNX names and dynamic
// axes (a `dim_param` becomes a symbol of that name; an unnamed dynamic axis
// gets the symbol "<input>.<axis>"), each ONNX node becomes one or a few IR
// nodes whose outputs keep the ONNX value names, and the graph outputs are
// the ONNX outputs in order. ONNX doubles are imported as f32.
//
// Every failure is an rma::Error: a bad file names the file and what is
// wrong; an op outside the supported set names the op type, the opset and
// the node.
//
// Built only when protobuf and libonnx-dev's schema were found
// (librma_onnx; the build defines RMA_HAVE_ONNX=1 for code that links it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "rma/graph/ir.h"

namespace rma::graph {

// The opsets of the default ONNX domain ("" or "ai.onnx") the importer reads.
constexpr int64_t kOnnxMinOpset = 7;
constexpr int64_t kOnnxMaxOpset = 28;

struct OnnxImportOptions {
  // Folder that external-data locations are relative to. Default: the
  // model file's folder (import_onnx); import_onnx_bytes needs it set when
  // the model has external data.
  std::string external_data_dir;
  // Compare the model's value_info and output shapes with the shapes the IR
  // infers: a conflicting size or rank is an Error naming the value. Dims the
  // IR left symbolic take the model's known sizes.
  bool use_value_info = true;
};

// Imports the model at `path`.
Graph import_onnx(const std::string& path, const OnnxImportOptions& options = {});

// Imports a serialized ModelProto held in memory; `source_name` names it in
// error messages. The bytes are not needed after the call returns.
Graph import_onnx_bytes(const void* data, size_t size, const OnnxImportOptions& options = {},
                        const std::string& source_name = "<onnx bytes>");

// One serialized TensorProto (a node test's input_0.pb, say), decoded as the
// importer decodes initializers: the element type becomes the IR dtype it is
// imported as (DOUBLE -> f32, UINT8 -> i32...; docs/onnx.md).
struct OnnxTensor {
  std::string name;       // the proto's name; may be empty
  std::string onnx_type;  // the ONNX element type: "FLOAT", "DOUBLE", "UINT8"...
  Tensor tensor;          // on the host
};
// An Error naming `source_name` when the bytes are not a TensorProto, and
// kUnsupported when its element type has no IR dtype (STRING, FLOAT8...).
OnnxTensor read_onnx_tensor(const void* data, size_t size,
                            const std::string& source_name = "<tensor bytes>");

}  // namespace rma::graph
