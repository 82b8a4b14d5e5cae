// rma_bench_cuda: the CUDA backend's heavy ops on one GPU, measured as users
// get them (rma::ops on tensors of a cuda device, through the plugin), in
// one run:
//   linear                  beside cuBLASLt called directly on the same
//                           tensors (cublaslt_peer.h): µs, TFLOP/s, ratio;
//                           Llama-7B-like and SmolLM2-135M shapes, decode
//                           (T = 1, 8, 32) and prefill (T = 512, 2048)
//   prefill_attention       TFLOP/s, causal, GQA 32/8 heads, head dim 64 and
//                           128, sequences of 512 to 8192 tokens
//   paged_decode_attention  GB/s of K, V, q and o against the card's
//                           bandwidth, batch 1/8/32, contexts 1k to 32k
// Prints a table per op and a summary against the targets; --json FILE
// appends one JSON object per case (../shared/design/CONVENTIONS.md) as it
// is measured. Without a CUDA device: one line saying so, exit 0.
//
// GPU times come from CUDA events around batches of calls held behind a spin
// kernel (gpu_timing.h); the host's time to enqueue one call is the launch
// overhead an eager caller pays on top. The attention ops are timed as
// replays of a captured CUDA graph, as the LLM engine runs them: outside a
// capture they read their index tensors back to check them, which waits for
// the GPU (their eager time per call, wait included, is reported beside).
// Operands larger than twice the L2 cache, or cycled through enough copies
// to be, are read from DRAM on every call, by us and by the peer alike.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/cuda/cublaslt_peer.h"
#include "bench/cuda/gpu_helpers.h"
#include "bench/cuda/gpu_timing.h"
#include "bench/machine.h"
#include "common/cuda_device.h"  // backends/cuda: the plugin's stream handle
#include "rma/config.h"
#include "rma/device.h"
#include "rma/error.h"
#include "rma/half.h"
#include "rma/ops.h"
#include "rma/tensor.h"

namespace rma::bench::cuda {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------ options

struct Options {
  std::string device = "cuda:0";
  std::string json_path;          // empty: no JSON
  std::vector<std::string> only;  // sections; empty: all
  bool wants(const std::string& section) const {
    return only.empty() || std::find(only.begin(), only.end(), section) != only.end();
  }
};

constexpr const char* kSections[] = {"linear", "prefill_attention", "paged_decode_attention"};

constexpr const char* kUsage =
    "usage: rma_bench_cuda [--device cuda:N] [--json FILE] [--only SECTION[,SECTION]]\n"
    "  sections: linear, prefill_attention, paged_decode_attention (default: all)\n"
    "  --json FILE appends one JSON object per measured case\n";

// Throws a usage message for a bad command line.
Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(ErrorCode::kInvalidArgument, a + " needs a value");
      return argv[++i];
    };
    if (a == "--device" || a == "-d") {
      o.device = value();
    } else if (a == "--json") {
      o.json_path = value();
    } else if (a == "--only") {
      const std::string list = value();
      for (size_t s = 0; s <= list.size();) {
        const size_t e = std::min(list.find(',', s), list.size());
        const std::string section = list.substr(s, e - s);
        if (std::find(std::begin(kSections), std::end(kSections), section) == std::end(kSections))
          throw Error(ErrorCode::kInvalidArgument, "--only: unknown section '" + section + "'");
        o.only.push_back(section);
        s = e + 1;
      }
    } else {
      throw Error(ErrorCode::kInvalidArgument, "unknown argument '" + a + "'");
    }
  }
  return o;
}

// ------------------------------------------------------------ the GPU

struct Gpu {
  Device dev;
  cudaStream_t stream = nullptr;  // the device's default stream, where rma::ops run
  int ordinal = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0, sms = 0;
  uint64_t l2_bytes = 0, memory_bytes = 0;
  double theoretical_gbps = 0;    // memory clock x 2 (double data rate) x bus width
  double copy_gbps = 0;           // a measured device-to-device copy, bytes read + written
  double tensor_peak_tflops = 0;  // nominal dense f16/bf16 tensor-core peak; 0: unknown
  std::string machine, commit;
};

void* device_ptr(const Tensor& t) {
  const rma_tensor a = t.to_abi();
  return static_cast<char*>(a.data) + a.offset;
}

FillType fill_type(DType dt) {
  return dt == DType::kF16 ? FillType::kF16 : dt == DType::kBF16 ? FillType::kBF16 : FillType::kF32;
}

// A tensor of values uniform in [lo, hi), filled on the GPU.
Tensor random_tensor(const Gpu& g, const Shape& shape, DType dt, float lo, float hi,
                     uint64_t seed) {
  Tensor t = Tensor::empty(shape, dt, g.dev);
  check_cuda(fill_uniform(g.stream, device_ptr(t), fill_type(dt), t.numel(), lo, hi, seed),
             "fill kernel launch");
  return t;
}

Tensor index_tensor(const Gpu& g, const std::vector<int32_t>& v, const Shape& shape) {
  return Tensor::from_host(v.data(), shape, DType::kI32, g.dev);
}

// Copies enough that cycling through them reads more than twice the L2
// cache between two uses of one copy (at least 1, at most `cap`).
int copies_for(const Gpu& g, double bytes, int cap) {
  return static_cast<int>(
      std::clamp(std::ceil(2.0 * double(g.l2_bytes) / bytes), 1.0, double(cap)));
}

// Bytes per second of a device-to-device copy of 1 GiB (read + written).
double measure_copy_gbps(const Gpu& g, GpuClock& clock) {
  const uint64_t bytes = 1ull << 30;
  void *a = nullptr, *b = nullptr;
  check_cuda(cudaMalloc(&a, bytes), "cudaMalloc (copy probe)");
  if (const cudaError_t e = cudaMalloc(&b, bytes); e != cudaSuccess) {
    cudaFree(a);
    check_cuda(e, "cudaMalloc (copy probe)");
  }
  check_cuda(cudaMemsetAsync(a, 1, bytes, g.stream), "cudaMemsetAsync");
  std::vector<double> us;
  for (int i = 0; i < 6; ++i)
    us.push_back(clock.time_once([&] {
      check_cuda(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, g.stream),
                 "cudaMemcpyAsync");
    }));
  cudaFree(a);
  cudaFree(b);
  us.erase(us.begin());  // a warm-up
  std::sort(us.begin(), us.end());
  return 2.0 * double(bytes) / us[us.size() / 2] / 1e3;
}

// Dense f16 tensor-core FLOP per clock per SM: A100 (sm_80) 2048, H100
// (sm_90) 4096. Other parts vary by product (Ada's GeForce and data-centre
// parts differ), so no nominal peak is claimed for them.
double nominal_tensor_peak_tflops(const Gpu& g, int clock_khz) {
  const int cc = g.cc_major * 10 + g.cc_minor;
  const double per_clock = cc == 80 ? 2048 : cc == 90 ? 4096 : 0;
  return per_clock * g.sms * clock_khz * 1e3 / 1e12;
}

// The cuda device `spec` names, or nullopt (with the reason) when there is
// no CUDA device at all.
std::optional<Gpu> open_gpu(const std::string& spec, std::string* why_not) {
  Runtime& rt = Runtime::get();
  bool any_cuda = false;
  for (const Device& d : rt.devices()) any_cuda = any_cuda || d.plugin_name() == "cuda";
  if (!any_cuda) {
    *why_not = "the cuda plugin is not built";
    for (const SkippedPlugin& s : rt.skipped_plugins())
      if (s.path.find("rma_cuda") != std::string::npos) *why_not = s.reason;
    return std::nullopt;
  }
  Gpu g;
  g.dev = rt.device(spec);  // kNotFound lists the devices present
  if (g.dev.plugin_name() != "cuda")
    throw Error(ErrorCode::kInvalidArgument,
                "--device " + spec + " is " + g.dev.name() + ", not a cuda device");
  // The plugin's stream handle is its CudaStream (backends/cuda/common/
  // cuda_device.h, compiled into this program from the same source).
  const auto* cs =
      reinterpret_cast<const ::rma::cuda::CudaStream*>(g.dev.default_stream().handle());
  g.stream = cs->stream;
  g.ordinal = cs->dev->ordinal;
  check_cuda(cudaSetDevice(g.ordinal), "cudaSetDevice");
  const cudaError_t q = cudaStreamQuery(g.stream);
  if (q != cudaSuccess && q != cudaErrorNotReady) check_cuda(q, "cudaStreamQuery (rma's stream)");

  cudaDeviceProp prop{};
  check_cuda(cudaGetDeviceProperties(&prop, g.ordinal), "cudaGetDeviceProperties");
  g.name = prop.name;
  g.cc_major = prop.major;
  g.cc_minor = prop.minor;
  g.sms = prop.multiProcessorCount;
  g.l2_bytes = uint64_t(prop.l2CacheSize);
  g.memory_bytes = prop.totalGlobalMem;
  int mem_khz = 0, bus_bits = 0, clock_khz = 0;
  cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, g.ordinal);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, g.ordinal);
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, g.ordinal);
  g.theoretical_gbps = double(mem_khz) * 1e3 * 2.0 * (bus_bits / 8.0) / 1e9;
  g.tensor_peak_tflops = nominal_tensor_peak_tflops(g, clock_khz);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  g.machine = g.name + " (sm_" + std::to_string(g.cc_major) + std::to_string(g.cc_minor) + ", " +
              std::to_string(g.sms) + " SMs); host " + machine_description(int(cores));
  g.commit = source_commit();
  return g;
}

// ------------------------------------------------------------ results

struct Row {
  std::string section, name, metric;  // metric: tflops or gbps
  double value = 0;
  std::string peer;  // empty: none ran
  double peer_value = 0;
  Timing t;
  json fields = json::object();  // more figures for the JSON line
  std::string error;             // the case could not run
};

class Report {
 public:
  Report(const Gpu& g, const std::string& json_path) : gpu_(g) {
    if (json_path.empty()) return;
    json_.open(json_path, std::ios::app);
    if (!json_)
      throw Error(ErrorCode::kInvalidArgument, "cannot open --json file '" + json_path + "'");
  }

  void add(Row r) {
    if (r.error.empty() && json_.is_open()) {
      json j;
      j["bench"] = "cuda_ops";
      j["case"] = r.name;
      j["metric"] = r.metric;
      j["value"] = round3(r.value);
      if (!r.peer.empty()) {
        j["peer"] = r.peer;
        j["peer_value"] = round3(r.peer_value);
        j["ratio"] = std::round(r.value / r.peer_value * 1e4) / 1e4;
      }
      j["median_us"] = round3(r.t.median_us);
      j["p10_us"] = round3(r.t.p10_us);
      j["p90_us"] = round3(r.t.p90_us);
      j["calls_per_batch"] = r.t.calls;
      j["batches"] = r.t.batches;
      if (r.t.gapped) j["gapped"] = true;
      for (const auto& [k, v] : r.fields.items()) j[k] = v;
      j["device"] = gpu_.dev.name();
      j["machine"] = gpu_.machine;
      j["commit"] = gpu_.commit;
      json_ << j.dump() << "\n";
      json_.flush();
    }
    if (!r.error.empty()) ++failures_;
    rows_.push_back(std::move(r));
  }

  static double round3(double v) { return std::round(v * 1e3) / 1e3; }
  int failures() const { return failures_; }
  const std::vector<Row>& rows() const { return rows_; }
  const Row* find(const std::string& name) const {
    for (const Row& r : rows_)
      if (r.name == name && r.error.empty()) return &r;
    return nullptr;
  }

 private:
  const Gpu& gpu_;
  std::ofstream json_;
  std::vector<Row> rows_;
  int failures_ = 0;
};

// Runs one case; an rma::Error becomes the row's error (the run goes on).
void run_case(Report& report, const std::string& section, const std::string& name,
              const std::function<void(Row&)>& measure,
              const std::function<void(const Row&)>& print) {
  Row r;
  r.section = section;
  r.name = name;
  try {
    measure(r);
  } catch (const Error& e) {
    r.error = e.what();
  }
  if (!r.error.empty())
    std::printf("%-44s error: %s\n", name.c_str(), r.error.c_str());
  else
    print(r);
  std::fflush(stdout);
  report.add(std::move(r));
}

std::string gap_mark(const Timing& t) { return t.gapped ? " (gaps)" : ""; }

// ------------------------------------------------------------ linear

// First rows of y as f32, for comparing ours with the peer.
std::vector<float> head_rows(const Tensor& y, int64_t rows) {
  const Tensor head = y.slice(0, 0, std::min(rows, y.dim(0))).contiguous();
  if (head.dtype() == DType::kF32) return head.to_vector<float>();
  const std::vector<uint16_t> h = head.to_vector<uint16_t>();
  std::vector<float> out(h.size());
  for (size_t i = 0; i < h.size(); ++i)
    out[i] = head.dtype() == DType::kF16 ? f16_to_f32(h[i]) : bf16_to_f32(h[i]);
  return out;
}

// max |a - b| / max |b|.
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

// Ours and the peer must agree to this (both sum in f32; they differ in
// order, and 16-bit outputs are rounded once).
constexpr double kLinearAgreement = 2e-2;

void bench_linear(const Gpu& g, GpuClock& clock, Report& report) {
  struct WeightShape {
    int64_t n, k;
    const char* what;
  };
  const WeightShape shapes[] = {{4096, 4096, "Llama-7B q/o proj"},
                                {11008, 4096, "Llama-7B gate/up proj"},
                                {1536, 576, "SmolLM2-135M gate/up proj"},
                                {49152, 576, "SmolLM2-135M lm_head"}};
  const int64_t rows[] = {1, 8, 32, 512, 2048};
  CublasLtPeer peer(g.stream, g.cc_major);

  std::printf(
      "\n== linear: y[T,N] = x[T,K] . w[N,K]^T, ours (rma::ops::linear) beside cuBLASLt "
      "called directly\n");
  std::printf(
      "   TFLOP/s = 2*T*N*K / time; GB/s = bytes of w, x and y / time; ratio = ours / "
      "cuBLASLt in TFLOP/s (target >= 0.95); host = launch overhead per eager call\n");
  std::printf("%-44s %10s %10s %9s %9s %7s %9s %10s %8s\n", "case", "ours us", "cublas us",
              "ours TF/s", "cubl TF/s", "ratio", "ours GB/s", "best-of us", "host us");
  for (const DType dt : {DType::kF16, DType::kBF16, DType::kF32}) {
    for (const WeightShape& s : shapes) {
      const int64_t es = bytes_for(dt, 1);
      const double wbytes = double(s.n * s.k * es);
      const int copies = copies_for(g, wbytes, 64);
      std::vector<Tensor> ws;
      const float r = 1.f / std::sqrt(float(s.k));
      for (int c = 0; c < copies; ++c)
        ws.push_back(random_tensor(g, {s.n, s.k}, dt, -r, r, 100 + uint64_t(c)));
      for (const int64_t t : rows) {
        const std::string name = "linear " + std::string(rma::name(dt)) +
                                 " T=" + std::to_string(t) + " N=" + std::to_string(s.n) +
                                 " K=" + std::to_string(s.k);
        run_case(
            report, "linear", name,
            [&](Row& row) {
              const Tensor x = random_tensor(g, {t, s.k}, dt, -1.f, 1.f, 7);
              const Tensor y_peer = Tensor::empty({t, s.n}, dt, g.dev);
              const auto n = size_t(copies);
              const Timing ours = clock.time([&](int i) { ops::linear(x, ws[size_t(i) % n]); });
              CublasLtPeer::Problem problem(peer, dt, t, s.n, s.k, device_ptr(ws[0]), device_ptr(x),
                                            device_ptr(y_peer), 4);
              auto peer_run = [&](int algo) {
                return clock.time([&](int i) {
                  problem.run(algo, device_ptr(ws[size_t(i) % n]), device_ptr(x),
                              device_ptr(y_peer));
                });
              };
              const Timing theirs = peer_run(0);
              // The heuristic's other candidates: how far its first choice
              // is from the best it offers.
              double best_us = theirs.median_us;
              for (int a = 1; a < problem.algorithms(); ++a)
                best_us = std::min(best_us, peer_run(a).median_us);

              const Tensor y_ours = ops::linear(x, ws[0]);
              problem.run(0, device_ptr(ws[0]), device_ptr(x), device_ptr(y_peer));
              const double diff = relative_difference(head_rows(y_ours, 8), head_rows(y_peer, 8));
              if (!(diff <= kLinearAgreement))
                throw Error(ErrorCode::kInternal,
                            "ours and cuBLASLt differ: max |ours - cublas| / max |cublas| = " +
                                std::to_string(diff) + " over the first rows");

              const double flops = 2.0 * double(t) * double(s.n) * double(s.k);
              const double bytes = wbytes + double((t * s.k + t * s.n) * es);
              row.metric = "tflops";
              row.t = ours;
              row.value = flops / ours.median_us / 1e6;
              row.peer = "cublasLt";
              row.peer_value = flops / theirs.median_us / 1e6;
              row.fields = {{"gbps", Report::round3(bytes / ours.median_us / 1e3)},
                            {"peer_us", Report::round3(theirs.median_us)},
                            {"peer_best_of_heuristic_us", Report::round3(best_us)},
                            {"peer_algorithms_tried", problem.algorithms()},
                            {"host_us_per_call", Report::round3(ours.host_us)},
                            {"weight_copies", copies},
                            {"max_rel_diff_vs_peer", diff},
                            {"weights", s.what}};
            },
            [&](const Row& row) {
              std::printf("%-44s %10.2f %10.2f %9.2f %9.2f %7.3f %9.0f %10.2f %8.2f%s\n",
                          row.name.c_str(), row.t.median_us, row.fields.at("peer_us").get<double>(),
                          row.value, row.peer_value, row.value / row.peer_value,
                          row.fields.at("gbps").get<double>(),
                          row.fields.at("peer_best_of_heuristic_us").get<double>(), row.t.host_us,
                          gap_mark(row.t).c_str());
            });
      }
      ws.clear();
      g.dev.release_cached_memory();
    }
  }
}

// ------------------------------------------------------------ attention

// Wall time of one eager call (the op and a wait for it), median of 5: what
// a caller running the op alone sees, index read-backs included.
double eager_wall_us(const Gpu& g, const std::function<void()>& call) {
  call();
  g.dev.synchronize();
  std::vector<double> us;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    call();
    g.dev.synchronize();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  return us[2];
}

// Records `calls` calls (call(i) for i < calls) into a CUDA graph on the
// device's default stream.
std::shared_ptr<Capture> capture_calls(const Gpu& g, int calls,
                                       const std::function<void(int)>& call) {
  if (!g.dev.supports_capture())
    throw Error(ErrorCode::kUnsupported, g.dev.name() + " does not support stream capture");
  g.dev.begin_capture();
  try {
    for (int i = 0; i < calls; ++i) call(i);
  } catch (...) {
    g.dev.abort_capture();
    throw;
  }
  return g.dev.end_capture();
}

// GQA as in Llama-2-70B / Llama-3-8B: 32 query heads, 8 kv heads.
constexpr int64_t kHeadsQ = 32, kHeadsKv = 8;

void bench_prefill(const Gpu& g, GpuClock& clock, Report& report) {
  // Every case packs 16384 tokens (16384 / S sequences of S tokens).
  constexpr int64_t kTokens = 16384;
  constexpr int kCallsPerGraph = 2;
  std::printf(
      "\n== prefill_attention: causal, Hq=%lld Hkv=%lld, %lld tokens per call (B = %lld / S "
      "sequences of S tokens, varlen)\n",
      static_cast<long long>(kHeadsQ), static_cast<long long>(kHeadsKv),
      static_cast<long long>(kTokens), static_cast<long long>(kTokens));
  std::printf(
      "   FLOPs = B * 4*S*S*D*Hq/2 (QK^T and PV, 2 FLOPs a multiply-add, half the "
      "matrix for causal); kernel time from graph replays; eager = one call and a "
      "wait, index read-back included\n");
  std::printf("%-44s %10s %9s %10s %8s\n", "case", "kernel us", "TF/s", "eager us", "kernels");
  for (const DType dt : {DType::kF16, DType::kBF16}) {
    for (const int64_t d : {int64_t{64}, int64_t{128}}) {
      const Tensor q = random_tensor(g, {kTokens, kHeadsQ, d}, dt, -1.f, 1.f, 11);
      const Tensor k = random_tensor(g, {kTokens, kHeadsKv, d}, dt, -1.f, 1.f, 12);
      const Tensor v = random_tensor(g, {kTokens, kHeadsKv, d}, dt, -1.f, 1.f, 13);
      const auto attrs = attention_attrs(1.f / std::sqrt(float(d)), true);
      for (const int64_t s :
           {int64_t{512}, int64_t{1024}, int64_t{2048}, int64_t{4096}, int64_t{8192}}) {
        const int64_t b = kTokens / s;
        const std::string name = "prefill_attention " + std::string(rma::name(dt)) +
                                 " D=" + std::to_string(d) + " S=" + std::to_string(s) +
                                 " B=" + std::to_string(b) + " Hq=32 Hkv=8 causal";
        run_case(
            report, "prefill_attention", name,
            [&](Row& row) {
              std::vector<int32_t> cu(size_t(b + 1));
              for (int64_t i = 0; i <= b; ++i) cu[size_t(i)] = static_cast<int32_t>(i * s);
              const Tensor cu_seqlens = index_tensor(g, cu, {b + 1});
              auto call = [&] { ops::prefill_attention(q, k, v, cu_seqlens, attrs); };
              const double eager_us = eager_wall_us(g, call);
              const auto graph = capture_calls(g, kCallsPerGraph, [&](int) { call(); });
              Timing t = clock.time([&](int) { graph->launch(); }, 7);
              for (double* f : {&t.median_us, &t.p10_us, &t.p90_us, &t.host_us})
                *f /= kCallsPerGraph;
              const double flops =
                  double(b) * 4.0 * double(s) * double(s) * double(d) * double(kHeadsQ) / 2.0;
              row.metric = "tflops";
              row.t = t;
              row.value = flops / t.median_us / 1e6;
              row.fields = {{"eager_us", Report::round3(eager_us)},
                            {"flops", flops},
                            {"flops_formula", "B*4*S*S*D*Hq/2"},
                            {"kernels_per_call", double(graph->num_ops()) / kCallsPerGraph}};
              if (g.tensor_peak_tflops > 0)
                row.fields["fraction_of_nominal_tensor_peak"] =
                    Report::round3(row.value / g.tensor_peak_tflops);
            },
            [&](const Row& row) {
              std::printf("%-44s %10.1f %9.1f %10.1f %8.1f%s\n", row.name.c_str(), row.t.median_us,
                          row.value, row.fields.at("eager_us").get<double>(),
                          row.fields.at("kernels_per_call").get<double>(), gap_mark(row.t).c_str());
            });
      }
    }
    g.dev.release_cached_memory();
  }
}

void bench_paged_decode(const Gpu& g, GpuClock& clock, Report& report) {
  constexpr int64_t kHeadDim = 128, kBlock = 16;
  const DType dt = DType::kF16;
  std::printf(
      "\n== paged_decode_attention: f16 q and cache, Hq=32 Hkv=8 D=128, block size 16, "
      "block tables shuffled\n");
  std::printf(
      "   GB/s = bytes of K and V for the context + q + o, / kernel time (graph "
      "replays); %% of peak: of the theoretical %.0f GB/s and of the measured "
      "copy %.0f GB/s (target >= 70%% at long contexts)\n",
      g.theoretical_gbps, g.copy_gbps);
  std::printf("%-44s %10s %9s %8s %8s %10s\n", "case", "kernel us", "GB/s", "% theor", "% copy",
              "eager us");
  std::mt19937 rng(1234);
  for (const int64_t batch : {int64_t{1}, int64_t{8}, int64_t{32}}) {
    for (const int64_t ctx : {int64_t{1024}, int64_t{2048}, int64_t{4096}, int64_t{8192},
                              int64_t{16384}, int64_t{32768}}) {
      const std::string name = "paged_decode_attention f16 B=" + std::to_string(batch) +
                               " ctx=" + std::to_string(ctx) + " Hq=32 Hkv=8 D=128";
      run_case(
          report, "paged_decode_attention", name,
          [&](Row& row) {
            const int64_t per_seq = ctx / kBlock, per_copy = batch * per_seq;
            const double kv_bytes = 2.0 * double(batch * ctx * kHeadsKv * kHeadDim) * 2.0;
            const int copies = copies_for(g, kv_bytes, 32);
            const Shape cache_shape = {copies * per_copy, kBlock, kHeadsKv, kHeadDim};
            const Tensor kc = random_tensor(g, cache_shape, dt, -1.f, 1.f, 21);
            const Tensor vc = random_tensor(g, cache_shape, dt, -1.f, 1.f, 22);
            const Tensor q = random_tensor(g, {batch, kHeadsQ, kHeadDim}, dt, -1.f, 1.f, 23);
            // Copy c's sequences own blocks [c * per_copy, (c + 1) * per_copy), shuffled.
            std::vector<Tensor> tables;
            for (int c = 0; c < copies; ++c) {
              std::vector<int32_t> ids(static_cast<size_t>(per_copy));
              std::iota(ids.begin(), ids.end(), static_cast<int32_t>(c * per_copy));
              std::shuffle(ids.begin(), ids.end(), rng);
              tables.push_back(index_tensor(g, ids, {batch, per_seq}));
            }
            const Tensor lens =
                index_tensor(g, std::vector<int32_t>(size_t(batch), int32_t(ctx)), {batch});
            const auto attrs = attention_attrs(1.f / std::sqrt(float(kHeadDim)));
            auto call = [&](int i) {
              ops::paged_decode_attention(q, kc, vc, tables[size_t(i) % tables.size()], lens,
                                          attrs);
            };
            const double eager_us = eager_wall_us(g, [&] { call(0); });
            const int per_graph = std::max(copies, 2);
            const auto graph = capture_calls(g, per_graph, call);
            Timing t = clock.time([&](int) { graph->launch(); }, 7);
            for (double* f : {&t.median_us, &t.p10_us, &t.p90_us, &t.host_us}) *f /= per_graph;
            const double bytes = kv_bytes + 2.0 * double(batch * kHeadsQ * kHeadDim) * 2.0;
            row.metric = "gbps";
            row.t = t;
            row.value = bytes / t.median_us / 1e3;
            row.fields = {
                {"fraction_of_theoretical", Report::round3(row.value / g.theoretical_gbps)},
                {"theoretical_gbps", Report::round3(g.theoretical_gbps)},
                {"fraction_of_copy", Report::round3(row.value / g.copy_gbps)},
                {"copy_gbps", Report::round3(g.copy_gbps)},
                {"bytes", bytes},
                {"eager_us", Report::round3(eager_us)},
                {"cache_copies", copies},
                {"kernels_per_call", double(graph->num_ops()) / per_graph}};
          },
          [&](const Row& row) {
            std::printf("%-44s %10.2f %9.0f %7.0f%% %7.0f%% %10.1f%s\n", row.name.c_str(),
                        row.t.median_us, row.value,
                        100 * row.fields.at("fraction_of_theoretical").get<double>(),
                        100 * row.fields.at("fraction_of_copy").get<double>(),
                        row.fields.at("eager_us").get<double>(), gap_mark(row.t).c_str());
          });
      g.dev.release_cached_memory();
    }
  }
}

// ------------------------------------------------------------ summary

void print_summary(const Gpu& g, const Report& report) {
  std::printf("\n== summary on %s\n", g.name.c_str());
  // linear: decode (T <= 32) and prefill (T >= 512) ratios against cuBLASLt.
  for (const bool prefill : {false, true}) {
    int n = 0, within = 0;
    const Row* worst = nullptr;
    for (const Row& r : report.rows()) {
      if (r.section != "linear" || !r.error.empty()) continue;
      const bool is_prefill =
          r.name.find("T=512 ") != std::string::npos || r.name.find("T=2048 ") != std::string::npos;
      if (is_prefill != prefill) continue;
      ++n;
      const double ratio = r.value / r.peer_value;
      within += ratio >= 0.95;
      if (!worst || ratio < worst->value / worst->peer_value) worst = &r;
    }
    if (n)
      std::printf(
          "  linear %s: %d of %d cases within 5%% of cuBLASLt (ours/cuBLASLt >= 0.95); "
          "worst %.3f (%s)\n",
          prefill ? "prefill T=512,2048" : "decode T=1,8,32", within, n,
          worst->value / worst->peer_value, worst->name.c_str());
  }
  // prefill: the best TFLOP/s per head dim, against cuBLASLt's best f16 GEMM here.
  double gemm = 0;
  for (const Row& r : report.rows())
    if (r.section == "linear" && r.error.empty() && r.name.rfind("linear f16 ", 0) == 0)
      gemm = std::max(gemm, r.peer_value);
  for (const int64_t d : {64, 128}) {
    const Row* best = nullptr;
    for (const Row& r : report.rows())
      if (r.section == "prefill_attention" && r.error.empty() &&
          r.name.find(" D=" + std::to_string(d) + " ") != std::string::npos &&
          (!best || r.value > best->value))
        best = &r;
    if (!best) continue;
    std::printf("  prefill_attention D=%lld: best %.1f TFLOP/s (%s)", static_cast<long long>(d),
                best->value, best->name.c_str());
    if (gemm > 0)
      std::printf("; %.2f of cuBLASLt's best f16 GEMM here (%.1f)", best->value / gemm, gemm);
    if (g.tensor_peak_tflops > 0)
      std::printf("; %.2f of the nominal tensor peak (%.0f)", best->value / g.tensor_peak_tflops,
                  g.tensor_peak_tflops);
    std::printf("\n");
  }
  // paged decode at long contexts (>= 8k).
  int n = 0, met = 0;
  const Row* worst = nullptr;
  for (const Row& r : report.rows()) {
    if (r.section != "paged_decode_attention" || !r.error.empty()) continue;
    const size_t at = r.name.find("ctx=");
    if (at == std::string::npos || std::stoll(r.name.substr(at + 4)) < 8192) continue;
    ++n;
    const double f = r.value / g.theoretical_gbps;
    met += f >= 0.70;
    if (!worst || f < worst->value / g.theoretical_gbps) worst = &r;
  }
  if (n)
    std::printf(
        "  paged_decode_attention ctx >= 8k: %d of %d cases at >= 70%% of the theoretical "
        "%.0f GB/s; lowest %.0f%% (%s)\n",
        met, n, g.theoretical_gbps, 100 * worst->value / g.theoretical_gbps, worst->name.c_str());
  if (report.failures()) std::printf("  %d cases failed (see 'error:' above)\n", report.failures());
}

int run(const Options& o) {
  // The plugin loader reports a skipped plugin at info level; the skip line
  // below says it once (RM_LOG_LEVEL still overrides).
  Config config;
  config.log_level = "warn";
  Runtime::init(config.with_environment());
  std::string why_not;
  std::optional<Gpu> found = open_gpu(o.device, &why_not);
  if (!found) {
    std::printf("rma_bench_cuda: skipped: no CUDA device (%s)\n", why_not.c_str());
    return 0;
  }
  Gpu& g = *found;
  GpuClock clock(g.stream);
  g.copy_gbps = measure_copy_gbps(g, clock);

  std::printf("rma_bench_cuda on %s: %s\n", g.dev.name().c_str(), g.machine.c_str());
  std::printf(
      "commit %s; %.1f GiB, L2 %.0f MiB; memory bandwidth: theoretical %.0f GB/s (memory "
      "clock x 2 x bus width), measured device-to-device copy %.0f GB/s (read + "
      "written)",
      g.commit.c_str(), double(g.memory_bytes) / double(1ull << 30),
      double(g.l2_bytes) / double(1 << 20), g.theoretical_gbps, g.copy_gbps);
  if (g.tensor_peak_tflops > 0)
    std::printf("; nominal dense f16 tensor peak %.0f TFLOP/s", g.tensor_peak_tflops);
  std::printf("\n");

  Report report(g, o.json_path);
  const auto t0 = Clock::now();
  auto section = [&](const char* name, const std::function<void()>& fn) {
    if (!o.wants(name)) return;
    try {
      fn();
    } catch (const Error& e) {
      std::printf("%s: error: %s\n", name, e.what());
      Row r;
      r.section = name;
      r.name = name;
      r.error = e.what();
      report.add(std::move(r));
    }
    g.dev.release_cached_memory();
  };
  section("linear", [&] { bench_linear(g, clock, report); });
  section("prefill_attention", [&] { bench_prefill(g, clock, report); });
  section("paged_decode_attention", [&] { bench_paged_decode(g, clock, report); });
  print_summary(g, report);
  std::printf("\nran in %.0f s\n", std::chrono::duration<double>(Clock::now() - t0).count());
  if (!o.json_path.empty()) std::printf("appended to %s\n", o.json_path.c_str());
  return report.failures() ? 1 : 0;
}

}  // namespace
}  // namespace rma::bench::cuda

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(rma::bench::cuda::kUsage, stdout);
      return 0;
    }
  rma::bench::cuda::Options options;
  try {
    options = rma::bench::cuda::parse_options(argc, argv);
  } catch (const rma::Error& e) {
    std::fprintf(stderr, "rma_bench_cuda: %s\n%s", e.message().c_str(), rma::bench::cuda::kUsage);
    return 2;
  }
  try {
    return rma::bench::cuda::run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rma_bench_cuda: %s\n", e.what());
    return 1;
  }
}
