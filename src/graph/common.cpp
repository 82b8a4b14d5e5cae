// Shared helpers of the graph library: errors, attribute reads, host
// tensors and symbolic dimension arithmetic (graph_internal.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "graph_internal.h"
#include "rma/device.h"
#include "rma/half.h"

namespace rma::graph::detail {

void fail_node(const std::string& node, const OpKind& op, const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, "node '" + node + "': " + message, op_kind_name(op));
}

void unsupported_node(const std::string& node, const OpKind& op, const std::string& message) {
  throw Error(ErrorCode::kUnsupported, "node '" + node + "': " + message, op_kind_name(op));
}

// -------------------------------------------------------------- attributes
namespace {

const char* type_name(const AttrValue& v) {
  switch (v.index()) {
    case 0:
      return "an int";
    case 1:
      return "a float";
    case 2:
      return "a string";
    case 3:
      return "a list of ints";
    case 4:
      return "a list of floats";
    default:
      return "a tensor";
  }
}

}  // namespace

int64_t AttrReader::integer(const std::string& key, std::optional<int64_t> fallback) const {
  const auto it = attrs.find(key);
  if (it == attrs.end()) {
    if (fallback) return *fallback;
    fail_node(node, op, "attribute '" + key + "' (an int) is required");
  }
  if (const auto* i = std::get_if<int64_t>(&it->second)) return *i;
  fail_node(node, op, "attribute '" + key + "': expected an int, got " + type_name(it->second));
}

double AttrReader::real(const std::string& key, std::optional<double> fallback) const {
  const auto it = attrs.find(key);
  if (it == attrs.end()) {
    if (fallback) return *fallback;
    fail_node(node, op, "attribute '" + key + "' (a float) is required");
  }
  if (const auto* d = std::get_if<double>(&it->second)) return *d;
  if (const auto* i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  fail_node(node, op, "attribute '" + key + "': expected a float, got " + type_name(it->second));
}

std::vector<int64_t> AttrReader::ints(const std::string& key,
                                      std::optional<std::vector<int64_t>> fallback) const {
  const auto it = attrs.find(key);
  if (it == attrs.end()) {
    if (fallback) return *fallback;
    fail_node(node, op, "attribute '" + key + "' (a list of ints) is required");
  }
  if (const auto* v = std::get_if<std::vector<int64_t>>(&it->second)) return *v;
  if (const auto* i = std::get_if<int64_t>(&it->second)) return {*i};
  fail_node(node, op,
            "attribute '" + key + "': expected a list of ints, got " + type_name(it->second));
}

std::string AttrReader::text(const std::string& key, std::optional<std::string> fallback) const {
  const auto it = attrs.find(key);
  if (it == attrs.end()) {
    if (fallback) return *fallback;
    fail_node(node, op, "attribute '" + key + "' (a string) is required");
  }
  if (const auto* s = std::get_if<std::string>(&it->second)) return *s;
  fail_node(node, op, "attribute '" + key + "': expected a string, got " + type_name(it->second));
}

std::optional<Tensor> AttrReader::tensor(const std::string& key) const {
  const auto it = attrs.find(key);
  if (it == attrs.end()) return std::nullopt;
  if (const auto* t = std::get_if<Tensor>(&it->second)) {
    if (!t->defined()) fail_node(node, op, "attribute '" + key + "': the tensor is undefined");
    return *t;
  }
  fail_node(node, op, "attribute '" + key + "': expected a tensor, got " + type_name(it->second));
}

namespace {
constexpr std::string_view kReduceNames[] = {"sum",  "mean",       "max",    "min",
                                             "prod", "sum_square", "argmax", "argmin"};
}

std::string_view reduce_kind_name(int32_t kind) {
  if (kind < 0 || kind >= RMA_REDUCE_COUNT) return "unknown";
  return kReduceNames[kind];
}

int32_t reduce_kind_attr(const AttrReader& a) {
  const auto it = a.attrs.find("kind");
  if (it == a.attrs.end()) fail_node(a.node, a.op, "attribute 'kind' (the reduction) is required");
  if (const auto* s = std::get_if<std::string>(&it->second)) {
    for (int32_t k = 0; k < RMA_REDUCE_COUNT; ++k)
      if (kReduceNames[k] == *s) return k;
    fail_node(a.node, a.op,
              "attribute 'kind': unknown reduction '" + *s +
                  "' (expected sum, mean, max, min, prod, sum_square, argmax or argmin)");
  }
  const int64_t k = a.integer("kind");
  if (k < 0 || k >= RMA_REDUCE_COUNT)
    fail_node(a.node, a.op,
              "attribute 'kind': expected an rma_reduce_kind (0.." +
                  std::to_string(RMA_REDUCE_COUNT - 1) + "), got " + std::to_string(k));
  return static_cast<int32_t>(k);
}

// ------------------------------------------------------------ host tensors

const Device& host_device() {
  static const Device cpu = Runtime::get().device("cpu");
  return cpu;
}

Tensor to_host(const Tensor& t) {
  if (t.device().host_memory() && t.is_contiguous()) return t;
  if (t.device().host_memory()) return t.contiguous();
  return t.to(host_device());
}

namespace {

// Dense host bytes of t and a reader of element i as double / int64.
double element_double(const uint8_t* p, DType dt, int64_t i) {
  switch (dt) {
    case DType::kF32: {
      float f;
      std::memcpy(&f, p + 4 * i, 4);
      return f;
    }
    case DType::kF16: {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      return f16_to_f32(h);
    }
    case DType::kBF16: {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      return bf16_to_f32(h);
    }
    case DType::kI8:
      return static_cast<int8_t>(p[i]);
    case DType::kI32: {
      int32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      return v;
    }
    case DType::kI64: {
      int64_t v;
      std::memcpy(&v, p + 8 * i, 8);
      return static_cast<double>(v);
    }
    case DType::kBool:
      return p[i] != 0;
    default:
      break;
  }
  throw Error(ErrorCode::kInvalidArgument,
              "cannot read elements of a " + std::string(name(dt)) + " tensor on the host");
}

}  // namespace

std::vector<int64_t> tensor_ints(const Tensor& t) {
  const std::vector<uint8_t> bytes = t.to_host_bytes();
  const int64_t n = t.numel();
  std::vector<int64_t> out(n);
  for (int64_t i = 0; i < n; ++i) {
    if (t.dtype() == DType::kI64) {
      std::memcpy(&out[i], bytes.data() + 8 * i, 8);
    } else {
      out[i] = static_cast<int64_t>(element_double(bytes.data(), t.dtype(), i));
    }
  }
  return out;
}

std::vector<double> tensor_doubles(const Tensor& t) {
  const std::vector<uint8_t> bytes = t.to_host_bytes();
  const int64_t n = t.numel();
  std::vector<double> out(n);
  for (int64_t i = 0; i < n; ++i) out[i] = element_double(bytes.data(), t.dtype(), i);
  return out;
}

Tensor host_ints(const std::vector<int64_t>& v, const Shape& shape, DType dtype) {
  std::vector<double> d(v.begin(), v.end());
  if (dtype == DType::kI64) return Tensor::from_vector(v, shape, DType::kI64, host_device());
  return host_values(d, shape, dtype);
}

Tensor host_values(const std::vector<double>& v, const Shape& shape, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype, host_device());
  auto* p = static_cast<uint8_t*>(t.host_data());
  for (size_t i = 0; i < v.size(); ++i) {
    switch (dtype) {
      case DType::kF32: {
        const auto f = static_cast<float>(v[i]);
        std::memcpy(p + 4 * i, &f, 4);
        break;
      }
      case DType::kF16: {
        const uint16_t h = f32_to_f16(static_cast<float>(v[i]));
        std::memcpy(p + 2 * i, &h, 2);
        break;
      }
      case DType::kBF16: {
        const uint16_t h = f32_to_bf16(static_cast<float>(v[i]));
        std::memcpy(p + 2 * i, &h, 2);
        break;
      }
      case DType::kI8:
        p[i] = static_cast<uint8_t>(static_cast<int8_t>(v[i]));
        break;
      case DType::kI32: {
        const auto x = static_cast<int32_t>(v[i]);
        std::memcpy(p + 4 * i, &x, 4);
        break;
      }
      case DType::kI64: {
        const auto x = static_cast<int64_t>(v[i]);
        std::memcpy(p + 8 * i, &x, 8);
        break;
      }
      case DType::kBool:
        p[i] = v[i] != 0;
        break;
      default:
        throw Error(ErrorCode::kInvalidArgument,
                    "cannot build a " + std::string(name(dtype)) + " tensor from values");
    }
  }
  return t;
}

std::optional<double> scalar_value(const Tensor& t) {
  if (!t.defined() || t.numel() != 1 || is_quantized(t.dtype())) return std::nullopt;
  return tensor_doubles(t).at(0);
}

// --------------------------------------------------------- symbolic dims
namespace {

// coef * f0 * f1 * ... (factors sorted); a factor is a symbol or "(a+b)".
struct Monomial {
  int64_t coef = 1;
  std::vector<std::string> factors;
};

Monomial parse(const Dim& d) {
  Monomial m;
  if (d.known()) {
    m.coef = d.value;
    return m;
  }
  // Split on '*' outside parentheses.
  int depth = 0;
  size_t start = 0;
  const std::string& s = d.symbol;
  auto take = [&](size_t end) {
    std::string f = s.substr(start, end - start);
    const bool numeric = !f.empty() && std::all_of(f.begin(), f.end(), [](unsigned char ch) {
      return ch >= '0' && ch <= '9';
    });
    if (numeric && f.size() < 18) {
      m.coef *= std::stoll(f);
    } else {
      m.factors.push_back(std::move(f));
    }
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '(') ++depth;
    if (s[i] == ')') --depth;
    if (s[i] == '*' && depth == 0) {
      take(i);
      start = i + 1;
    }
  }
  take(s.size());
  std::sort(m.factors.begin(), m.factors.end());
  return m;
}

Dim render(const Monomial& m) {
  if (m.factors.empty() || m.coef == 0) return Dim::of(m.coef);
  std::string s = m.coef != 1 ? std::to_string(m.coef) : "";
  for (const std::string& f : m.factors) s += (s.empty() ? "" : "*") + f;
  return Dim::sym(s);
}

}  // namespace

Dim dim_mul(const Dim& a, const Dim& b) {
  if (a.known() && b.known()) return Dim::of(a.value * b.value);
  if ((a.known() && a.value == 0) || (b.known() && b.value == 0)) return Dim::of(0);
  Monomial ma = parse(a), mb = parse(b);
  ma.coef *= mb.coef;
  ma.factors.insert(ma.factors.end(), mb.factors.begin(), mb.factors.end());
  std::sort(ma.factors.begin(), ma.factors.end());
  return render(ma);
}

Dim dim_add(const Dim& a, const Dim& b) {
  if (a.known() && b.known()) return Dim::of(a.value + b.value);
  if (a.known() && a.value == 0) return b;
  if (b.known() && b.value == 0) return a;
  Monomial ma = parse(a), mb = parse(b);
  if (ma.factors == mb.factors) {
    ma.coef += mb.coef;
    return render(ma);
  }
  std::string sa = to_string(a), sb = to_string(b);
  if (sb < sa) std::swap(sa, sb);
  return Dim::sym("(" + sa + "+" + sb + ")");
}

std::optional<Dim> dim_div(const Dim& a, const Dim& b) {
  if (b.known() && b.value == 1) return a;
  if (b.known() && b.value == 0) return std::nullopt;
  if (a.known() && b.known()) {
    if (a.value % b.value != 0) return std::nullopt;
    return Dim::of(a.value / b.value);
  }
  Monomial ma = parse(a), mb = parse(b);
  if (mb.coef == 0 || ma.coef % mb.coef != 0) return std::nullopt;
  for (const std::string& f : mb.factors) {
    const auto it = std::find(ma.factors.begin(), ma.factors.end(), f);
    if (it == ma.factors.end()) return std::nullopt;
    ma.factors.erase(it);
  }
  ma.coef /= mb.coef;
  return render(ma);
}

Dim dim_product(const SymShape& s, size_t begin, size_t end) {
  Dim p = Dim::of(1);
  for (size_t i = begin; i < end && i < s.size(); ++i) p = dim_mul(p, s[i]);
  return p;
}

Dim fresh_dim(const std::string& value_name, int axis) {
  return Dim::sym("?" + value_name + "[" + std::to_string(axis) + "]");
}

bool dims_conflict(const Dim& a, const Dim& b) {
  return a.known() && b.known() && a.value != b.value;
}

// ONNX Slice: negative start/end count from the back; then start and end
// are clamped to [0, dim] for a positive step, to [0, dim-1] and [-1, dim-1]
// for a negative one.
SliceAxis resolve_slice(int64_t dim, int64_t start, int64_t end, int64_t step) {
  auto clamp = [](int64_t v, int64_t lo, int64_t hi) { return std::min(std::max(v, lo), hi); };
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  int64_t size = 0;
  if (step > 0) {
    start = clamp(start, 0, dim);
    end = clamp(end, 0, dim);
    size = end > start ? (end - start + step - 1) / step : 0;
  } else {
    start = clamp(start, 0, dim - 1);
    end = clamp(end, -1, dim - 1);
    size = start > end ? (start - end + (-step) - 1) / (-step) : 0;
  }
  if (size == 0) start = 0;
  return {start, step, size};
}

}  // namespace rma::graph::detail
