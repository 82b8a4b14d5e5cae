// onnx_node_runner: runs the ONNX backend node tests (folders written by
// gen_node_tests.py: <test>/model.onnx, <test>/test_data_set_<N>/{input,output}_<J>.pb)
// on one device, all in this one process (OpenCL program builds are slow),
// and prints a table: pass, fail or unsupported per test.
//
//   onnx_node_runner --tests DIR [--device cpu] [--filter SUBSTR] [--json FILE]
//                    [--expect-pass FILE] [--quiet]
//
// unsupported: opening the model (import, compile, plan) raised an rma::Error
//   with kUnsupported — the importer or planner says it does not do this op,
//   opset, dtype or attribute — or the test needs a sequence/map/optional.
// fail: anything else — wrong values, shape or dtype, any other error, and a
//   kUnsupported raised while running a model the importer accepted.
// Outputs are compared as the ONNX backend runner does: |got − want| ≤
// atol + rtol·|want| with rtol 1e-3, atol 1e-7 for floats (NaN equals NaN;
// f16 and bf16 outputs: rtol of 2 units in their last place, 2⁻⁹ and 2⁻⁶),
// exactly for integers and bools. The expected outputs are decoded as the
// importer decodes tensors (a DOUBLE becomes f32, a UINT8 i32; docs/onnx.md),
// and our output must have that dtype and the expected shape.
//
// Exit status 1 when a test fails or a test named in --expect-pass (one name
// a line, '#' comments) does not pass; 77 when the device or the test
// folder is absent; 2 on a usage error.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <typeinfo>
#include <vector>

#include "rma/device.h"
#include "rma/error.h"
#include "rma/graph/onnx.h"
#include "rma/half.h"
#include "rma/log.h"
#include "rma/session.h"
#include "rma/tensor.h"

namespace fs = std::filesystem;

namespace {

constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-7;
// f16 (11 significant bits) and bf16 (8) cannot meet 1e-3 after more than
// one rounding: their outputs may be 2 units in the last place off.
constexpr double kRtolF16 = 1.0 / 512;
constexpr double kRtolBF16 = 1.0 / 64;

double rtol_for(rma::DType dtype) {
  if (dtype == rma::DType::kF16) return kRtolF16;
  if (dtype == rma::DType::kBF16) return kRtolBF16;
  return kRtol;
}
constexpr double kSlowSeconds = 2.0;

enum class Status { kPass, kFail, kUnsupported };

const char* status_name(Status s) {
  switch (s) {
    case Status::kPass:
      return "pass";
    case Status::kFail:
      return "fail";
    case Status::kUnsupported:
      return "unsupported";
  }
  return "?";
}

struct Result {
  std::string name;
  Status status = Status::kPass;
  std::string reason;      // why it failed or is unsupported
  std::string category;    // unsupported: the short reason the summary counts
  double max_error = 0.0;  // largest |got − want| over float outputs
  double seconds = 0.0;
};

struct Options {
  std::string tests_dir;
  std::string device = "cpu";
  std::string filter;
  std::string json_path;
  std::string expect_pass_path;
  bool quiet = false;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw rma::Error(rma::ErrorCode::kNotFound, path.string() + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

rma::graph::OnnxTensor read_pb(const fs::path& path) {
  const std::string bytes = read_file(path);
  return rma::graph::read_onnx_tensor(bytes.data(), bytes.size(), path.string());
}

// One line, at most `limit` characters, without the test folder's path
// (".../test_abs/model.onnx: x" -> "model.onnx: x").
std::string one_line(std::string s, size_t limit = 400) {
  static const std::regex folder(R"([^ ']*/(model\.onnx|test_data_set_\d+/\w+\.pb))");
  s = std::regex_replace(s, folder, "$1");
  std::replace(s.begin(), s.end(), '\n', ' ');
  if (s.size() > limit) s = s.substr(0, limit - 3) + "...";
  return s;
}

// The short reason an unsupported test is counted under: "op Det",
// "dtype STRING", "opset 22"... else the message without the file and node.
std::string categorize(const std::string& message) {
  std::smatch m;
  static const std::regex op(R"(unsupported op ([\w.]+))");
  static const std::regex dtype(R"(element type ([\w ]+?) is not supported)");
  static const std::regex dtype_node(R"(dtype (\w+)(?: \(ONNX \w+\))? is not supported)");
  static const std::regex cast_to(R"(casting to ([\w ]+?) is not supported)");
  static const std::regex opset(R"(opset (\d+) is not supported)");
  static const std::regex node_prefix(R"(^.*?\((\w+), opset \d+\): )");
  if (std::regex_search(message, m, op)) return "op " + m[1].str();
  if (std::regex_search(message, m, dtype) || std::regex_search(message, m, dtype_node) ||
      std::regex_search(message, m, cast_to))
    return "dtype " + m[1].str();
  if (message.find("depends on the values of graph inputs") != std::string::npos ||
      message.find("must be a constant, but the graph computes it") != std::string::npos ||
      message.find("has an unknown length") != std::string::npos ||
      message.find("axes are not constant") != std::string::npos)
    return "a shape or axes parameter computed from input values";
  static const std::regex not_computed(R"((\w+)'s ([\w ]+?) (?:output is|are) not computed)");
  if (std::regex_search(message, m, not_computed))
    return "output not computed: " + m[1].str() + " " + m[2].str();
  if (std::regex_search(message, m, opset)) return "opset " + m[1].str();
  if (message.find("no opset of the default ONNX domain") != std::string::npos)
    return "domain other than ai.onnx";
  if (std::regex_search(message, m, node_prefix)) {
    // "<OpType>: <what>", with quoted names dropped so equal reasons group.
    static const std::regex quoted(R"('[^']*')");
    return m[1].str() + ": " + one_line(std::regex_replace(m.suffix().str(), quoted, "'…'"), 90);
  }
  return one_line(message, 90);
}

// Elements as doubles (floats and integers alike).
std::vector<double> as_doubles(const rma::Tensor& t) {
  const std::vector<uint8_t> bytes = t.contiguous().to_host_bytes();
  const int64_t n = t.numel();
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* p = bytes.data();
    switch (t.dtype()) {
      case rma::DType::kF32: {
        float v;
        std::memcpy(&v, p + i * 4, 4);
        out[i] = v;
        break;
      }
      case rma::DType::kF16:
      case rma::DType::kBF16: {
        uint16_t v;
        std::memcpy(&v, p + i * 2, 2);
        out[i] = t.dtype() == rma::DType::kF16 ? rma::f16_to_f32(v) : rma::bf16_to_f32(v);
        break;
      }
      case rma::DType::kI8:
        out[i] = static_cast<int8_t>(p[i]);
        break;
      case rma::DType::kBool:
        out[i] = p[i] != 0;
        break;
      case rma::DType::kI32: {
        int32_t v;
        std::memcpy(&v, p + i * 4, 4);
        out[i] = v;
        break;
      }
      case rma::DType::kI64: {
        int64_t v;
        std::memcpy(&v, p + i * 8, 8);
        out[i] = static_cast<double>(v);
        break;
      }
      default:
        throw rma::Error(rma::ErrorCode::kInvalidArgument,
                         "cannot compare " + std::string(rma::name(t.dtype())) + " outputs");
    }
  }
  return out;
}

// Exact 64-bit integers (i64 beyond 2^53 would round as doubles).
std::vector<int64_t> as_ints(const rma::Tensor& t) {
  if (t.dtype() == rma::DType::kI64) return t.contiguous().to_vector<int64_t>();
  std::vector<int64_t> out;
  for (double v : as_doubles(t)) out.push_back(static_cast<int64_t>(v));
  return out;
}

std::string format_value(double v) {
  std::ostringstream ss;
  ss << std::setprecision(7) << v;
  return ss.str();
}

// An empty string when `got` matches `want`; else what differs. Updates
// `max_error` with the largest float difference seen.
std::string compare(const std::string& output, const rma::graph::OnnxTensor& want,
                    const rma::Tensor& got, double& max_error) {
  const rma::Tensor& w = want.tensor;
  if (got.dtype() != w.dtype())
    return "output '" + output + "': dtype " + std::string(rma::name(got.dtype())) + ", expected " +
           std::string(rma::name(w.dtype())) + " (ONNX " + want.onnx_type + ")";
  if (got.shape() != w.shape())
    return "output '" + output + "': shape " + rma::to_string(got.shape()) + ", expected " +
           rma::to_string(w.shape());
  if (!rma::is_float(w.dtype())) {
    const std::vector<int64_t> g = as_ints(got), e = as_ints(w);
    for (size_t i = 0; i < e.size(); ++i)
      if (g[i] != e[i])
        return "output '" + output + "': element " + std::to_string(i) + " is " +
               std::to_string(g[i]) + ", expected " + std::to_string(e[i]);
    return "";
  }
  const std::vector<double> g = as_doubles(got), e = as_doubles(w);
  const double rtol = rtol_for(w.dtype());
  size_t worst = 0;
  double worst_excess = 0.0;
  bool bad = false;
  for (size_t i = 0; i < e.size(); ++i) {
    if (std::isnan(e[i]) && std::isnan(g[i])) continue;
    if (std::isinf(e[i]) || std::isinf(g[i]) || std::isnan(e[i]) || std::isnan(g[i])) {
      if (g[i] == e[i]) continue;
      if (!bad || worst_excess < INFINITY) worst = i;
      bad = true;
      worst_excess = INFINITY;
      max_error = INFINITY;
      continue;
    }
    const double diff = std::fabs(g[i] - e[i]);
    max_error = std::max(max_error, diff);
    const double excess = diff - (kAtol + rtol * std::fabs(e[i]));
    if (excess > 0 && (!bad || excess > worst_excess)) {
      bad = true;
      worst = i;
      worst_excess = excess;
    }
  }
  if (!bad) return "";
  return "output '" + output + "': element " + std::to_string(worst) + " is " +
         format_value(g[worst]) + ", expected " + format_value(e[worst]) + " (max |error| " +
         format_value(max_error) + ")";
}

std::vector<fs::path> data_sets(const fs::path& test_dir) {
  std::vector<fs::path> sets;
  for (const auto& entry : fs::directory_iterator(test_dir))
    if (entry.is_directory() && entry.path().filename().string().rfind("test_data_set_", 0) == 0)
      sets.push_back(entry.path());
  std::sort(sets.begin(), sets.end());
  return sets;
}

std::vector<fs::path> numbered_files(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (int j = 0;; ++j) {
    const fs::path p = dir / (prefix + std::to_string(j) + ".pb");
    if (!fs::exists(p)) break;
    files.push_back(p);
  }
  return files;
}

// Runs every data set of one test folder.
void run_test(const fs::path& test_dir, const Options& options, Result& r) {
  if (fs::exists(test_dir / "unsupported.txt")) {
    std::string what = read_file(test_dir / "unsupported.txt");
    r.status = Status::kUnsupported;
    r.reason = "needs a " + one_line(what);
    r.category = "non-tensor value (" + what.substr(0, what.find(' ')) + ")";
    return;
  }
  rma::SessionOptions so;
  so.device = options.device;
  so.use_cache = false;
  so.strict = false;
  std::optional<rma::Session> session;
  try {
    session.emplace(rma::Session::open((test_dir / "model.onnx").string(), so));
  } catch (const rma::Error& e) {
    r.status = e.code() == rma::ErrorCode::kUnsupported ? Status::kUnsupported : Status::kFail;
    r.reason = one_line(e.what());
    if (r.status == Status::kUnsupported)
      r.category = categorize(e.what());
    else
      r.reason = "open: " + r.reason;
    return;
  }
  const std::vector<fs::path> sets = data_sets(test_dir);
  if (sets.empty()) {
    r.status = Status::kFail;
    r.reason = "no test_data_set_<N> folder";
    return;
  }
  for (const fs::path& set : sets) {
    const std::string set_name = set.filename().string();
    std::map<std::string, rma::Tensor> inputs;
    const std::vector<fs::path> input_files = numbered_files(set, "input_");
    for (size_t j = 0; j < input_files.size(); ++j) {
      rma::graph::OnnxTensor t = read_pb(input_files[j]);
      // Protos without a name are the model's inputs in order.
      std::string name = t.name;
      if (name.empty() && j < session->inputs().size()) name = session->inputs()[j].name;
      inputs[name] = std::move(t.tensor);
    }
    std::map<std::string, rma::Tensor> outputs = session->run(inputs);
    const std::vector<fs::path> output_files = numbered_files(set, "output_");
    for (size_t j = 0; j < output_files.size(); ++j) {
      const rma::graph::OnnxTensor want = read_pb(output_files[j]);
      std::string name = want.name;
      if (name.empty() && j < session->outputs().size()) name = session->outputs()[j].name;
      const auto it = outputs.find(name);
      if (it == outputs.end()) {
        r.status = Status::kFail;
        r.reason = set_name + ": the model computed no output '" + name + "'";
        return;
      }
      const std::string diff = compare(name, want, it->second, r.max_error);
      if (!diff.empty()) {
        r.status = Status::kFail;
        r.reason = set_name + ": " + diff;
        return;
      }
    }
  }
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string json_number(double v) {
  if (std::isnan(v)) return "null";
  if (std::isinf(v)) return "1e999";  // JSON has no infinity; parses as inf in Python
  std::ostringstream ss;
  ss << std::setprecision(6) << v;
  return ss.str();
}

void write_json(const std::string& path, const Options& options, const std::vector<Result>& results,
                const std::map<Status, int>& counts) {
  std::ofstream out(path);
  if (!out) throw rma::Error(rma::ErrorCode::kInvalidArgument, path + ": cannot write");
  out << "{\n  \"device\": \"" << json_escape(options.device) << "\",\n  \"counts\": {";
  out << "\"pass\": " << counts.at(Status::kPass) << ", \"fail\": " << counts.at(Status::kFail)
      << ", \"unsupported\": " << counts.at(Status::kUnsupported) << "},\n  \"tests\": [\n";
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    out << "    {\"name\": \"" << json_escape(r.name) << "\", \"status\": \""
        << status_name(r.status) << "\", \"reason\": \"" << json_escape(r.reason)
        << "\", \"category\": \"" << json_escape(r.category)
        << "\", \"max_error\": " << json_number(r.max_error)
        << ", \"seconds\": " << json_number(r.seconds) << "}"
        << (i + 1 < results.size() ? ",\n" : "\n");
  }
  out << "  ]\n}\n";
}

std::set<std::string> read_expect_pass(const std::string& path) {
  std::set<std::string> names;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    line.erase(0, line.find_first_not_of(" \t"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (!line.empty()) names.insert(line);
  }
  return names;
}

int usage(const std::string& message) {
  std::cerr << "onnx_node_runner: " << message
            << "\nusage: onnx_node_runner --tests DIR [--device D] [--filter SUBSTR] "
               "[--json FILE] [--expect-pass FILE] [--quiet]\n";
  return 2;
}

int run(const Options& options) {
  if (!fs::is_directory(options.tests_dir)) {
    // gen_node_tests.py skipped: no onnx package.
    std::cout << "skipped: no node tests in " << options.tests_dir
              << " (gen_node_tests.py writes them; it needs the onnx package)\n";
    return 77;
  }
  try {
    rma::Runtime::get().device(options.device);
  } catch (const rma::Error& e) {
    std::cout << "skipped: device '" << options.device << "' is not available (" << e.what()
              << ")\n";
    return 77;
  }
  // One "compiled in N ms" line per test is noise here; RM_LOG_LEVEL wins.
  if (!std::getenv("RM_LOG_LEVEL")) rma::log::set_level(rma::log::Level::kWarn);
  std::vector<fs::path> tests;
  for (const auto& entry : fs::directory_iterator(options.tests_dir))
    if (entry.is_directory() &&
        entry.path().filename().string().find(options.filter) != std::string::npos)
      tests.push_back(entry.path());
  std::sort(tests.begin(), tests.end());
  if (tests.empty()) {
    std::cerr << "onnx_node_runner: no test folders in " << options.tests_dir << "\n";
    return 1;
  }

  std::vector<Result> results;
  std::map<Status, int> counts = {
      {Status::kPass, 0}, {Status::kFail, 0}, {Status::kUnsupported, 0}};
  std::map<std::string, int> unsupported_reasons;
  size_t name_width = 0;
  for (const fs::path& t : tests) name_width = std::max(name_width, t.filename().string().size());
  const auto start_all = std::chrono::steady_clock::now();
  for (const fs::path& test : tests) {
    Result r;
    r.name = test.filename().string();
    const auto start = std::chrono::steady_clock::now();
    try {
      run_test(test, options, r);
    } catch (const rma::Error& e) {
      r.status = Status::kFail;
      r.reason = "run: " + one_line(e.what()) +
                 (e.code() == rma::ErrorCode::kUnsupported ? " [kUnsupported after import]" : "");
    } catch (const std::exception& e) {
      r.status = Status::kFail;
      r.reason = "run: " + std::string(typeid(e).name()) + ": " + one_line(e.what());
    } catch (...) {
      r.status = Status::kFail;
      r.reason = "run: an exception that is not a std::exception";
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++counts[r.status];
    if (r.status == Status::kUnsupported) ++unsupported_reasons[r.category];
    if (!options.quiet || r.status == Status::kFail) {
      std::cout << std::left << std::setw(static_cast<int>(name_width) + 2) << r.name
                << std::setw(13) << status_name(r.status);
      if (r.status == Status::kPass)
        std::cout << "max |error| " << format_value(r.max_error);
      else
        std::cout << r.reason;
      std::cout << "\n" << std::flush;
    }
    if (r.seconds > kSlowSeconds)
      std::cout << "  slow: " << r.name << " took " << std::fixed << std::setprecision(1)
                << r.seconds << " s\n"
                << std::defaultfloat;
    results.push_back(std::move(r));
  }
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_all).count();

  std::vector<std::pair<int, std::string>> by_count;
  for (const auto& [reason, n] : unsupported_reasons) by_count.emplace_back(n, reason);
  std::sort(by_count.begin(), by_count.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::cout << "\nunsupported, by reason:\n";
  for (const auto& [n, reason] : by_count)
    std::cout << "  " << std::setw(5) << std::right << n << "  " << reason << "\n" << std::left;

  int exit_status = counts[Status::kFail] > 0 ? 1 : 0;
  if (!options.expect_pass_path.empty()) {
    const std::set<std::string> expected = read_expect_pass(options.expect_pass_path);
    std::set<std::string> seen;
    for (const Result& r : results) {
      if (!expected.count(r.name)) continue;
      seen.insert(r.name);
      if (r.status != Status::kPass) {
        std::cout << "expected to pass: " << r.name << " is " << status_name(r.status) << "\n";
        exit_status = 1;
      }
    }
    for (const std::string& name : expected)
      if (!seen.count(name) && name.find(options.filter) != std::string::npos) {
        std::cout << "expected to pass: " << name << " was not found in " << options.tests_dir
                  << "\n";
        exit_status = 1;
      }
  }
  std::cout << "\n"
            << options.device << ": " << results.size() << " tests, " << counts[Status::kPass]
            << " pass, " << counts[Status::kFail] << " fail, " << counts[Status::kUnsupported]
            << " unsupported (" << std::fixed << std::setprecision(1) << total << " s)\n";
  if (!options.json_path.empty()) write_json(options.json_path, options, results, counts);
  return exit_status;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    try {
      if (arg == "--tests")
        options.tests_dir = value();
      else if (arg == "--device")
        options.device = value();
      else if (arg == "--filter")
        options.filter = value();
      else if (arg == "--json")
        options.json_path = value();
      else if (arg == "--expect-pass")
        options.expect_pass_path = value();
      else if (arg == "--quiet")
        options.quiet = true;
      else
        return usage("unknown argument '" + arg + "'");
    } catch (const std::invalid_argument& e) {
      return usage(e.what());
    }
  }
  if (options.tests_dir.empty()) return usage("--tests is required");
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::cerr << "onnx_node_runner: " << e.what() << "\n";
    return 1;
  }
}
