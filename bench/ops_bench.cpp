#include "ops_bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "machine.h"
#include "rma/device.h"
#include "rma/error.h"
#include "rma/half.h"
#include "rma/ops.h"
#include "rma/prepared.h"
#include "rma/quant.h"
#include "rma/tensor.h"

#if defined(RMA_HAVE_OPENBLAS)
#include <cblas.h>
#endif

namespace rma::bench {

bool have_openblas() {
#if defined(RMA_HAVE_OPENBLAS)
  return true;
#else
  return false;
#endif
}

std::string wanted_openblas_coretype() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "SkylakeX";
#endif
  return "";
}

namespace {

using Clock = std::chrono::steady_clock;

// SmolLM2-135M-like dimensions.
constexpr int64_t kHidden = 576;
constexpr int64_t kInter = 1536;
constexpr int64_t kHeadsQ = 9;
constexpr int64_t kHeadsKv = 3;
constexpr int64_t kHeadDim = 64;
constexpr int64_t kVocab = 49152;
constexpr int64_t kPrefill = 128;

struct Stats {
  double median = 0, p10 = 0, p90 = 0;  // seconds per call
  int calls = 0;
};

Stats summarize(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  Stats s;
  s.calls = static_cast<int>(t.size());
  auto at = [&](double q) { return t[static_cast<size_t>(q * (t.size() - 1) + 0.5)]; };
  s.median = at(0.5);
  s.p10 = at(0.1);
  s.p90 = at(0.9);
  return s;
}

struct Result {
  Result(std::string n, std::string m, double v = 0)
      : name(std::move(n)), metric(std::move(m)), value(v) {}
  std::string name;    // the JSON "case"
  std::string metric;  // gflops, gbps, us
  double value = 0;
  Stats st;
  std::string peer;  // empty: none ran
  double peer_value = 0;
  std::string extra;                                   // table remark (share of peak or bandwidth)
  std::string skipped;                                 // reason, when the device declined
  std::vector<std::pair<std::string, double>> fields;  // extra JSON numbers
};

// Fills with a cheap deterministic pseudo-random sequence in [lo, hi).
void fill_uniform(float* p, int64_t n, float lo, float hi, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < n; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    p[i] = lo + (hi - lo) * static_cast<float>(s >> 40) * (1.f / 16777216.f);
  }
}

struct Machine {
  double peak_gflops = 0;
  double bandwidth_gbps = 0;
  uint64_t l3 = 32ull << 20;
};

class Runner {
 public:
  Runner(const OpsBenchOptions& o, Device dev) : opt_(o), dev_(std::move(dev)) {
    // Host probes (FMA peak, DRAM bandwidth) use the CPU's threads; an
    // accelerator's compute units are not host threads.
    const rma_device_info info = dev_.info();
    threads_ = info.type == RMA_DEVICE_CPU ? std::max(1, info.compute_units) : available_cores();
    tag_ = " t" + std::to_string(threads_);
  }

  int threads() const { return threads_; }
  const std::string& tag() const { return tag_; }
  const Device& device() const { return dev_; }
  bool wants(const std::string& op) const { return opt_.op.empty() || opt_.op == op; }
  int repeat() const { return opt_.repeat; }
  void note_failure() { ++failures_; }
  int failures() const { return failures_; }

  // Times fn (one op call); warms up first.
  Stats time(const std::function<void()>& fn) {
    fn();
    dev_.synchronize();
    const auto t0 = Clock::now();
    fn();
    dev_.synchronize();
    const double first = std::chrono::duration<double>(Clock::now() - t0).count();
    int n = opt_.repeat;
    if (n <= 0) n = static_cast<int>(std::clamp(0.3 / std::max(first, 1e-7), 5.0, 400.0));
    std::vector<double> t;
    t.reserve(n);
    for (int i = 0; i < n; ++i) {
      const auto a = Clock::now();
      fn();
      dev_.synchronize();
      t.push_back(std::chrono::duration<double>(Clock::now() - a).count());
    }
    return summarize(std::move(t));
  }

  // Times an op call; a device that declines the op yields a skipped result.
  std::optional<Stats> time_op(Result& r, const std::function<void()>& fn) {
    try {
      return time(fn);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnsupported) throw;
      r.skipped = "skipped: " + e.message();
      return std::nullopt;
    }
  }

  void add(Result r) {
    print(r);
    results_.push_back(std::move(r));
  }

  void print_header() const {
    std::printf("%-58s %10s %12s %8s  %s\n", "case", "median", "value", "spread", "vs");
  }

  static void print(const Result& r) {
    if (!r.skipped.empty()) {
      std::printf("%-58s %s\n", r.name.c_str(), r.skipped.c_str());
      return;
    }
    const double spread = r.st.median > 0 ? 100.0 * (r.st.p90 - r.st.p10) / r.st.median : 0;
    char value[64];
    std::snprintf(value, sizeof(value), "%.1f %s", r.value,
                  r.metric == "gflops" ? "GF/s"
                  : r.metric == "gbps" ? "GB/s"
                                       : "us");
    std::string vs = r.extra;
    if (!r.peer.empty()) {
      char buf[128];
      std::snprintf(buf, sizeof(buf), "%s%s %.1f (ours/peer %.2f)", vs.empty() ? "" : "; ",
                    r.peer.c_str(), r.peer_value, r.value / r.peer_value);
      vs += buf;
    }
    std::printf("%-58s %8.1f us %12s %7.1f%%  %s\n", r.name.c_str(), r.st.median * 1e6, value,
                spread, vs.c_str());
    std::fflush(stdout);
  }

  // The best DRAM read bandwidth seen anywhere in the run (probes and plain
  // reads): what the machine can do when its neighbours are quiet.
  double best_bandwidth(double start) const {
    double best = start;
    for (const Result& r : results_)
      for (const auto& [k, v] : r.fields)
        if (k == "dram_gbps" || k == "plain_read_gbps") best = std::max(best, v);
    return best;
  }

  const Result* find(const std::string& name) const {
    for (const Result& r : results_)
      if (r.name == name && r.skipped.empty()) return &r;
    return nullptr;
  }

  // The figures the cpu backend is held to, in one place.
  void print_summary(const Machine& m) const {
    const double best_bw = best_bandwidth(m.bandwidth_gbps);
    std::printf(
        "\nSummary (%d threads; FMA peak %.1f GFLOP/s; DRAM read bandwidth: best seen this "
        "run %.1f GB/s)\n",
        threads_, m.peak_gflops, best_bw);
    if (const Result* r = find("linear f32 T=1024 N=1024 K=1024" + tag_)) {
      std::printf("  linear f32 T=N=K=1024, our kernel: %.1f GFLOP/s = %.2f of the FMA peak",
                  r->value, r->value / m.peak_gflops);
      if (!r->peer.empty())
        std::printf(", %.2f x OpenBLAS (%.1f GFLOP/s, same run)", r->value / r->peer_value,
                    r->peer_value);
      std::printf("\n");
    }
    // K = 576 is not a multiple of the k-quants' 256: q5_k is reported at the
    // shapes its bench cases use (the down projection and a large stand-in).
    const std::pair<const char*, const char*> decodes[] = {
        {"q8_0", "N=1536 K=576"},  {"q8_0", "N=49152 K=576"},  {"q4_0", "N=1536 K=576"},
        {"q4_0", "N=49152 K=576"}, {"q4_1", "N=1536 K=576"},   {"q4_1", "N=49152 K=576"},
        {"q5_k", "N=576 K=1536"},  {"q5_k", "N=16384 K=1536"}, {"f16", "N=1536 K=576"},
        {"f16", "N=49152 K=576"}};
    for (const auto& [c, shape] : decodes) {
      const std::string name = std::string("quant_linear ") + c + " x f32 T=1 " + shape + tag_;
      const Result* r = find(name);
      if (!r) continue;
      double dram = 0, read = 0;
      for (const auto& [k, v] : r->fields) {
        if (k == "dram_gbps") dram = v;
        if (k == "plain_read_gbps") read = v;
      }
      std::printf(
          "  quant_linear %s T=1 %s: %.1f GB/s = %.2f of a plain read of the same bytes "
          "alternated with it (%.1f), %.2f of the streaming bw probed before (%.1f), "
          "%.2f of the best seen (%.1f)\n",
          c, shape, r->value, read > 0 ? r->value / read : 0.0, read, r->value / dram, dram,
          r->value / best_bw, best_bw);
    }
  }

  void write_json(const std::string& path, const std::string& machine, const std::string& commit,
                  double best_bw) const {
    std::ofstream f(path);
    if (!f) throw Error(ErrorCode::kInvalidArgument, "cannot write --json file '" + path + "'");
    for (const Result& r : results_) {
      if (!r.skipped.empty()) continue;
      nlohmann::ordered_json j;
      j["bench"] = "ops";
      j["case"] = r.name;
      j["metric"] = r.metric;
      j["value"] = std::round(r.value * 1000) / 1000;
      if (!r.peer.empty()) {
        j["peer"] = r.peer;
        j["peer_value"] = std::round(r.peer_value * 1000) / 1000;
        j["ratio"] = std::round(r.value / r.peer_value * 10000) / 10000;
      }
      j["median_us"] = std::round(r.st.median * 1e7) / 10;
      j["p10_us"] = std::round(r.st.p10 * 1e7) / 10;
      j["p90_us"] = std::round(r.st.p90 * 1e7) / 10;
      j["calls"] = r.st.calls;
      bool decode = false;
      for (const auto& [k, v] : r.fields) {
        j[k] = std::round(v * 1000) / 1000;
        decode = decode || k == "dram_gbps";
      }
      if (decode) {
        j["best_dram_gbps"] = std::round(best_bw * 1000) / 1000;
        j["fraction_of_best_dram"] = std::round(r.value / best_bw * 1000) / 1000;
      }
      if (!r.extra.empty()) j["note"] = r.extra;
      j["machine"] = machine;
      j["commit"] = commit;
      f << j.dump() << "\n";
    }
  }

 private:
  const OpsBenchOptions& opt_;
  Device dev_;
  int threads_ = 1;
  std::string tag_;
  std::vector<Result> results_;
  int failures_ = 0;
};

// ------------------------------------------------------------ tensors
Tensor float_tensor(const Shape& shape, DType dt, const Device& dev, float lo, float hi,
                    uint64_t seed) {
  const int64_t n = numel(shape);
  std::vector<float> v(static_cast<size_t>(n));
  fill_uniform(v.data(), n, lo, hi, seed);
  if (dt == DType::kF32) return Tensor::from_host(v.data(), shape, dt, dev);
  std::vector<uint16_t> b(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    b[i] = dt == DType::kF16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
  return Tensor::from_host(b.data(), shape, dt, dev);
}

Tensor quant_tensor(int64_t n, int64_t k, DType dt, const Device& dev, uint64_t seed) {
  std::vector<float> row(static_cast<size_t>(k));
  std::vector<uint8_t> bytes(static_cast<size_t>(n * bytes_for(dt, k)));
  const float r = 1.f / std::sqrt(static_cast<float>(k));
  for (int64_t i = 0; i < n; ++i) {
    fill_uniform(row.data(), k, -r, r, seed + i);
    quantize_row(dt, row.data(), bytes.data() + i * bytes_for(dt, k), k);
  }
  return Tensor::from_host(bytes.data(), {n, k}, dt, dev);
}

Tensor index_tensor(const std::vector<int32_t>& v, const Shape& shape, const Device& dev) {
  return Tensor::from_host(v.data(), shape, DType::kI32, dev);
}

// Copies of t so that calls cycling through them read more than `bytes`
// between two uses of one copy (weights come from DRAM, not the caches).
std::vector<Tensor> rotation(const Tensor& t, uint64_t bytes) {
  const uint64_t one = std::max<uint64_t>(1, t.nbytes());
  const uint64_t copies = std::max<uint64_t>(2, (bytes + one - 1) / one);
  std::vector<Tensor> out = {t};
  for (uint64_t i = 1; i < copies; ++i) out.push_back(t.to(t.device()));
  return out;
}

std::string dims(int64_t t, int64_t n, int64_t k) {
  return "T=" + std::to_string(t) + " N=" + std::to_string(n) + " K=" + std::to_string(k);
}

std::string pct(double part, double whole) {
  char b[64];
  std::snprintf(b, sizeof(b), "%.0f%%", whole > 0 ? 100.0 * part / whole : 0.0);
  return b;
}

// ------------------------------------------------------------ OpenBLAS
#if defined(RMA_HAVE_OPENBLAS)
// OpenBLAS's idle threads spin for a while after a call; let them sleep so
// that they do not steal the cores from the next measurement.
void openblas_settle() { std::this_thread::sleep_for(std::chrono::milliseconds(300)); }
#endif

// ------------------------------------------------------------ linear
// A decode-shaped (memory-bound) case: weights cycled through copies larger
// than the L3 so that every call streams them from DRAM. Each op call is
// followed by a plain read of another copy (ReadProbe), so both see the
// same neighbours on this shared host: the ratio of the two medians is the
// share of the memory bandwidth the op achieves at this size. The streaming
// bandwidth probed just before the group is reported next to it.
bool time_decode(Runner& run, Result& r, const std::vector<Tensor>& ws, double bytes,
                 double dram_gbps, const std::function<void(const Tensor&)>& op) {
  try {
    const Device& dev = run.device();
    ReadProbe probe(run.threads());
    const bool host = ws[0].host_data() != nullptr;
    const size_t n = ws.size();
    op(ws[0]);
    dev.synchronize();
    const auto t0 = Clock::now();
    op(ws[1 % n]);
    dev.synchronize();
    const double first = std::chrono::duration<double>(Clock::now() - t0).count();
    const int calls =
        run.repeat() > 0 ? run.repeat() : static_cast<int>(std::clamp(0.3 / first, 10.0, 400.0));
    std::vector<double> t_op, t_read;
    for (int i = 0; i < calls; ++i) {
      const auto a = Clock::now();
      op(ws[(i + 2) % n]);
      dev.synchronize();
      t_op.push_back(std::chrono::duration<double>(Clock::now() - a).count());
      if (host)
        t_read.push_back(
            probe.read(ws[(i + 2 + n / 2) % n].host_data(), static_cast<uint64_t>(bytes)));
    }
    r.st = summarize(t_op);
    r.value = bytes / r.st.median / 1e9;
    const double read = host ? bytes / summarize(t_read).median / 1e9 : 0;
    char b[160];
    std::snprintf(b, sizeof(b),
                  "%s of a plain read of the same bytes, alternated (%.1f); %s of DRAM bw (%.1f)",
                  pct(r.value, read).c_str(), read, pct(r.value, dram_gbps).c_str(), dram_gbps);
    r.extra = b;
    r.fields = {{"plain_read_gbps", read},
                {"fraction_of_plain_read", read > 0 ? r.value / read : 0},
                {"dram_gbps", dram_gbps},
                {"fraction_of_dram", r.value / dram_gbps},
                {"weight_copies", static_cast<double>(n)}};
    return true;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnsupported) throw;
    r.skipped = "skipped: " + e.message();
    return false;
  }
}

void bench_linear(Runner& run, Machine& m) {
  const Device& dev = run.device();
  const uint64_t rotate = 3 * m.l3;

  // GEMM: the headline square case, decode batches and prefill shapes.
  struct GemmCase {
    int64_t t, n, k;
    DType dt;
  };
  const GemmCase gemms[] = {
      {1024, 1024, 1024, DType::kF32},          {8, kInter, kHidden, DType::kF32},
      {16, kInter, kHidden, DType::kF32},       {64, kInter, kHidden, DType::kF32},
      {kPrefill, kInter, kHidden, DType::kF32}, {kPrefill, kHidden, kInter, DType::kF32},
      {512, kInter, kHidden, DType::kF32},      {kPrefill, kVocab, kHidden, DType::kF32},
      {1024, 1024, 1024, DType::kBF16},         {kPrefill, kInter, kHidden, DType::kBF16},
      {kPrefill, kInter, kHidden, DType::kF16}, {16, kInter, kHidden, DType::kBF16}};
  for (const GemmCase& c : gemms) {
    const Tensor x = float_tensor({c.t, c.k}, c.dt, dev, -1.f, 1.f, 1);
    const Tensor w = float_tensor({c.n, c.k}, c.dt, dev, -0.05f, 0.05f, 2);
    const double flops = 2.0 * c.t * c.n * c.k;
    const std::string base = "linear " + std::string(name(c.dt)) + " " + dims(c.t, c.n, c.k);

    Result own{base + run.tag(), "gflops"};
    // Our kernel, whatever the OpenBLAS dispatch policy says.
    setenv("RMA_CPU_LINEAR_OPENBLAS", "0", 1);
    const auto st = run.time_op(own, [&] { ops::linear(x, w); });
    unsetenv("RMA_CPU_LINEAR_OPENBLAS");
    if (!st) {
      run.add(own);
      continue;
    }
    own.st = *st;
    own.value = flops / st->median / 1e9;
    own.extra = pct(own.value, m.peak_gflops) + " of FMA peak";
    own.fields = {{"fraction_of_fma_peak", own.value / m.peak_gflops}};
#if defined(RMA_HAVE_OPENBLAS)
    if (c.dt == DType::kF32 && x.host_data()) {
      std::vector<float> y(static_cast<size_t>(c.t * c.n));
      const auto* xp = static_cast<const float*>(x.host_data());
      const auto* wp = static_cast<const float*>(w.host_data());
      const Stats pb = run.time([&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(c.t),
                    static_cast<int>(c.n), static_cast<int>(c.k), 1.f, xp, static_cast<int>(c.k),
                    wp, static_cast<int>(c.k), 0.f, y.data(), static_cast<int>(c.n));
      });
      openblas_settle();
      own.peer = "openblas";
      own.peer_value = flops / pb.median / 1e9;
      Result ob{base + " openblas" + run.tag(), "gflops"};
      ob.st = pb;
      ob.value = own.peer_value;
      ob.extra = pct(ob.value, m.peak_gflops) + " of FMA peak";
      ob.fields = {{"fraction_of_fma_peak", ob.value / m.peak_gflops}};
      run.add(own);
      run.add(ob);
      // What linear runs by default: the dispatch policy may hand the shape
      // to OpenBLAS (backends/cpu/ops/linear/config.h).
      Result disp{base + " dispatched" + run.tag(), "gflops"};
      disp.st = run.time([&] { ops::linear(x, w); });
      openblas_settle();
      disp.value = flops / disp.st.median / 1e9;
      disp.peer = "openblas";
      disp.peer_value = own.peer_value;
      disp.extra = pct(disp.value, m.peak_gflops) + " of FMA peak";
      disp.fields = {{"fraction_of_fma_peak", disp.value / m.peak_gflops}};
      run.add(disp);
      continue;
    }
#endif
    run.add(own);
  }

  // Pre-packed weights (rma/prepared.h): what a compiled plan runs, beside
  // the same call packing w itself. BERT-base/MiniLM-sized T=128 shapes and
  // a bf16 prefill shape (where packing also converts).
  if (ops::supports_prepare(dev)) {
    const GemmCase packed[] = {{128, 384, 384, DType::kF32},
                               {128, 1536, 384, DType::kF32},
                               {128, 384, 1536, DType::kF32},
                               {kPrefill, kInter, kHidden, DType::kF32},
                               {kPrefill, kInter, kHidden, DType::kBF16}};
    for (const GemmCase& c : packed) {
      const Tensor x = float_tensor({c.t, c.k}, c.dt, dev, -1.f, 1.f, 1);
      const Tensor w = float_tensor({c.n, c.k}, c.dt, dev, -0.05f, 0.05f, 2);
      const rma_linear_attrs attrs = linear_attrs();
      const auto prepared =
          ops::prepare(dev, RMA_OP_LINEAR, {{{x.shape(), c.dt}, {}}, {{w.shape(), c.dt}, w}},
                       &attrs, {{{c.t, c.n}, c.dt}});
      if (!prepared) continue;
      const double flops = 2.0 * c.t * c.n * c.k;
      const std::string base = "linear " + std::string(name(c.dt)) + " " + dims(c.t, c.n, c.k);
      Result plain{base + " packing per call" + run.tag(), "gflops"};
      Result pre{base + " pre-packed" + run.tag(), "gflops"};
      setenv("RMA_CPU_LINEAR_OPENBLAS", "0", 1);
      const auto sp = run.time_op(plain, [&] { ops::linear(x, w, Tensor{}, attrs); });
      const auto sq = run.time_op(pre, [&] { ops::run_prepared(*prepared, {x, w}, &attrs); });
      unsetenv("RMA_CPU_LINEAR_OPENBLAS");
      if (!sp || !sq) continue;
      plain.st = *sp;
      plain.value = flops / sp->median / 1e9;
      pre.st = *sq;
      pre.value = flops / sq->median / 1e9;
      pre.peer = "packing per call";
      pre.peer_value = plain.value;
      run.add(plain);
      run.add(pre);
    }
  }

  // Epilogue fusion: bias + silu on a prefill shape, and w stored [K, N].
  {
    const Tensor x = float_tensor({kPrefill, kHidden}, DType::kF32, dev, -1.f, 1.f, 1);
    const Tensor w = float_tensor({kInter, kHidden}, DType::kF32, dev, -0.05f, 0.05f, 2);
    const Tensor wt = float_tensor({kHidden, kInter}, DType::kF32, dev, -0.05f, 0.05f, 2);
    const Tensor b = float_tensor({kInter}, DType::kF32, dev, -0.5f, 0.5f, 3);
    const double flops = 2.0 * kPrefill * kInter * kHidden;
    Result r{"linear f32 " + dims(kPrefill, kInter, kHidden) + " bias silu" + run.tag(), "gflops"};
    const auto attrs = linear_attrs(Activation::kSilu);
    if (const auto st = run.time_op(r, [&] { ops::linear(x, w, b, attrs); })) {
      r.st = *st;
      r.value = flops / st->median / 1e9;
      r.extra = pct(r.value, m.peak_gflops) + " of FMA peak";
    }
    run.add(r);
    Result r2{"linear f32 " + dims(kPrefill, kInter, kHidden) + " w [K,N]" + run.tag(), "gflops"};
    const auto attrs2 = linear_attrs(Activation::kNone, false, false);
    if (const auto st = run.time_op(r2, [&] { ops::linear(x, wt, Tensor{}, attrs2); })) {
      r2.st = *st;
      r2.value = flops / st->median / 1e9;
      r2.extra = pct(r2.value, m.peak_gflops) + " of FMA peak";
    }
    run.add(r2);
  }

  // Decode (GEMV): GB/s of weights.
  struct GemvCase {
    int64_t t, n, k;
    DType dt;
  };
  const GemvCase gemvs[] = {{1, kHidden, kHidden, DType::kF32}, {1, kInter, kHidden, DType::kF32},
                            {1, kHidden, kInter, DType::kF32},  {1, kVocab, kHidden, DType::kF32},
                            {4, kInter, kHidden, DType::kF32},  {1, kInter, kHidden, DType::kBF16},
                            {1, kVocab, kHidden, DType::kBF16}, {1, kInter, kHidden, DType::kF16}};
  for (const GemvCase& c : gemvs) {
    const Tensor x = float_tensor({c.t, c.k}, c.dt, dev, -1.f, 1.f, 1);
    const std::vector<Tensor> ws =
        rotation(float_tensor({c.n, c.k}, c.dt, dev, -0.05f, 0.05f, 2), rotate);
    const double bytes = static_cast<double>(ws[0].nbytes());
    const double dram = measure_read_bandwidth(run.threads(), 256ull << 20);
    const std::string base = "linear " + std::string(name(c.dt)) + " " + dims(c.t, c.n, c.k);
    Result r{base + run.tag(), "gbps"};
    if (time_decode(run, r, ws, bytes, dram, [&](const Tensor& w) { ops::linear(x, w); })) {
#if defined(RMA_HAVE_OPENBLAS)
      if (c.dt == DType::kF32 && x.host_data()) {
        std::vector<float> y(static_cast<size_t>(c.t * c.n));
        const auto* xp = static_cast<const float*>(x.host_data());
        size_t j = 0;
        const Stats pb = run.time([&] {
          const auto* wp = static_cast<const float*>(ws[j++ % ws.size()].host_data());
          if (c.t == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(c.n), static_cast<int>(c.k),
                        1.f, wp, static_cast<int>(c.k), xp, 1, 0.f, y.data(), 1);
          else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(c.t),
                        static_cast<int>(c.n), static_cast<int>(c.k), 1.f, xp,
                        static_cast<int>(c.k), wp, static_cast<int>(c.k), 0.f, y.data(),
                        static_cast<int>(c.n));
        });
        openblas_settle();
        r.peer = "openblas";
        r.peer_value = bytes / pb.median / 1e9;
      }
#endif
    }
    run.add(r);
  }
}

// ------------------------------------------------------------ quant_linear
void bench_quant_linear(Runner& run, Machine& m) {
  const Device& dev = run.device();
  const uint64_t rotate = 3 * m.l3;
  struct Decode {
    DType wt;
    int64_t n, k;
  };
  // K = 576 (SmolLM2's hidden size) is not a multiple of 256, so the
  // k-quants take the down projection (K = 1536) and a large stand-in.
  // f16 / bf16 weights (weight-only compression) read 2 bytes a weight.
  const Decode decodes[] = {{DType::kQ8_0, kInter, kHidden}, {DType::kQ8_0, kVocab, kHidden},
                            {DType::kQ4_0, kInter, kHidden}, {DType::kQ4_0, kVocab, kHidden},
                            {DType::kQ4_1, kInter, kHidden}, {DType::kQ4_1, kVocab, kHidden},
                            {DType::kQ4_K, kHidden, kInter}, {DType::kQ4_K, 16384, kInter},
                            {DType::kQ5_K, kHidden, kInter}, {DType::kQ5_K, 16384, kInter},
                            {DType::kQ6_K, kHidden, kInter}, {DType::kQ6_K, 16384, kInter},
                            {DType::kF16, kInter, kHidden},  {DType::kF16, kVocab, kHidden},
                            {DType::kBF16, kInter, kHidden}};
  for (const Decode& c : decodes) {
    const Tensor w0 = quant_tensor(c.n, c.k, c.wt, dev, 5);
    const std::vector<Tensor> ws = rotation(w0, rotate);
    const double bytes = static_cast<double>(w0.nbytes());
    const double dram = measure_read_bandwidth(run.threads(), 256ull << 20);
    for (const int64_t t : {int64_t{1}, int64_t{4}, int64_t{8}}) {
      if (c.n > 4096 && t != 1) continue;
      const Tensor x = float_tensor({t, c.k}, DType::kF32, dev, -1.f, 1.f, 1);
      Result r{
          "quant_linear " + std::string(name(c.wt)) + " x f32 " + dims(t, c.n, c.k) + run.tag(),
          "gbps"};
      time_decode(run, r, ws, bytes, dram, [&](const Tensor& w) { ops::quant_linear(x, w); });
      run.add(r);
    }
  }
  // Batched decode and prefill: compute-bound.
  for (DType wt : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ4_K, DType::kQ5_K,
                   DType::kQ6_K, DType::kF16}) {
    const int64_t k = block_elems(wt) < 256 ? kHidden : kInter;
    const int64_t n = block_elems(wt) < 256 ? kInter : kHidden;
    const Tensor w = quant_tensor(n, k, wt, dev, 5);
    for (const int64_t t : {int64_t{16}, kPrefill, int64_t{512}}) {
      const Tensor x = float_tensor({t, k}, DType::kF32, dev, -1.f, 1.f, 1);
      Result r{"quant_linear " + std::string(name(wt)) + " x f32 " + dims(t, n, k) + run.tag(),
               "gflops"};
      if (const auto st = run.time_op(r, [&] { ops::quant_linear(x, w); })) {
        r.st = *st;
        r.value = 2.0 * t * n * k / st->median / 1e9;
        r.extra = pct(r.value, m.peak_gflops) + " of FMA peak";
        r.fields = {{"fraction_of_fma_peak", r.value / m.peak_gflops}};
      }
      run.add(r);
    }
  }
}

// ------------------------------------------------------------ other ops
// One case: `fn` runs the op; `bytes` (read + written) or `flops` per call
// sets the metric.
void simple_case(Runner& run, const std::string& name, double bytes, double flops,
                 const std::function<void()>& fn) {
  Result r{name + run.tag(), flops > 0 ? "gflops" : "gbps"};
  try {
    if (const auto st = run.time_op(r, fn)) {
      r.st = *st;
      r.value = (flops > 0 ? flops : bytes) / st->median / 1e9;
    }
  } catch (const Error& e) {
    // One op's failure does not stop the others; the exit status reports it.
    r.skipped = std::string("error: ") + e.what();
    run.note_failure();
  }
  run.add(r);
}

double nbytes(std::initializer_list<const Tensor*> ts) {
  double b = 0;
  for (const Tensor* t : ts) b += static_cast<double>(t->nbytes());
  return b;
}

void bench_other_ops(Runner& run) {
  const Device& dev = run.device();
  const DType f32 = DType::kF32;
  for (const int64_t t : {int64_t{1}, kPrefill}) {
    const std::string tt = " T=" + std::to_string(t);
    const Tensor x = float_tensor({t, kHidden}, f32, dev, -1.f, 1.f, 1);
    const Tensor res = float_tensor({t, kHidden}, f32, dev, -1.f, 1.f, 2);
    const Tensor w = float_tensor({kHidden}, f32, dev, 0.5f, 1.5f, 3);
    const Tensor b = float_tensor({kHidden}, f32, dev, -0.1f, 0.1f, 4);
    const double xb = static_cast<double>(x.nbytes());
    if (run.wants("rms_norm"))
      simple_case(run, "rms_norm f32" + tt + " H=576", 2 * xb, 0,
                  [&] { ops::rms_norm(x, w, 1e-5f); });
    if (run.wants("add_rms_norm"))
      simple_case(run, "add_rms_norm f32" + tt + " H=576", 4 * xb, 0,
                  [&] { ops::add_rms_norm(x, res, w, 1e-5f); });
    if (run.wants("layer_norm"))
      simple_case(run, "layer_norm f32" + tt + " H=576", 2 * xb, 0,
                  [&] { ops::layer_norm(x, w, b, 1e-5f); });
    if (run.wants("add"))
      simple_case(run, "add f32" + tt + " H=576", 3 * xb, 0, [&] { ops::add(x, res); });
    if (run.wants("mul"))
      simple_case(run, "mul f32" + tt + " H=576", 3 * xb, 0, [&] { ops::mul(x, res); });

    const Tensor q = float_tensor({t, kHeadsQ, kHeadDim}, f32, dev, -1.f, 1.f, 5);
    const Tensor k = float_tensor({t, kHeadsKv, kHeadDim}, f32, dev, -1.f, 1.f, 6);
    const Tensor v = float_tensor({t, kHeadsKv, kHeadDim}, f32, dev, -1.f, 1.f, 7);
    std::vector<int32_t> pos(static_cast<size_t>(t));
    for (int64_t i = 0; i < t; ++i) pos[i] = static_cast<int32_t>(100 + i);
    const Tensor positions = index_tensor(pos, {t}, dev);
    if (run.wants("rope"))
      simple_case(run, "rope f32" + tt + " Hq=9 Hkv=3 D=64", 2 * nbytes({&q, &k}), 0,
                  [&] { ops::rope(q, k, positions, rope_attrs(10000.f)); });
    if (run.wants("fill_kv_cache")) {
      const int64_t blocks = (t + 16) / 16 + 4;
      Tensor kc = Tensor::zeros({blocks, 16, kHeadsKv, kHeadDim}, f32, dev);
      Tensor vc = Tensor::zeros({blocks, 16, kHeadsKv, kHeadDim}, f32, dev);
      std::vector<int32_t> slot_ids(static_cast<size_t>(t));
      for (int64_t i = 0; i < t; ++i) slot_ids[i] = static_cast<int32_t>(i);
      const Tensor slots = index_tensor(slot_ids, {t}, dev);
      simple_case(run, "fill_kv_cache f32" + tt + " Hkv=3 D=64", 2 * nbytes({&k, &v}), 0,
                  [&] { ops::fill_kv_cache(k, v, slots, kc, vc); });
    }
    if (run.wants("silu_and_mul") || run.wants("gelu_and_mul")) {
      const Tensor g = float_tensor({t, 2 * kInter}, f32, dev, -2.f, 2.f, 8);
      const double gb = 1.5 * static_cast<double>(g.nbytes());
      if (run.wants("silu_and_mul"))
        simple_case(run, "silu_and_mul f32" + tt + " I=1536", gb, 0, [&] { ops::silu_and_mul(g); });
      if (run.wants("gelu_and_mul"))
        simple_case(run, "gelu_and_mul f32" + tt + " I=1536", gb, 0, [&] { ops::gelu_and_mul(g); });
    }
    if (run.wants("softmax")) {
      const Tensor l = float_tensor({t, kVocab}, f32, dev, -5.f, 5.f, 9);
      simple_case(run, "softmax f32" + tt + " N=49152", 2 * static_cast<double>(l.nbytes()), 0,
                  [&] { ops::softmax(l); });
    }
    if (run.wants("moe_gating_topk_softmax")) {
      const Tensor l = float_tensor({t, 64}, f32, dev, -3.f, 3.f, 10);
      simple_case(run, "moe_gating_topk_softmax f32" + tt + " E=64 k=2",
                  static_cast<double>(l.nbytes()), 0,
                  [&] { ops::moe_gating_topk_softmax(l, 2, true); });
    }
    if (run.wants("prefill_attention") && t > 1) {
      const Tensor cu = index_tensor({0, static_cast<int32_t>(t)}, {2}, dev);
      const double flops = 4.0 * kHeadsQ * kHeadDim * t * (t + 1) / 2.0;
      simple_case(run, "prefill_attention f32" + tt + " Hq=9 Hkv=3 D=64 causal", 0, flops,
                  [&] { ops::prefill_attention(q, k, v, cu, attention_attrs(0.125f)); });
    }
  }
  if (run.wants("embedding")) {
    const Tensor table = float_tensor({kVocab, kHidden}, f32, dev, -1.f, 1.f, 11);
    const Tensor qtable = quant_tensor(kVocab, kHidden, DType::kQ8_0, dev, 12);
    for (const int64_t t : {int64_t{1}, kPrefill}) {
      std::vector<int32_t> ids(static_cast<size_t>(t));
      for (int64_t i = 0; i < t; ++i) ids[i] = static_cast<int32_t>((i * 7919) % kVocab);
      const Tensor idt = index_tensor(ids, {t}, dev);
      const double rb = 2.0 * t * kHidden * 4;
      simple_case(run, "embedding f32 T=" + std::to_string(t) + " V=49152 H=576", rb, 0,
                  [&] { ops::embedding(idt, table); });
      simple_case(run, "embedding q8_0 T=" + std::to_string(t) + " V=49152 H=576", rb, 0,
                  [&] { ops::embedding(idt, qtable); });
    }
  }
  if (run.wants("paged_decode_attention")) {
    for (const int64_t batch : {int64_t{1}, int64_t{8}}) {
      const int64_t ctx = 512, bs = 16, per = ctx / bs, blocks = batch * per;
      const Tensor q = float_tensor({batch, kHeadsQ, kHeadDim}, f32, dev, -1.f, 1.f, 13);
      const Tensor kc = float_tensor({blocks, bs, kHeadsKv, kHeadDim}, f32, dev, -1.f, 1.f, 14);
      const Tensor vc = float_tensor({blocks, bs, kHeadsKv, kHeadDim}, f32, dev, -1.f, 1.f, 15);
      std::vector<int32_t> table(static_cast<size_t>(blocks)),
          lens(static_cast<size_t>(batch), ctx);
      for (int64_t i = 0; i < blocks; ++i) table[i] = static_cast<int32_t>(i);
      const Tensor bt = index_tensor(table, {batch, per}, dev);
      const Tensor cl = index_tensor(lens, {batch}, dev);
      simple_case(
          run, "paged_decode_attention f32 B=" + std::to_string(batch) + " ctx=512 Hq=9 Hkv=3 D=64",
          nbytes({&kc, &vc}), 0,
          [&] { ops::paged_decode_attention(q, kc, vc, bt, cl, attention_attrs(0.125f)); });
    }
  }
  if (run.wants("sample")) {
    const Tensor l = float_tensor({1, kVocab}, f32, dev, -5.f, 5.f, 16);
    simple_case(run, "sample f32 B=1 V=49152 greedy", static_cast<double>(l.nbytes()), 0,
                [&] { ops::sample(l, sample_attrs(0.f)); });
    simple_case(run, "sample f32 B=1 V=49152 t=0.8 top_k=40 top_p=0.95",
                static_cast<double>(l.nbytes()), 0,
                [&] { ops::sample(l, sample_attrs(0.8f, 40, 0.95f, 0.f, 1.f, 7)); });
  }
}

}  // namespace

int run_ops_bench(const OpsBenchOptions& o) {
  const Device dev = Runtime::get().device(o.device);
  Runner run(o, dev);
  const std::string machine = machine_description(run.threads());
  const std::string commit = source_commit();

  std::printf("rma bench ops: device %s (%s)\n", dev.name().c_str(), dev.info().name);
  std::printf("machine: %s\ncommit: %s\n", machine.c_str(), commit.c_str());
  if (!o.note.empty()) std::printf("%s\n", o.note.c_str());
#if defined(RMA_HAVE_OPENBLAS)
  openblas_set_num_threads(run.threads());
  std::printf("openblas: core %s, %d threads (peer for linear)\n", openblas_get_corename(),
              openblas_get_num_threads());
#endif
  Machine m;  // bandwidth_gbps is refreshed before DRAM-bound groups
  if (const uint64_t l3 = l3_cache_bytes()) m.l3 = l3;
  const PeakResult peak = measure_fma_peak(run.threads());
  m.peak_gflops = peak.gflops;
  m.bandwidth_gbps = measure_read_bandwidth(run.threads(), 1ull << 30);
  std::printf("FMA peak: %.1f GFLOP/s (%d-bit FMA chains on %d threads)\n", m.peak_gflops,
              peak.vector_bits, run.threads());
  std::printf("DRAM read bandwidth: %.1f GB/s (streaming read of 1 GiB on %d threads)\n\n",
              m.bandwidth_gbps, run.threads());
  run.print_header();
  {
    Result p{"machine fma peak" + run.tag(), "gflops", m.peak_gflops};
    p.st.calls = 1;
    Result b{"machine read bandwidth" + run.tag(), "gbps", m.bandwidth_gbps};
    b.st.calls = 1;
    run.add(p);
    run.add(b);
  }

  int failures = 0;
  auto guarded = [&](const char* op, const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error& e) {
      std::printf("%s: error: %s\n", op, e.what());
      ++failures;
    }
  };
  if (run.wants("linear")) guarded("linear", [&] { bench_linear(run, m); });
  if (run.wants("quant_linear")) guarded("quant_linear", [&] { bench_quant_linear(run, m); });
  guarded("ops", [&] { bench_other_ops(run); });
  run.print_summary(m);
  if (!o.json_path.empty()) {
    run.write_json(o.json_path, machine, commit, run.best_bandwidth(m.bandwidth_gbps));
    std::printf("\nwrote %s\n", o.json_path.c_str());
  }
  return failures + run.failures() ? 1 : 0;
}

}  // namespace rma::bench
