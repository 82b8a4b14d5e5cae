// Putting a model's tensors on the engine's device.
//
// On a host-memory device (the CPU) a tensor is wrapped: its Tensor is the
// mmapped bytes, kept alive by the ModelFile — no copy (unless it is not
// aligned to its element: then it is copied). Elsewhere it is
// uploaded once. A matrix whose dtype the device declines for quant_linear
// (asked with a canonical call at load) is converted to f32 once and runs as
// linear; that is logged as a warning naming the tensor, its dtype and the
// device, so what runs where is never hidden.
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine_internal.h"
#include "rma/error.h"
#include "rma/log.h"
#include "rma/quant.h"

namespace rma::llm {
namespace {

rma_tensor spec_to_abi(const TensorSpec& s) {
  rma_tensor t = absent_tensor();
  t.dtype = static_cast<int32_t>(s.dtype);
  t.ndim = static_cast<int32_t>(s.shape.size());
  const Shape strides = contiguous_strides(s.shape);
  for (size_t i = 0; i < s.shape.size(); ++i) {
    t.shape[i] = s.shape[i];
    t.strides[i] = strides[i];
  }
  t.data = nullptr;
  return t;
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", bytes / (1024.0 * 1024.0));
  return buf;
}

class WeightPlacer {
 public:
  WeightPlacer(const std::shared_ptr<ModelFile>& file, const Device& device,
               const std::function<void(uint64_t, uint64_t)>& progress, Weights& out)
      : file_(file), device_(device), progress_(progress), out_(out) {
    total_ = file->total_tensor_bytes();
  }

  // The tensor as it is in the file, checked against `shape`.
  const TensorInfo& info(const std::string& name, const Shape& shape) const {
    const TensorInfo& t = file_->get(name);
    if (t.shape != shape)
      throw Error(ErrorCode::kInvalidArgument,
                  "tensor '" + name + "' in " + t.file + ": expected shape " + to_string(shape) +
                      " (from the model's hyper-parameters), got " + to_string(t.shape));
    return t;
  }

  // As stored (wrapped or uploaded).
  Tensor raw(const TensorInfo& t) {
    const std::string key = t.name + "#raw";
    if (auto it = placed_.find(key); it != placed_.end()) return it->second;
    Tensor out;
    if (device_.host_memory() && !misaligned(t)) {
      out = Tensor::wrap_host(const_cast<uint8_t*>(t.data), t.shape, t.dtype, device_, file_);
      out_.wrapped_bytes += t.nbytes;
    } else {
      out = Tensor::from_host(t.data, t.shape, t.dtype, device_);
      out_.uploaded_bytes += t.nbytes;
    }
    advance(t.nbytes);
    return placed_[key] = out;
  }

  // Whether `t` sits in the mapping at an address the kernels cannot take
  // as is: they read elements through typed pointers (vectors with unaligned
  // loads), so a tensor needs its element's alignment — 4 bytes for f32, 2
  // for f16/bf16 and for the f16 scales of quantized blocks. A safetensors
  // JSON header of any length can leave the data anywhere; such a tensor is
  // copied into a device buffer (64-byte aligned) instead of wrapped.
  static bool misaligned(const TensorInfo& t) {
    const auto align = static_cast<uintptr_t>(is_quantized(t.dtype) ? 2 : block_bytes(t.dtype));
    if (reinterpret_cast<uintptr_t>(t.data) % align == 0) return false;
    log::debug("tensor '" + t.name + "' in " + t.file + " (" + std::string(name(t.dtype)) +
               ") is at file offset " + std::to_string(t.file_offset) + ", not " +
               std::to_string(align) + "-byte aligned: copied into an aligned buffer (" +
               mib(t.nbytes) + ")");
    return true;
  }

  // Converted to f32 (or wrapped/uploaded when it already is).
  Tensor f32(const TensorInfo& t) {
    if (t.dtype == DType::kF32) return raw(t);
    const std::string key = t.name + "#f32";
    if (auto it = placed_.find(key); it != placed_.end()) return it->second;
    if (!is_float(t.dtype) && !is_quantized(t.dtype))
      throw Error(ErrorCode::kInvalidArgument, "tensor '" + t.name + "' in " + t.file +
                                                   " has dtype " + std::string(name(t.dtype)) +
                                                   "; expected a float or quantized dtype");
    const int64_t n = numel(t.shape);
    std::vector<float> values(static_cast<size_t>(n));
    // dequantize_row reads typed elements: stage misaligned bytes first.
    std::vector<uint8_t> staged;
    const uint8_t* src = t.data;
    if (reinterpret_cast<uintptr_t>(src) % 2 != 0) {
      staged.assign(t.data, t.data + t.nbytes);
      src = staged.data();
    }
    dequantize_row(t.dtype, src, values.data(), n);
    Tensor out = Tensor::from_host(values.data(), t.shape, DType::kF32, device_);
    out_.converted_bytes += out.nbytes();
    advance(t.nbytes);
    return placed_[key] = out;
  }

  // A norm weight or bias: f32 [n].
  Tensor vector(const std::string& name, int64_t n) { return f32(info(name, {n})); }

  Matrix matrix(const std::string& name, int64_t rows, int64_t cols,
                const std::string& bias_name = {}) {
    const TensorInfo& t = info(name, {rows, cols});
    Matrix m;
    m.name = name;
    if (!bias_name.empty()) m.bias = vector(bias_name, rows);
    if (t.dtype == DType::kF32) {
      m.w = raw(t);
      m.op = RMA_OP_LINEAR;
      return m;
    }
    // The canonical call: one f32 row through this weight.
    const rma_linear_attrs attrs = linear_attrs();
    std::string reason;
    std::vector<TensorSpec> inputs = {{{1, cols}, DType::kF32}, {{rows, cols}, t.dtype}};
    if (m.bias.defined()) inputs.push_back({{rows}, DType::kF32});
    if (device_runs(device_, RMA_OP_QUANT_LINEAR, inputs, &attrs, {{{1, rows}, DType::kF32}},
                    &reason)) {
      m.w = raw(t);
      m.op = RMA_OP_QUANT_LINEAR;
      return m;
    }
    m.w = f32(t);
    m.op = RMA_OP_LINEAR;
    log::warn("tensor '" + name + "' (" + std::string(rma::name(t.dtype)) + ") is not run by " +
              device_.name() + "'s quant_linear (" + reason + "); converted to f32 at load (" +
              mib(m.w.nbytes()) + ") and run with linear");
    return m;
  }

  // The embedding table, in a form the device's embedding turns into f32 rows.
  Tensor embedding_table(const TensorInfo& t) {
    std::string reason;
    const int64_t h = t.shape[1];
    if (t.dtype == DType::kF32 ||
        device_runs(device_, RMA_OP_EMBEDDING, {{{1}, DType::kI32}, {t.shape, t.dtype}}, nullptr,
                    {{{1, h}, DType::kF32}}, &reason))
      return raw(t);
    Tensor table = f32(t);
    log::warn("tensor '" + t.name + "' (" + std::string(name(t.dtype)) +
              ") is not read into f32 by " + device_.name() + "'s embedding (" + reason +
              "); converted to f32 at load (" + mib(table.nbytes()) + ")");
    return table;
  }

  // Tensors the engine does not use (and tied heads counted once) still end
  // the bar at 100 %.
  void finish() {
    if (progress_ && done_ < total_) progress_(total_, total_);
  }

 private:
  void advance(uint64_t bytes) {
    done_ = std::min(total_, done_ + bytes);
    if (progress_) progress_(done_, total_);
  }

  std::shared_ptr<ModelFile> file_;
  Device device_;
  std::function<void(uint64_t, uint64_t)> progress_;
  Weights& out_;
  std::map<std::string, Tensor> placed_;
  uint64_t total_ = 0, done_ = 0;
};

}  // namespace

bool device_runs(const Device& device, rma_op op, const std::vector<TensorSpec>& inputs,
                 const void* attrs, const std::vector<TensorSpec>& outputs, std::string* reason) {
  std::vector<rma_tensor> in, out;
  for (const TensorSpec& s : inputs) in.push_back(spec_to_abi(s));
  for (const TensorSpec& s : outputs) out.push_back(spec_to_abi(s));
  try {
    const std::vector<TensorDesc> descs = infer_outputs(op, in, attrs, out);
    if (out.empty())
      for (const TensorDesc& d : descs) out.push_back(spec_to_abi({d.shape, d.dtype}));
  } catch (const Error& e) {
    if (reason) *reason = e.what();
    return false;
  }
  rma_op_call call{};
  call.struct_size = sizeof(call);
  call.abi_version = RMA_ABI_VERSION;
  call.op = op;
  call.num_inputs = static_cast<int32_t>(in.size());
  call.inputs = in.data();
  call.num_outputs = static_cast<int32_t>(out.size());
  call.outputs = out.data();
  call.attrs = attrs;
  return device.supports(call, reason);
}

Weights load_weights(const std::shared_ptr<ModelFile>& file, const ModelConfig& c,
                     const Device& device,
                     const std::function<void(uint64_t, uint64_t)>& progress) {
  Weights w;
  WeightPlacer place(file, device, progress, w);
  const int64_t h = c.hidden, q_dim = int64_t{c.n_head} * c.head_dim,
                kv_dim = int64_t{c.n_kv_head} * c.head_dim, ffn = c.ffn;

  const TensorInfo& embd = file->get("token_embd.weight");
  if (embd.shape.size() != 2 || embd.shape[1] != h)
    throw Error(ErrorCode::kInvalidArgument, "tensor 'token_embd.weight' in " + embd.file +
                                                 ": expected shape [vocab, " + std::to_string(h) +
                                                 "], got " + to_string(embd.shape));
  const int64_t vocab = embd.shape[0];
  w.token_embd = place.embedding_table(embd);

  w.layers.resize(c.n_layer);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights& L = w.layers[l];
    L.attn_norm = place.vector(p + "attn_norm.weight", h);
    const auto bias = [&](const char* n) { return c.qkv_bias ? p + n : std::string(); };
    L.q = place.matrix(p + "attn_q.weight", q_dim, h, bias("attn_q.bias"));
    L.k = place.matrix(p + "attn_k.weight", kv_dim, h, bias("attn_k.bias"));
    L.v = place.matrix(p + "attn_v.weight", kv_dim, h, bias("attn_v.bias"));
    L.o = place.matrix(p + "attn_output.weight", h, q_dim);
    L.ffn_norm = place.vector(p + "ffn_norm.weight", h);
    L.gate = place.matrix(p + "ffn_gate.weight", ffn, h);
    L.up = place.matrix(p + "ffn_up.weight", ffn, h);
    L.down = place.matrix(p + "ffn_down.weight", h, ffn);
  }
  w.output_norm = place.vector("output_norm.weight", h);
  const bool tied = c.tie_embeddings || file->find("output.weight") == nullptr;
  w.head = place.matrix(tied ? "token_embd.weight" : "output.weight", vocab, h);
  place.finish();
  return w;
}

}  // namespace rma::llm
