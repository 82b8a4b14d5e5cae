// rma_bench_onnx: times one ONNX model through rma::Session, in-process (no
// process start-up in the figures). bench/onnx/bench_onnx.py drives it.
//
//   rma_bench_onnx run  MODEL --input NAME=FILE.npy... [--device cpu]
//                       [--batch-size N] [--dim NAME=N]... [--warmup 3] [--iters 20]
//   rma_bench_onnx open MODEL [--device cpu] [--batch-size N] [--dim NAME=N]...
//                       [--repeat 1] [--save-rmx FILE]
//
// `run` opens the session (through the compile cache), runs `--warmup`
// times, then times `--iters` runs. `open` times Session::open `--repeat`
// times (an .onnx: compiled on a cache miss, loaded on a hit; an .rmx:
// loaded) and can save the compiled model as an .rmx. Each prints one JSON
// object: times in milliseconds (every sample, the median and the minimum),
// the thread count (RM_NUM_THREADS), the machine and the commit.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/machine.h"
#include "rma/config.h"
#include "rma/device.h"
#include "rma/error.h"
#include "rma/npy.h"
#include "rma/session.h"

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

struct Args {
  std::string mode, model, device = "cpu", save_rmx;
  std::map<std::string, std::string> inputs;
  rma::SessionOptions options;
  int warmup = 3, iters = 20, repeat = 1;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(
      stderr,
      "rma_bench_onnx: %s\nusage: rma_bench_onnx run|open MODEL [--input NAME=FILE.npy]... "
      "[--device D] [--batch-size N] [--dim NAME=N]... [--warmup N] [--iters N] "
      "[--repeat N] [--save-rmx FILE]\n",
      why.c_str());
  std::exit(2);
}

int positive(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || n < 0 || n > 1000000) usage(flag + " wants a count, got '" + v + "'");
  return static_cast<int>(n);
}

std::pair<std::string, std::string> split_pair(const std::string& flag, const std::string& v) {
  const size_t eq = v.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == v.size())
    usage(flag + " wants NAME=VALUE, got '" + v + "'");
  return {v.substr(0, eq), v.substr(eq + 1)};
}

Args parse(int argc, char** argv) {
  Args a;
  if (argc < 3) usage("a mode and a model are required");
  a.mode = argv[1];
  a.model = argv[2];
  if (a.mode != "run" && a.mode != "open") usage("unknown mode '" + a.mode + "'");
  for (int i = 3; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(flag + " wants a value");
    const std::string v = argv[++i];
    if (flag == "--input") {
      a.inputs.insert(split_pair(flag, v));
    } else if (flag == "--device") {
      a.device = v;
    } else if (flag == "--batch-size") {
      a.options.batch_size = positive(flag, v);
    } else if (flag == "--dim") {
      const auto [name, n] = split_pair(flag, v);
      a.options.dims[name] = positive(flag, n);
    } else if (flag == "--warmup") {
      a.warmup = positive(flag, v);
    } else if (flag == "--iters") {
      a.iters = std::max(1, positive(flag, v));
    } else if (flag == "--repeat") {
      a.repeat = std::max(1, positive(flag, v));
    } else if (flag == "--save-rmx") {
      a.save_rmx = v;
    } else {
      usage("unknown option '" + flag + "'");
    }
  }
  a.options.device = a.device;
  return a;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

json summary(std::vector<double> times) {
  json j = {{"times_ms", times}};
  std::sort(times.begin(), times.end());
  j["median_ms"] = times[times.size() / 2];
  j["min_ms"] = times.front();
  return j;
}

int run(const Args& a) {
  const int threads = rma::Runtime::get().config().num_threads;
  json out = {{"mode", a.mode}, {"model", a.model}, {"device", a.device}, {"threads", threads}};
  if (a.mode == "open") {
    std::vector<double> times;
    for (int r = 0; r < a.repeat; ++r) {
      const auto t0 = Clock::now();
      rma::Session s = rma::Session::open(a.model, a.options);
      times.push_back(ms_since(t0));
      out["cache_hit"] = s.cache_hit();
      if (r == 0 && !a.save_rmx.empty()) s.compiled().save(a.save_rmx);
    }
    out.update(summary(times));
  } else {
    std::map<std::string, rma::Tensor> inputs;
    for (const auto& [name, file] : a.inputs) inputs.emplace(name, rma::load_npy(file));
    rma::Session s = rma::Session::open(a.model, a.options);
    for (int i = 0; i < a.warmup; ++i) s.run(inputs);
    std::vector<double> times;
    for (int i = 0; i < a.iters; ++i) {
      const auto t0 = Clock::now();
      s.run(inputs);
      times.push_back(ms_since(t0));
    }
    out["cache_hit"] = s.cache_hit();
    out.update(summary(times));
  }
  out["machine"] = rma::bench::machine_description(threads);
  out["commit"] = rma::bench::source_commit();
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  try {
    return run(a);
  } catch (const rma::Error& e) {
    std::fprintf(stderr, "rma_bench_onnx: %s\n", e.what());
    return 1;
  }
}
