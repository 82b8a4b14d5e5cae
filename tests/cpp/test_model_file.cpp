// Model files: GGUF reading and writing (every metadata type, every tensor
// dtype, version 2 and 3), corrupt and truncated files, Hugging Face folders
// (single and sharded safetensors, data at any alignment), quantization, the
// llama3 rope scaling recovered from llama.cpp's rope_freqs.weight, and the
// real SmolLM2 file when it is in the model cache.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "llm/model_file_internal.h"
#include "rma/error.h"
#include "rma/half.h"
#include "rma/llm/engine.h"
#include "rma/llm/model_file.h"
#include "rma/log.h"
#include "rma/quant.h"

namespace rma::llm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ------------------------------------------------------------ helpers

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("rma_model_file_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const std::string& path, const void* data, size_t n) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
  ASSERT_TRUE(out.good()) << path;
}
void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_file(path, bytes.data(), bytes.size());
}
void write_text(const std::string& path, const std::string& text) {
  write_file(path, text.data(), text.size());
}
std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs `fn`, expecting an rma::Error whose message contains every part.
template <class F>
void expect_error(F&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    std::string all;
    for (const std::string& p : parts) all += " '" + p + "'";
    ADD_FAILURE() << "no error; expected one mentioning" << all;
  } catch (const Error& e) {
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message: " << e.what() << "\nexpected to contain: " << p;
  }
}

// Little-endian bytes, for GGUF files written by hand.
struct Bytes {
  std::vector<uint8_t> b;
  template <class T>
  Bytes& put(T v) {
    const size_t at = b.size();
    b.resize(at + sizeof(T));
    std::memcpy(b.data() + at, &v, sizeof(T));
    return *this;
  }
  Bytes& raw(const std::string& s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    return raw(s);
  }
  Bytes& pad_to(size_t align) {
    b.resize((b.size() + align - 1) / align * align, 0);
    return *this;
  }
  size_t size() const { return b.size(); }
  template <class T>
  void poke(size_t at, T v) {
    std::memcpy(b.data() + at, &v, sizeof(T));
  }
};

bool same_value(const MetaValue& a, const MetaValue& b) {
  if (a.type != b.type) return false;
  if (a.type == kGgufArray) {
    if (a.elem_type != b.elem_type) return false;
    const auto& x = std::get<std::vector<MetaValue>>(a.value);
    const auto& y = std::get<std::vector<MetaValue>>(b.value);
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (!same_value(x[i], y[i])) return false;
    return true;
  }
  if (a.value.index() != b.value.index()) return false;
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::vector<MetaValue>>) {
          return false;  // arrays are compared above
        } else {
          return x == std::get<T>(b.value);
        }
      },
      a.value);
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (uint8_t& x : v) x = static_cast<uint8_t>(rng());
  return v;
}

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 0.5f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

std::vector<float> dequantize(const TensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(numel(t.shape)));
  const int64_t row = t.shape.back(), rows = numel(t.shape) / row;
  const auto row_bytes = static_cast<size_t>(bytes_for(t.dtype, row));
  for (int64_t r = 0; r < rows; ++r)
    dequantize_row(t.dtype, t.data + r * row_bytes, out.data() + r * row, row);
  return out;
}

// Every metadata value type, including nested arrays.
Metadata all_types_metadata() {
  Metadata md;
  md.set("general.architecture", meta_string("llama"));
  md.set("t.u8", {kGgufU8, -1, uint64_t{200}});
  md.set("t.i8", {kGgufI8, -1, int64_t{-100}});
  md.set("t.u16", {kGgufU16, -1, uint64_t{60000}});
  md.set("t.i16", {kGgufI16, -1, int64_t{-30000}});
  md.set("t.u32", meta_u32(4000000000u));
  md.set("t.i32", meta_i32(-2000000000));
  md.set("t.u64", {kGgufU64, -1, uint64_t{1} << 63});
  md.set("t.i64", {kGgufI64, -1, int64_t{-(int64_t{1} << 62)}});
  md.set("t.f32", meta_f32(0.15625f));
  md.set("t.f64", {kGgufF64, -1, 3.141592653589793});
  md.set("t.bool", meta_bool(true));
  md.set("t.string", meta_string("héllo, wörld"));
  md.set("t.empty_string", meta_string(""));
  md.set("t.strings", meta_string_array({"a", "", "ccc"}));
  md.set("t.ints", meta_i32_array({1, -2, 3}));
  md.set("t.floats", meta_f32_array({0.5f, -1.25f}));
  md.set("t.empty_array", {kGgufArray, kGgufU32, std::vector<MetaValue>{}});
  md.set("t.nested", {kGgufArray, kGgufArray,
                      std::vector<MetaValue>{meta_i32_array({1, 2}), meta_i32_array({3})}});
  return md;
}

// One tensor of every dtype the reader maps, 1-D to 4-D.
std::vector<TensorToWrite> all_dtype_tensors() {
  struct Spec {
    const char* name;
    DType dtype;
    Shape shape;
  };
  const Spec specs[] = {
      {"a.f32", DType::kF32, {2, 4}},     {"b.f16", DType::kF16, {3, 8}},
      {"c.bf16", DType::kBF16, {5}},      {"d.q8_0", DType::kQ8_0, {2, 64}},
      {"e.q4_0", DType::kQ4_0, {1, 32}},  {"f.q4_1", DType::kQ4_1, {2, 32}},
      {"g.q4_k", DType::kQ4_K, {1, 256}}, {"h.q5_k", DType::kQ5_K, {256}},
      {"i.q6_k", DType::kQ6_K, {2, 256}}, {"j.f32_4d", DType::kF32, {2, 3, 1, 8}},
  };
  std::vector<TensorToWrite> tensors;
  uint32_t seed = 1;
  for (const Spec& s : specs) {
    TensorToWrite t;
    t.name = s.name;
    t.dtype = s.dtype;
    t.shape = s.shape;
    t.bytes = random_bytes(static_cast<size_t>(bytes_for(s.dtype, numel(s.shape))), seed++);
    tensors.push_back(std::move(t));
  }
  return tensors;
}

// ------------------------------------------------------------ GGUF round trip

TEST(ModelFileGguf, WriteThenReadEveryMetadataTypeAndDtype) {
  TempDir dir;
  const std::string path = dir.file("all.gguf");
  const Metadata md = all_types_metadata();
  const std::vector<TensorToWrite> tensors = all_dtype_tensors();
  write_gguf(path, md, tensors);
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  const auto model = ModelFile::open(path);
  EXPECT_EQ(model->format(), "gguf");
  EXPECT_EQ(model->path(), path);
  ASSERT_EQ(model->metadata().all().size(), md.all().size());
  for (const auto& [key, value] : md.all()) {
    const MetaValue* got = model->metadata().find(key);
    ASSERT_NE(got, nullptr) << key;
    EXPECT_TRUE(same_value(*got, value)) << key;
  }
  ASSERT_EQ(model->tensors().size(), tensors.size());
  uint64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = model->tensors()[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.name, tensors[i].name);
    EXPECT_EQ(t.dtype, tensors[i].dtype);
    EXPECT_EQ(t.shape, tensors[i].shape);
    ASSERT_EQ(t.nbytes, tensors[i].bytes.size());
    EXPECT_EQ(std::memcmp(t.data, tensors[i].bytes.data(), t.nbytes), 0);
    EXPECT_EQ(t.file, path);
    EXPECT_EQ(t.file_offset % 32, 0u);
    EXPECT_EQ(model->find(t.name), &t);
    total += t.nbytes;
  }
  EXPECT_EQ(model->total_tensor_bytes(), total);
  expect_error([&] { model->get("nope.weight"); }, {path, "nope.weight"});
  expect_error([&] { model->tokenizer(); }, {path, "no tokenizer"});
}

TEST(ModelFileGguf, BorrowedTensorBytesAndRewrite) {
  TempDir dir;
  const std::vector<TensorToWrite> owned = all_dtype_tensors();
  write_gguf(dir.file("a.gguf"), all_types_metadata(), owned);
  // Rewriting a file from its own mapping (borrowed data) is byte-identical.
  const auto model = ModelFile::open(dir.file("a.gguf"));
  std::vector<TensorToWrite> borrowed;
  for (const TensorInfo& t : model->tensors()) {
    TensorToWrite w;
    w.name = t.name;
    w.dtype = t.dtype;
    w.shape = t.shape;
    w.data = t.data;
    w.nbytes = t.nbytes;
    borrowed.push_back(std::move(w));
  }
  write_gguf(dir.file("b.gguf"), model->metadata(), borrowed);
  EXPECT_EQ(read_file(dir.file("a.gguf")), read_file(dir.file("b.gguf")));
}

TEST(ModelFileGguf, ReadsVersion2WithCustomAlignment) {
  TempDir dir;
  Bytes b;
  b.raw("GGUF").put<uint32_t>(2).put<uint64_t>(1).put<uint64_t>(3);
  b.str("general.architecture").put<uint32_t>(kGgufString).str("llama");
  b.str("general.alignment").put<uint32_t>(kGgufU32).put<uint32_t>(64);
  b.str("flag").put<uint32_t>(kGgufBool).put<uint8_t>(1);
  b.str("w").put<uint32_t>(2).put<uint64_t>(32).put<uint64_t>(2).put<uint32_t>(0).put<uint64_t>(0);
  b.pad_to(64);
  const size_t data_at = b.size();
  for (int i = 0; i < 64; ++i) b.put<float>(static_cast<float>(i) * 0.25f);
  const std::string path = dir.file("v2.gguf");
  write_file(path, b.b);

  const auto model = ModelFile::open(path);
  EXPECT_EQ(model->metadata().get_string("general.architecture"), "llama");
  EXPECT_EQ(model->metadata().get_int("general.alignment"), 64);
  EXPECT_TRUE(model->metadata().get_bool_or("flag", false));
  const TensorInfo& w = model->get("w");
  EXPECT_EQ(w.shape, (Shape{2, 32}));  // ne = [32, 2], innermost first
  EXPECT_EQ(w.dtype, DType::kF32);
  EXPECT_EQ(w.file_offset, data_at);
  EXPECT_EQ(w.file_offset % 64, 0u);
  float last;
  std::memcpy(&last, w.data + 63 * 4, 4);
  EXPECT_EQ(last, 63 * 0.25f);

  // The writer always uses the default alignment and drops the key.
  write_gguf(dir.file("v3.gguf"), model->metadata(),
             {{"w", DType::kF32, {2, 32}, {}, w.data, w.nbytes}});
  const auto again = ModelFile::open(dir.file("v3.gguf"));
  EXPECT_FALSE(again->metadata().has("general.alignment"));
  EXPECT_EQ(std::memcmp(again->get("w").data, w.data, w.nbytes), 0);
}

// ------------------------------------------------------------ corrupt files

// A small file with strings, arrays and two tensors; every prefix of it is
// an error naming the file and an offset, until all tensor data is present.
TEST(ModelFileGguf, EveryTruncationIsAnErrorWithFileAndOffset) {
  TempDir dir;
  Metadata md;
  md.set("general.architecture", meta_string("llama"));
  md.set("general.name", meta_string("tiny"));
  md.set("x.strings", meta_string_array({"ab", "cde"}));
  md.set("x.ints", meta_i32_array({1, 2, 3}));
  md.set("x.nested", {kGgufArray, kGgufArray, std::vector<MetaValue>{meta_i32_array({7})}});
  md.set("x.f64", {kGgufF64, -1, 2.5});
  md.set("x.bool", meta_bool(false));
  std::vector<TensorToWrite> tensors(2);
  tensors[0] = {"a", DType::kF32, {2, 32}, random_bytes(256, 1), nullptr, 0};
  tensors[1] = {"b", DType::kQ8_0, {1, 32}, random_bytes(34, 2), nullptr, 0};
  const std::string full_path = dir.file("full.gguf");
  write_gguf(full_path, md, tensors);
  const std::vector<uint8_t> full = read_file(full_path);
  const auto model = ModelFile::open(full_path);
  uint64_t data_end = 0;
  for (const TensorInfo& t : model->tensors())
    data_end = std::max(data_end, t.file_offset + t.nbytes);

  const std::string path = dir.file("cut.gguf");
  for (size_t len = 0; len < full.size(); ++len) {
    fs::remove(path);  // a fresh file: ext4 flushes files truncated and rewritten on close
    write_file(path, full.data(), len);
    SCOPED_TRACE("length " + std::to_string(len));
    if (len >= data_end) {  // only trailing padding is missing
      EXPECT_NO_THROW(ModelFile::open(path));
      continue;
    }
    if (len < 4) {  // too short for the magic: ModelFile::open cannot tell the format
      expect_error([&] { ModelFile::open(path); }, {path, "offset 0"});
      continue;
    }
    expect_error([&] { ModelFile::open(path); }, {path, ": offset "});
  }
}

// The tiny file the corruption tests edit: one string pair, one f32 tensor
// [2, 32]; the offsets of its fields are recorded.
struct TinyGguf {
  Bytes bytes;
  size_t key_at = 0, value_type_at = 0, value_len_at = 0, name_at = 0, ndims_at = 0, dim0_at = 0,
         type_at = 0, offset_at = 0;
};

TinyGguf tiny_gguf() {
  TinyGguf t;
  Bytes& b = t.bytes;
  b.raw("GGUF").put<uint32_t>(3).put<uint64_t>(1).put<uint64_t>(1);
  t.key_at = b.size();
  b.str("general.name");
  t.value_type_at = b.size();
  b.put<uint32_t>(kGgufString);
  t.value_len_at = b.size();
  b.str("tiny");
  t.name_at = b.size();
  b.str("w");
  t.ndims_at = b.size();
  b.put<uint32_t>(2);
  t.dim0_at = b.size();
  b.put<uint64_t>(32).put<uint64_t>(2);
  t.type_at = b.size();
  b.put<uint32_t>(0);
  t.offset_at = b.size();
  b.put<uint64_t>(0);
  b.pad_to(32);
  for (int i = 0; i < 64; ++i) b.put<float>(static_cast<float>(i));
  return t;
}

class ModelFileCorrupt : public ::testing::Test {
 protected:
  void expect_open_error(const Bytes& b, const std::vector<std::string>& parts) {
    const std::string path = dir_.file("bad.gguf");
    write_file(path, b.b);
    std::vector<std::string> all = {path + ": offset "};
    all.insert(all.end(), parts.begin(), parts.end());
    expect_error([&] { ModelFile::open(path); }, all);
  }
  TempDir dir_;
};

TEST_F(ModelFileCorrupt, TheTinyFileIsValid) {
  const std::string path = dir_.file("tiny.gguf");
  write_file(path, tiny_gguf().bytes.b);
  EXPECT_EQ(ModelFile::open(path)->get("w").shape, (Shape{2, 32}));
}

TEST_F(ModelFileCorrupt, HeaderFields) {
  TinyGguf t = tiny_gguf();
  t.bytes.poke<char>(0, 'X');
  expect_open_error(t.bytes, {"offset 0", "GGUF"});

  t = tiny_gguf();
  t.bytes.poke<uint32_t>(4, 1);
  expect_open_error(t.bytes, {"offset 4", "version 1"});
  t.bytes.poke<uint32_t>(4, 0x03000000u);
  expect_open_error(t.bytes, {"offset 4", "big-endian"});
  t.bytes.poke<uint32_t>(4, 7);
  expect_open_error(t.bytes, {"offset 4", "version 2 or 3, found 7"});

  // Absurd counts are bounded by the bytes left, before any allocation.
  t = tiny_gguf();
  t.bytes.poke<uint64_t>(8, uint64_t{1} << 62);
  expect_open_error(t.bytes, {"offset 8", "tensor count", std::to_string(uint64_t{1} << 62)});
  t = tiny_gguf();
  t.bytes.poke<uint64_t>(16, ~uint64_t{0});
  expect_open_error(t.bytes, {"offset 16", "metadata count"});
}

TEST_F(ModelFileCorrupt, MetadataFields) {
  TinyGguf t = tiny_gguf();
  t.bytes.poke<uint64_t>(t.key_at, uint64_t{1} << 40);
  expect_open_error(t.bytes, {"offset " + std::to_string(t.key_at), "length 1099511627776"});

  t = tiny_gguf();
  t.bytes.poke<uint64_t>(t.value_len_at, 1000);
  expect_open_error(t.bytes,
                    {"offset " + std::to_string(t.value_len_at), "general.name", "length 1000"});

  t = tiny_gguf();
  t.bytes.poke<uint32_t>(t.value_type_at, 13);
  expect_open_error(t.bytes, {"offset " + std::to_string(t.value_type_at), "0 to 12, found 13"});

  // A bool that is neither 0 nor 1; an array longer than the file.
  Bytes b;
  b.raw("GGUF").put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1);
  b.str("flag").put<uint32_t>(kGgufBool).put<uint8_t>(2);
  expect_open_error(b, {"offset 40", "'flag'", "0 or 1"});
  Bytes a;
  a.raw("GGUF").put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1);
  a.str("arr").put<uint32_t>(kGgufArray).put<uint32_t>(kGgufU32).put<uint64_t>(uint64_t{1} << 60);
  a.put<uint32_t>(5);
  expect_open_error(a, {"'arr'", "array length of at most 1"});

  // Duplicate keys; arrays nested absurdly deep.
  Bytes d;
  d.raw("GGUF").put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(2);
  d.str("k").put<uint32_t>(kGgufU8).put<uint8_t>(1);
  d.str("k").put<uint32_t>(kGgufU8).put<uint8_t>(2);
  expect_open_error(d, {"duplicate key 'k'"});
  Bytes n;
  n.raw("GGUF").put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1);
  n.str("deep").put<uint32_t>(kGgufArray);
  for (int i = 0; i < 100; ++i) n.put<uint32_t>(kGgufArray).put<uint64_t>(1);
  n.put<uint32_t>(kGgufU8).put<uint64_t>(0);
  expect_open_error(n, {"nested deeper"});

  // general.alignment must be a power of two.
  Bytes g;
  g.raw("GGUF").put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1);
  g.str("general.alignment").put<uint32_t>(kGgufU32).put<uint32_t>(48);
  expect_open_error(g, {"general.alignment", "power of two", "48"});
}

TEST_F(ModelFileCorrupt, TensorInfos) {
  TinyGguf t = tiny_gguf();
  t.bytes.poke<uint32_t>(t.ndims_at, 5);
  expect_open_error(t.bytes, {"offset " + std::to_string(t.ndims_at), "tensor 'w'",
                              "1 to 4 dimensions, found 5"});

  t = tiny_gguf();
  t.bytes.poke<uint64_t>(t.dim0_at, 0);
  expect_open_error(t.bytes, {"tensor 'w'", "positive size, found 0"});

  t = tiny_gguf();
  t.bytes.poke<uint64_t>(t.dim0_at, uint64_t{1} << 40);
  t.bytes.poke<uint64_t>(t.dim0_at + 8, uint64_t{1} << 40);
  expect_open_error(t.bytes, {"tensor 'w'", "overflows"});

  t = tiny_gguf();
  t.bytes.poke<uint64_t>(t.dim0_at, uint64_t{1} << 40);
  expect_open_error(t.bytes, {"offset " + std::to_string(t.offset_at), "tensor 'w'",
                              "runs past the end of the file"});

  t = tiny_gguf();  // q8_0 rows are whole 32-element blocks
  t.bytes.poke<uint32_t>(t.type_at, 8);
  t.bytes.poke<uint64_t>(t.dim0_at, 33);
  expect_open_error(t.bytes, {"tensor 'w'", "multiple of 32", "33"});

  t = tiny_gguf();
  t.bytes.poke<uint32_t>(t.type_at, 6);
  expect_open_error(t.bytes,
                    {"offset " + std::to_string(t.type_at), "tensor 'w'",
                     "tensor type 6 (q5_0) is not supported", "supported: f32, f16, bf16"});
  t.bytes.poke<uint32_t>(t.type_at, 999);
  expect_open_error(t.bytes, {"tensor type 999 (unknown)"});

  t = tiny_gguf();
  t.bytes.poke<uint64_t>(t.offset_at, 4);
  expect_open_error(
      t.bytes, {"offset " + std::to_string(t.offset_at), "not a multiple of the alignment 32"});

  t = tiny_gguf();
  t.bytes.poke<uint64_t>(t.offset_at, ~uint64_t{0} - 31);  // aligned, but start + size overflows
  expect_open_error(t.bytes, {"runs past the end of the file"});

  t = tiny_gguf();
  t.bytes.poke<uint64_t>(t.name_at, 1u << 20);
  expect_open_error(t.bytes, {"offset " + std::to_string(t.name_at), "tensor name", "length"});
}

TEST_F(ModelFileCorrupt, OverlappingAndDuplicateTensors) {
  Bytes b;
  b.raw("GGUF").put<uint32_t>(3).put<uint64_t>(2).put<uint64_t>(0);
  b.str("a").put<uint32_t>(1).put<uint64_t>(32).put<uint32_t>(0).put<uint64_t>(0);
  b.str("b").put<uint32_t>(1).put<uint64_t>(32).put<uint32_t>(0).put<uint64_t>(128);
  b.pad_to(32);
  b.b.resize(b.size() + 256, 0);
  const std::string path = dir_.file("ok.gguf");
  write_file(path, b.b);
  EXPECT_NO_THROW(ModelFile::open(path));

  Bytes o;  // "b" starts inside "a", which covers [0, 128) of the data
  o.raw("GGUF").put<uint32_t>(3).put<uint64_t>(2).put<uint64_t>(0);
  o.str("a").put<uint32_t>(1).put<uint64_t>(32).put<uint32_t>(0).put<uint64_t>(0);
  o.str("b").put<uint32_t>(1).put<uint64_t>(32).put<uint32_t>(0).put<uint64_t>(64);
  o.pad_to(32);
  o.b.resize(o.size() + 256, 0);
  expect_open_error(o, {"tensor 'b'", "overlaps tensor 'a'"});

  Bytes d;
  d.raw("GGUF").put<uint32_t>(3).put<uint64_t>(2).put<uint64_t>(0);
  d.str("a").put<uint32_t>(1).put<uint64_t>(32).put<uint32_t>(0).put<uint64_t>(0);
  d.str("a").put<uint32_t>(1).put<uint64_t>(32).put<uint32_t>(0).put<uint64_t>(128);
  d.pad_to(32);
  d.b.resize(d.size() + 256, 0);
  expect_open_error(d, {"duplicate tensor name 'a'"});
}

TEST_F(ModelFileCorrupt, NotAModel) {
  const std::string empty = dir_.file("empty.gguf");
  write_file(empty, nullptr, 0);
  expect_error([&] { ModelFile::open(empty); }, {empty, "offset 0", "empty file"});
  const std::string text = dir_.file("text.bin");
  write_text(text, "hello world");
  expect_error([&] { ModelFile::open(text); }, {text, "offset 0", "'hell'"});
  expect_error([&] { ModelFile::open(dir_.file("missing.gguf")); },
               {"missing.gguf", "no such file"});
  // A folder without config.json.
  expect_error([&] { ModelFile::open(dir_.path().string()); }, {"no config.json"});
}

// ------------------------------------------------------------ metadata getters

TEST(ModelFileMetadata, TypedGettersAndErrors) {
  const Metadata md = all_types_metadata();
  EXPECT_EQ(md.get_int("t.u8"), 200);
  EXPECT_EQ(md.get_int("t.i64"), -(int64_t{1} << 62));
  EXPECT_EQ(md.get_int_or("t.missing", 7), 7);
  EXPECT_DOUBLE_EQ(md.get_float("t.f32"), 0.15625);
  EXPECT_DOUBLE_EQ(md.get_float("t.u32"), 4000000000.0);  // integers read as numbers
  EXPECT_EQ(md.get_float_or("t.missing", 1.5), 1.5);
  EXPECT_TRUE(md.get_bool_or("t.bool", false));
  EXPECT_EQ(md.get_string("t.string"), "héllo, wörld");
  EXPECT_EQ(md.get_string_or("t.missing", "x"), "x");
  EXPECT_EQ(md.get_string_array("t.strings"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(md.get_int_array("t.ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(md.get_float_array("t.floats"), (std::vector<double>{0.5, -1.25}));
  EXPECT_EQ(md.get_float_array("t.ints"), (std::vector<double>{1, -2, 3}));
  EXPECT_TRUE(md.get_int_array("t.empty_array").empty());

  expect_error([&] { md.get_int("t.missing"); }, {"'t.missing'", "missing"});
  expect_error([&] { md.get_int("t.string"); }, {"'t.string'", "integer", "string"});
  expect_error([&] { md.get_int("t.u64"); }, {"'t.u64'", "out of range"});
  expect_error([&] { md.get_string("t.u8"); }, {"'t.u8'", "a string", "u8"});
  expect_error([&] { md.get_bool_or("t.u8", false); }, {"'t.u8'", "bool"});
  expect_error([&] { md.get_string_array("t.ints"); }, {"'t.ints'", "array of i32"});
  expect_error([&] { md.get_int_array("t.strings"); }, {"'t.strings'", "integers"});
  expect_error([&] { md.get_float("t.strings"); }, {"'t.strings'", "number"});
}

// ------------------------------------------------------------ writer errors

TEST(ModelFileWriter, ErrorsLeaveAnExistingFileIntact) {
  TempDir dir;
  const std::string path = dir.file("model.gguf");
  write_text(path, "precious");
  Metadata md;
  md.set("general.architecture", meta_string("llama"));

  // Wrong byte count for the shape.
  expect_error(
      [&] {
        write_gguf(path, md, {{"w", DType::kF32, {4}, {1, 2, 3}, nullptr, 0}});
      },
      {path, "tensor 'w'", "takes 16 bytes, got 3"});
  // A dtype GGUF has no type for; a row that is not whole blocks; duplicates.
  expect_error(
      [&] {
        write_gguf(path, md, {{"w", DType::kI32, {4}, std::vector<uint8_t>(16), nullptr, 0}});
      },
      {path, "tensor 'w'", "i32", "no GGUF tensor type"});
  expect_error(
      [&] {
        write_gguf(path, md, {{"w", DType::kQ8_0, {1, 16}, std::vector<uint8_t>(17), nullptr, 0}});
      },
      {path, "multiple of 32"});
  expect_error(
      [&] {
        write_gguf(path, md,
                   {{"w", DType::kF32, {1}, std::vector<uint8_t>(4), nullptr, 0},
                    {"w", DType::kF32, {1}, std::vector<uint8_t>(4), nullptr, 0}});
      },
      {"tensor 'w' is listed twice"});
  // A value that does not fit its declared type.
  Metadata bad = md;
  bad.set("k", {kGgufU8, -1, uint64_t{300}});
  expect_error([&] { write_gguf(path, bad, {}); }, {path, "'k'", "300", "u8"});
  bad = md;
  bad.set("k", {kGgufString, -1, uint64_t{3}});
  expect_error([&] { write_gguf(path, bad, {}); }, {"'k'", "expected a string"});

  EXPECT_EQ(read_file(path), std::vector<uint8_t>({'p', 'r', 'e', 'c', 'i', 'o', 'u', 's'}));
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  // An unwritable destination names the path.
  const std::string nowhere = dir.file("no/such/folder/model.gguf");
  expect_error([&] { write_gguf(nowhere, md, {}); }, {nowhere, "cannot create"});
}

// ------------------------------------------------------------ tiny Llama-family models

struct HfTensor {
  std::string name;   // HF name
  std::string dtype;  // F32, F16, BF16
  Shape shape;
  std::vector<float> values;  // exactly what the file holds
  std::vector<uint8_t> bytes;
};

HfTensor hf_tensor(const std::string& name, const std::string& dtype, const Shape& shape,
                   uint32_t seed, float mean = 0.f) {
  HfTensor t{name, dtype, shape, random_floats(static_cast<size_t>(numel(shape)), seed), {}};
  for (float& v : t.values) {
    v += mean;
    if (dtype == "F32") {
      t.bytes.resize(t.bytes.size() + 4);
      std::memcpy(t.bytes.data() + t.bytes.size() - 4, &v, 4);
      continue;
    }
    const uint16_t h = dtype == "F16" ? f32_to_f16(v) : f32_to_bf16(v);
    v = dtype == "F16" ? f16_to_f32(h) : bf16_to_f32(h);
    t.bytes.push_back(static_cast<uint8_t>(h & 0xff));
    t.bytes.push_back(static_cast<uint8_t>(h >> 8));
  }
  return t;
}

// `misalign` extra header bytes put the data that many bytes past the usual
// 8-byte boundary (the format allows any header length).
void write_safetensors(const std::string& path, const std::vector<const HfTensor*>& tensors,
                       size_t misalign = 0) {
  json header = json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const HfTensor* t : tensors) {
    header[t->name] = {{"dtype", t->dtype},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + t->bytes.size()}}};
    offset += t->bytes.size();
  }
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8 + misalign, ' ');  // as the safetensors library pads
  Bytes b;
  b.put<uint64_t>(text.size()).raw(text);
  for (const HfTensor* t : tensors) b.b.insert(b.b.end(), t->bytes.begin(), t->bytes.end());
  write_file(path, b.b);
}

struct TinyModel {
  std::string arch = "llama";
  int n_layer = 2, hidden = 64, n_head = 4, n_kv_head = 2, head_dim = 16, ffn = 128, vocab = 96;
  bool tie = true;
  bool bias = false;
  json config;
  std::vector<HfTensor> tensors;

  const HfTensor& hf(const std::string& name) const {
    for (const HfTensor& t : tensors)
      if (t.name == name) return t;
    throw std::runtime_error("no tensor " + name);
  }
};

TinyModel tiny_model(const std::string& arch, bool tie, bool bias) {
  TinyModel m;
  m.arch = arch;
  m.tie = tie;
  m.bias = bias;
  static const std::map<std::string, std::string> kClasses = {{"llama", "LlamaForCausalLM"},
                                                              {"qwen2", "Qwen2ForCausalLM"},
                                                              {"mistral", "MistralForCausalLM"}};
  m.config = {{"architectures", json::array({kClasses.at(arch)})},
              {"model_type", arch},
              {"hidden_size", m.hidden},
              {"intermediate_size", m.ffn},
              {"num_hidden_layers", m.n_layer},
              {"num_attention_heads", m.n_head},
              {"num_key_value_heads", m.n_kv_head},
              {"max_position_embeddings", 2048},
              {"vocab_size", m.vocab},
              {"rms_norm_eps", 1e-6},
              {"rope_theta", 500000.0},
              {"tie_word_embeddings", tie},
              {"torch_dtype", "bfloat16"}};
  uint32_t seed = 100;
  const int64_t q = int64_t{m.n_head} * m.head_dim, kv = int64_t{m.n_kv_head} * m.head_dim;
  m.tensors.push_back(hf_tensor("model.embed_tokens.weight", "BF16", {m.vocab, m.hidden}, seed++));
  for (int l = 0; l < m.n_layer; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    m.tensors.push_back(hf_tensor(p + "input_layernorm.weight", "F32", {m.hidden}, seed++, 1.f));
    m.tensors.push_back(hf_tensor(p + "self_attn.q_proj.weight", "BF16", {q, m.hidden}, seed++));
    m.tensors.push_back(hf_tensor(p + "self_attn.k_proj.weight", "F16", {kv, m.hidden}, seed++));
    m.tensors.push_back(hf_tensor(p + "self_attn.v_proj.weight", "F32", {kv, m.hidden}, seed++));
    if (bias) {
      m.tensors.push_back(hf_tensor(p + "self_attn.q_proj.bias", "F32", {q}, seed++));
      m.tensors.push_back(hf_tensor(p + "self_attn.k_proj.bias", "F32", {kv}, seed++));
      m.tensors.push_back(hf_tensor(p + "self_attn.v_proj.bias", "F32", {kv}, seed++));
    }
    m.tensors.push_back(hf_tensor(p + "self_attn.o_proj.weight", "BF16", {m.hidden, q}, seed++));
    m.tensors.push_back(
        hf_tensor(p + "post_attention_layernorm.weight", "F32", {m.hidden}, seed++, 1.f));
    m.tensors.push_back(hf_tensor(p + "mlp.gate_proj.weight", "BF16", {m.ffn, m.hidden}, seed++));
    m.tensors.push_back(hf_tensor(p + "mlp.up_proj.weight", "BF16", {m.ffn, m.hidden}, seed++));
    m.tensors.push_back(hf_tensor(p + "mlp.down_proj.weight", "BF16", {m.hidden, m.ffn}, seed++));
  }
  m.tensors.push_back(hf_tensor("model.norm.weight", "F32", {m.hidden}, seed++, 1.f));
  if (!tie) m.tensors.push_back(hf_tensor("lm_head.weight", "BF16", {m.vocab, m.hidden}, seed++));
  return m;
}

// Writes `m` into `folder`: one model.safetensors, or `shards` files with an index.
void write_hf_folder(const TinyModel& m, const fs::path& folder, int shards = 1) {
  fs::create_directories(folder);
  write_text((folder / "config.json").string(), m.config.dump(2));
  if (shards == 1) {
    std::vector<const HfTensor*> all;
    for (const HfTensor& t : m.tensors) all.push_back(&t);
    write_safetensors((folder / "model.safetensors").string(), all);
    return;
  }
  json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", json::object()}};
  std::vector<std::vector<const HfTensor*>> parts(static_cast<size_t>(shards));
  for (size_t i = 0; i < m.tensors.size(); ++i) parts[i % parts.size()].push_back(&m.tensors[i]);
  for (int s = 0; s < shards; ++s) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05d-of-%05d.safetensors", s + 1, shards);
    write_safetensors((folder / name).string(), parts[static_cast<size_t>(s)]);
    for (const HfTensor* t : parts[static_cast<size_t>(s)]) index["weight_map"][t->name] = name;
  }
  write_text((folder / "model.safetensors.index.json").string(), index.dump(2));
}

void expect_tiny_model(const ModelFile& model, const TinyModel& m) {
  EXPECT_EQ(model.format(), "hf");
  const ModelConfig c = model.config();
  EXPECT_EQ(c.architecture, m.arch);
  EXPECT_EQ(c.n_layer, m.n_layer);
  EXPECT_EQ(c.hidden, m.hidden);
  EXPECT_EQ(c.n_head, m.n_head);
  EXPECT_EQ(c.n_kv_head, m.n_kv_head);
  EXPECT_EQ(c.head_dim, m.head_dim);
  EXPECT_EQ(c.ffn, m.ffn);
  EXPECT_EQ(c.vocab, m.vocab);
  EXPECT_EQ(c.context_length, 2048);
  EXPECT_FLOAT_EQ(c.rms_eps, 1e-6f);
  EXPECT_FLOAT_EQ(c.rope_theta, 500000.f);
  EXPECT_EQ(c.rope_style, RMA_ROPE_NEOX);  // HF checkpoints rotate halves
  EXPECT_EQ(c.tie_embeddings, m.tie);
  EXPECT_EQ(c.qkv_bias, m.bias);
  EXPECT_EQ(model.tensors().size(), m.tensors.size());
  EXPECT_EQ(model.tensors().front().name, "token_embd.weight");  // GGUF order

  const std::pair<std::string, std::string> names[] = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"model.layers.1.input_layernorm.weight", "blk.1.attn_norm.weight"},
      {"model.layers.1.post_attention_layernorm.weight", "blk.1.ffn_norm.weight"},
      {"model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight"},
      {"model.layers.0.self_attn.k_proj.weight", "blk.0.attn_k.weight"},
      {"model.layers.0.self_attn.v_proj.weight", "blk.0.attn_v.weight"},
      {"model.layers.0.self_attn.o_proj.weight", "blk.0.attn_output.weight"},
      {"model.layers.1.mlp.gate_proj.weight", "blk.1.ffn_gate.weight"},
      {"model.layers.1.mlp.up_proj.weight", "blk.1.ffn_up.weight"},
      {"model.layers.1.mlp.down_proj.weight", "blk.1.ffn_down.weight"},
  };
  for (const auto& [hf, gguf] : names) {
    SCOPED_TRACE(gguf);
    const HfTensor& src = m.hf(hf);
    const TensorInfo& t = model.get(gguf);
    EXPECT_EQ(t.shape, src.shape);
    EXPECT_EQ(std::string(name(t.dtype)), src.dtype == "F32"   ? "f32"
                                          : src.dtype == "F16" ? "f16"
                                                               : "bf16");
    ASSERT_EQ(t.nbytes, src.bytes.size());
    EXPECT_EQ(std::memcmp(t.data, src.bytes.data(), t.nbytes), 0);
  }
  EXPECT_EQ(model.find("output.weight") != nullptr, !m.tie);
  EXPECT_EQ(model.find("blk.1.attn_v.bias") != nullptr, m.bias);
}

TEST(ModelFileHf, SingleFileFolder) {
  TempDir dir;
  const TinyModel m = tiny_model("llama", /*tie=*/true, /*bias=*/false);
  write_hf_folder(m, dir.path() / "tiny-llama");
  const auto model = ModelFile::open((dir.path() / "tiny-llama").string());
  expect_tiny_model(*model, m);
  EXPECT_EQ(model->config().name, "tiny-llama");
  EXPECT_EQ(model->metadata().get_string("general.architecture"), "llama");
  EXPECT_EQ(model->metadata().get_int("llama.block_count"), 2);
  EXPECT_EQ(model->metadata().get_int("llama.vocab_size"), 96);
  expect_error([&] { model->tokenizer(); }, {"tiny-llama", "no tokenizer.json"});
}

TEST(ModelFileHf, ShardedFolderReadsTheSame) {
  TempDir dir;
  const TinyModel m = tiny_model("qwen2", /*tie=*/false, /*bias=*/true);
  write_hf_folder(m, dir.path() / "one");
  write_hf_folder(m, dir.path() / "three", 3);
  const auto one = ModelFile::open((dir.path() / "one").string());
  const auto three = ModelFile::open((dir.path() / "three").string());
  expect_tiny_model(*one, m);
  expect_tiny_model(*three, m);
  ASSERT_EQ(one->tensors().size(), three->tensors().size());
  for (size_t i = 0; i < one->tensors().size(); ++i) {
    const TensorInfo &a = one->tensors()[i], &b = three->tensors()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.shape, b.shape);
    EXPECT_EQ(a.dtype, b.dtype);
    ASSERT_EQ(a.nbytes, b.nbytes);
    EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << a.name;
  }
  EXPECT_NE(three->get("blk.0.attn_q.weight").file, three->get("blk.0.attn_k.weight").file);
}

TEST(ModelFileHf, MisalignedSafetensorsDataIsCopiedAndRunsTheSame) {
  TempDir dir;
  TinyModel m = tiny_model("llama", true, false);
  std::vector<const HfTensor*> all;
  for (HfTensor& t : m.tensors) {  // all f32, which the engine would wrap where it lies
    t.dtype = "F32";
    t.bytes.resize(t.values.size() * 4);
    std::memcpy(t.bytes.data(), t.values.data(), t.bytes.size());
    all.push_back(&t);
  }
  std::vector<float> logits[2];
  std::string logs[2];
  const log::Level level = log::level();
  for (const size_t misalign : {size_t{0}, size_t{2}}) {
    SCOPED_TRACE(misalign);
    const fs::path folder = dir.path() / ("tiny-" + std::to_string(misalign));
    fs::create_directories(folder);
    write_text((folder / "config.json").string(), m.config.dump(2));
    write_text((folder / "tokenizer.json").string(),
               R"({"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
                   "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}})");
    write_safetensors((folder / "model.safetensors").string(), all, misalign);
    const auto file = ModelFile::open(folder.string());
    for (const TensorInfo& t : file->tensors())
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 4, misalign) << t.name;

    EngineOptions options;
    options.device = "cpu";
    log::set_level(log::Level::kDebug);
    testing::internal::CaptureStderr();
    std::unique_ptr<Engine> engine;
    try {
      engine = Engine::load(folder.string(), options);
    } catch (...) {
      logs[misalign / 2] = testing::internal::GetCapturedStderr();
      log::set_level(level);
      throw;
    }
    logs[misalign / 2] = testing::internal::GetCapturedStderr();
    log::set_level(level);
    const int32_t seq = engine->new_sequence();
    logits[misalign / 2] = engine->forward({seq}, {{3, 17, 42, 5, 88, 1}}, true).to_vector<float>();
  }
  // The misaligned tensors were copied (and said so); the aligned ones were not.
  EXPECT_EQ(logs[0].find("aligned buffer"), std::string::npos) << logs[0];
  EXPECT_NE(logs[1].find("tensor 'blk.0.attn_q.weight'"), std::string::npos) << logs[1];
  EXPECT_NE(logs[1].find("not 4-byte aligned: copied into an aligned buffer"), std::string::npos)
      << logs[1];
  ASSERT_EQ(logits[0].size(), logits[1].size());
  ASSERT_EQ(logits[0].size(), 6u * static_cast<size_t>(m.vocab));
  for (size_t i = 0; i < logits[0].size(); ++i)
    ASSERT_NEAR(logits[0][i], logits[1][i], 1e-5f * (1.f + std::abs(logits[0][i]))) << i;
}

TEST(ModelFileHf, ConfigVariants) {
  TempDir dir;
  // Llama 3.1 rope scaling, explicit head_dim, and a Mistral sliding window.
  TinyModel m = tiny_model("llama", true, false);
  m.config["rope_scaling"] = {{"rope_type", "llama3"},
                              {"factor", 8.0},
                              {"low_freq_factor", 1.0},
                              {"high_freq_factor", 4.0},
                              {"original_max_position_embeddings", 8192}};
  m.config["head_dim"] = 16;
  write_hf_folder(m, dir.path() / "llama3");
  ModelConfig c = ModelFile::open((dir.path() / "llama3").string())->config();
  EXPECT_EQ(c.rope_scaling, RopeScalingType::kLlama3);
  EXPECT_FLOAT_EQ(c.rope_factor, 8.f);
  EXPECT_FLOAT_EQ(c.rope_low_freq_factor, 1.f);
  EXPECT_FLOAT_EQ(c.rope_high_freq_factor, 4.f);
  EXPECT_EQ(c.rope_original_max_position, 8192);
  EXPECT_EQ(c.head_dim, 16);

  // transformers 5: one rope_parameters object with the base and the scaling.
  m.config.erase("rope_scaling");
  m.config.erase("rope_theta");
  m.config["rope_parameters"] = {
      {"rope_type", "llama3"},   {"rope_theta", 250000.0},
      {"factor", 16.0},          {"low_freq_factor", 2.0},
      {"high_freq_factor", 8.0}, {"original_max_position_embeddings", 4096}};
  write_hf_folder(m, dir.path() / "llama3-v5");
  c = ModelFile::open((dir.path() / "llama3-v5").string())->config();
  EXPECT_FLOAT_EQ(c.rope_theta, 250000.f);
  EXPECT_EQ(c.rope_scaling, RopeScalingType::kLlama3);
  EXPECT_FLOAT_EQ(c.rope_factor, 16.f);
  EXPECT_FLOAT_EQ(c.rope_low_freq_factor, 2.f);
  EXPECT_FLOAT_EQ(c.rope_high_freq_factor, 8.f);
  EXPECT_EQ(c.rope_original_max_position, 4096);
  m.config["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000.0}};
  write_hf_folder(m, dir.path() / "default-v5");
  c = ModelFile::open((dir.path() / "default-v5").string())->config();
  EXPECT_FLOAT_EQ(c.rope_theta, 1000.f);
  EXPECT_EQ(c.rope_scaling, RopeScalingType::kNone);
  m.config.erase("rope_parameters");

  m.config["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  write_hf_folder(m, dir.path() / "linear");
  c = ModelFile::open((dir.path() / "linear").string())->config();
  EXPECT_EQ(c.rope_scaling, RopeScalingType::kLinear);
  EXPECT_FLOAT_EQ(c.rope_factor, 2.f);

  m.config["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  write_hf_folder(m, dir.path() / "yarn");
  const auto yarn = ModelFile::open((dir.path() / "yarn").string());
  expect_error([&] { yarn->config(); }, {"yarn", "not supported"});

  TinyModel mistral = tiny_model("mistral", false, false);
  mistral.config["sliding_window"] = 4096;
  write_hf_folder(mistral, dir.path() / "mistral");
  c = ModelFile::open((dir.path() / "mistral").string())->config();
  EXPECT_EQ(c.architecture, "mistral");
  EXPECT_EQ(c.sliding_window, 4096);
  EXPECT_EQ(c.rope_scaling, RopeScalingType::kNone);
}

TEST(ModelFileHf, Errors) {
  TempDir dir;
  TinyModel m = tiny_model("llama", true, false);

  // Unknown architecture: opens, and config() names it with the supported list.
  TinyModel gpt = m;
  gpt.config["architectures"] = json::array({"GPT2LMHeadModel"});
  gpt.config["model_type"] = "gpt2";
  write_hf_folder(gpt, dir.path() / "gpt2");
  const auto g = ModelFile::open((dir.path() / "gpt2").string());
  expect_error([&] { g->config(); },
               {"gpt2", "GPT2LMHeadModel", "not supported", "llama, qwen2, mistral"});

  // A missing hyper-parameter names config.json and the field.
  TinyModel missing = m;
  missing.config.erase("num_hidden_layers");
  write_hf_folder(missing, dir.path() / "missing");
  expect_error([&] { ModelFile::open((dir.path() / "missing").string()); },
               {"config.json", "'num_hidden_layers'", "missing"});

  // Untied without lm_head.
  TinyModel untied = m;
  untied.config["tie_word_embeddings"] = false;
  write_hf_folder(untied, dir.path() / "untied");
  expect_error([&] { ModelFile::open((dir.path() / "untied").string()); },
               {"tie_word_embeddings", "lm_head.weight"});

  // An unsupported safetensors dtype names the tensor and the dtype.
  TinyModel ints = m;
  ints.tensors.push_back({"model.extra", "I64", {2}, {}, std::vector<uint8_t>(16)});
  write_hf_folder(ints, dir.path() / "ints");
  expect_error([&] { ModelFile::open((dir.path() / "ints").string()); },
               {"model.safetensors", "'model.extra'", "'I64'", "F32, F16, BF16"});

  // Offsets outside the file, a bad header length, an index naming a missing tensor.
  write_hf_folder(m, dir.path() / "broken");
  const std::string st = (dir.path() / "broken" / "model.safetensors").string();
  std::vector<uint8_t> bytes = read_file(st);
  bytes.resize(bytes.size() - 10);
  write_file(st, bytes);
  expect_error([&] { ModelFile::open((dir.path() / "broken").string()); },
               {st, "offset 8", "data_offsets", "outside"});
  Bytes huge;
  huge.put<uint64_t>(uint64_t{1} << 50).raw("{}");
  write_file(st, huge.b);
  expect_error([&] { ModelFile::open((dir.path() / "broken").string()); },
               {st, "offset 0", "header length"});
  Bytes garbage;
  garbage.put<uint64_t>(5).raw("{\"a\":");
  write_file(st, garbage.b);
  expect_error([&] { ModelFile::open((dir.path() / "broken").string()); }, {st, "does not parse"});

  write_hf_folder(m, dir.path() / "sharded", 2);
  const std::string index_path = (dir.path() / "sharded" / "model.safetensors.index.json").string();
  const std::vector<uint8_t> index_bytes = read_file(index_path);
  json index = json::parse(std::string(index_bytes.begin(), index_bytes.end()));
  index["weight_map"]["model.ghost.weight"] = "model-00001-of-00002.safetensors";
  write_text(index_path, index.dump());
  expect_error([&] { ModelFile::open((dir.path() / "sharded").string()); },
               {"model.ghost.weight", "does not hold it"});
  index["weight_map"].erase("model.ghost.weight");
  index["weight_map"]["model.norm.weight"] = "../elsewhere.safetensors";
  write_text(index_path, index.dump());
  expect_error([&] { ModelFile::open((dir.path() / "sharded").string()); },
               {"not a file in the folder"});
}

TEST(ModelFileConfig, GgufShapesAndArchitecture) {
  TempDir dir;
  // A GGUF llama model from the tiny HF one, then broken on purpose.
  const TinyModel m = tiny_model("llama", false, false);
  write_hf_folder(m, dir.path() / "hf");
  const std::string gguf = dir.file("tiny.gguf");
  quantize_model((dir.path() / "hf").string(), gguf, DType::kF32);
  const auto model = ModelFile::open(gguf);
  const ModelConfig c = model->config();
  EXPECT_EQ(c.rope_style, RMA_ROPE_GPTJ);  // GGUF llama: Q/K rows permuted
  EXPECT_FALSE(c.tie_embeddings);
  EXPECT_EQ(c.vocab, m.vocab);

  auto rewrite = [&](const std::string& path, Metadata md, const std::string& drop,
                     const std::string& reshape) {
    std::vector<TensorToWrite> tensors;
    for (const TensorInfo& t : model->tensors()) {
      if (t.name == drop) continue;
      TensorToWrite w{t.name, t.dtype, t.shape, {}, t.data, t.nbytes};
      if (t.name == reshape) w.shape = {t.shape[1], t.shape[0]};
      tensors.push_back(w);
    }
    write_gguf(path, md, tensors);
    return ModelFile::open(path);
  };
  Metadata md = model->metadata();
  md.set("general.architecture", meta_string("falcon"));
  expect_error([&] { rewrite(dir.file("a.gguf"), md, "", "")->config(); },
               {dir.file("a.gguf"), "architecture 'falcon' is not supported",
                "supported: llama, qwen2, mistral"});
  expect_error(
      [&] { rewrite(dir.file("b.gguf"), model->metadata(), "blk.1.ffn_up.weight", "")->config(); },
      {"blk.1.ffn_up.weight", "missing"});
  expect_error(
      [&] {
        rewrite(dir.file("d.gguf"), model->metadata(), "", "blk.0.ffn_gate.weight")->config();
      },
      {"tensor 'blk.0.ffn_gate.weight'", "expected shape [128, 64]", "found [64, 128]"});
  md = model->metadata();
  md.set("llama.attention.head_count_kv", meta_u32(3));
  expect_error([&] { rewrite(dir.file("e.gguf"), md, "", "")->config(); },
               {"head_count 4", "head_count_kv 3"});
  md = model->metadata();
  md.set("llama.rope.scaling.type", meta_string("llama3"));
  md.set("llama.rope.scaling.factor", meta_f32(32.f));
  md.set("llama.rope.scaling.original_context_length", meta_u32(4096));
  const ModelConfig scaled = rewrite(dir.file("f.gguf"), md, "", "")->config();
  EXPECT_EQ(scaled.rope_scaling, RopeScalingType::kLlama3);
  EXPECT_FLOAT_EQ(scaled.rope_factor, 32.f);
  EXPECT_EQ(scaled.rope_original_max_position, 4096);
}

// ------------------------------------------------------------ quantize

TEST(ModelFileQuantize, HfToGgufPermutesQkAndStaysClose) {
  TempDir dir;
  const TinyModel m = tiny_model("llama", true, true);
  write_hf_folder(m, dir.path() / "hf");
  const std::string f32_path = dir.file("f32.gguf"), q8_path = dir.file("q8.gguf");
  std::vector<std::pair<size_t, size_t>> calls;
  quantize_model((dir.path() / "hf").string(), f32_path, DType::kF32,
                 [&](size_t done, size_t total) { calls.emplace_back(done, total); });
  ASSERT_EQ(calls.size(), m.tensors.size());
  EXPECT_EQ(calls.back(), std::make_pair(m.tensors.size(), m.tensors.size()));
  quantize_model((dir.path() / "hf").string(), q8_path, DType::kQ8_0);

  const auto f32 = ModelFile::open(f32_path);
  const auto q8 = ModelFile::open(q8_path);
  const auto hf = ModelFile::open((dir.path() / "hf").string());
  ModelConfig want = hf->config();
  for (const auto& model : {f32, q8}) {
    ModelConfig c = model->config();
    EXPECT_EQ(c.rope_style, RMA_ROPE_GPTJ);
    c.rope_style = want.rope_style;
    EXPECT_EQ(c.architecture, want.architecture);
    EXPECT_EQ(c.n_layer, want.n_layer);
    EXPECT_EQ(c.n_kv_head, want.n_kv_head);
    EXPECT_EQ(c.head_dim, want.head_dim);
    EXPECT_EQ(c.tie_embeddings, want.tie_embeddings);
    EXPECT_EQ(c.qkv_bias, want.qkv_bias);
    EXPECT_FLOAT_EQ(c.rope_theta, want.rope_theta);
    EXPECT_EQ(model->metadata().get_int("llama.rope.dimension_count"), m.head_dim);
  }
  EXPECT_EQ(q8->metadata().get_int("general.file_type"), 7);
  EXPECT_EQ(q8->get("blk.0.ffn_down.weight").dtype, DType::kQ8_0);
  EXPECT_EQ(q8->get("token_embd.weight").dtype, DType::kQ8_0);
  EXPECT_EQ(q8->get("blk.0.attn_norm.weight").dtype, DType::kF32);
  EXPECT_EQ(q8->get("blk.0.attn_q.bias").dtype, DType::kF32);

  const int hd = m.head_dim;
  for (const TensorInfo& src : hf->tensors()) {
    SCOPED_TRACE(src.name);
    const std::vector<float> x = dequantize(src);
    const std::vector<float> exact = dequantize(f32->get(src.name));
    const std::vector<float> approx = dequantize(q8->get(src.name));
    ASSERT_EQ(exact.size(), x.size());
    const bool qk = src.name.find("attn_q") != std::string::npos ||
                    src.name.find("attn_k") != std::string::npos;
    const int64_t row = src.shape.size() == 2 ? src.shape[1] : 1;
    const int64_t rows = static_cast<int64_t>(x.size()) / row;
    for (int64_t r = 0; r < rows; ++r) {
      // Row (or element) h*hd + 2i + j of the GGUF comes from h*hd + j*hd/2 + i.
      const int64_t head = r / hd, i = (r % hd) / 2, j = (r % hd) % 2;
      const int64_t from = qk ? head * hd + j * hd / 2 + i : r;
      float amax = 0.f;
      for (int64_t k = 0; k < row; ++k) amax = std::max(amax, std::fabs(x[from * row + k]));
      for (int64_t k = 0; k < row; ++k) {
        ASSERT_EQ(exact[r * row + k], x[from * row + k]) << "row " << r << " col " << k;
        ASSERT_NEAR(approx[r * row + k], x[from * row + k], amax / 127.f + 1e-6f)
            << "row " << r << " col " << k;
      }
    }
  }
}

TEST(ModelFileQuantize, QwenKeepsRowOrderAndRejectsOtherTypes) {
  TempDir dir;
  const TinyModel m = tiny_model("qwen2", false, true);
  write_hf_folder(m, dir.path() / "hf");
  const std::string out = dir.file("q4.gguf");
  quantize_model((dir.path() / "hf").string(), out, DType::kQ4_1);
  const auto q4 = ModelFile::open(out);
  EXPECT_EQ(q4->config().rope_style, RMA_ROPE_NEOX);
  EXPECT_EQ(q4->get("blk.1.attn_q.weight").dtype, DType::kQ4_1);
  EXPECT_EQ(q4->get("output.weight").dtype, DType::kQ4_1);
  // f16 output of the Q rows is the same order as the source.
  quantize_model((dir.path() / "hf").string(), dir.file("f16.gguf"), DType::kF16);
  const auto f16 = ModelFile::open(dir.file("f16.gguf"));
  const std::vector<float> got = dequantize(f16->get("blk.0.attn_q.weight"));
  const HfTensor& src = m.hf("model.layers.0.self_attn.q_proj.weight");
  // bf16 -> f16 is exact but for values below f16's normal range.
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], src.values[i], 1e-7f) << i;

  expect_error([&] { quantize_model((dir.path() / "hf").string(), out, DType::kQ6_K); },
               {"q6_k", "q8_0, q4_0, q4_1, f16, f32"});
}

// ------------------------------------------------------------ rope_freqs.weight

// Llama 3 rope scaling as HF's _compute_llama3_parameters describes it.
struct Llama3Rope {
  double factor, low, high, orig;
};

// rope_freqs.weight as llama.cpp's converter computes it: f32 inverse
// frequencies, then per frequency inv_freq / llama3-scaled inv_freq.
std::vector<float> converter_rope_freqs(const Llama3Rope& p, float theta, int head_dim) {
  std::vector<float> out;
  for (int i = 0; i < head_dim; i += 2) {
    const float inv = 1.f / std::pow(theta, static_cast<float>(i) / static_cast<float>(head_dim));
    const double wavelen = 2.0 * std::numbers::pi / inv;
    if (wavelen < p.orig / p.high) {
      out.push_back(1.f);
    } else if (wavelen > p.orig / p.low) {
      out.push_back(static_cast<float>(p.factor));
    } else {
      const double smooth = (p.orig / wavelen - p.low) / (p.high - p.low);
      out.push_back(static_cast<float>(1.0 / ((1.0 - smooth) / p.factor + smooth)));
    }
  }
  return out;
}

// What the rope op divides inv_freq[i] by under `c`'s scaling (docs/ops.md
// "rope"), written out here from the formula.
double op_divisor(const ModelConfig& c, int i) {
  const double inv = std::pow(double{c.rope_theta}, -2.0 * i / c.head_dim);
  if (c.rope_scaling == RopeScalingType::kNone) return 1.0;
  if (c.rope_scaling == RopeScalingType::kLinear) return c.rope_factor;
  const double wavelen = 2.0 * std::numbers::pi / inv, orig = c.rope_original_max_position;
  const double lo = orig / c.rope_low_freq_factor, hi = orig / c.rope_high_freq_factor;
  if (wavelen < hi) return 1.0;
  if (wavelen > lo) return c.rope_factor;
  const double s = (orig / wavelen - c.rope_low_freq_factor) /
                   (double{c.rope_high_freq_factor} - c.rope_low_freq_factor);
  return 1.0 / ((1.0 - s) / c.rope_factor + s);
}

double worst_divisor_error(const ModelConfig& c, const std::vector<float>& divisors) {
  double worst = 0.0;
  for (size_t i = 0; i < divisors.size(); ++i)
    worst =
        std::max(worst, std::abs(op_divisor(c, static_cast<int>(i)) - divisors[i]) / divisors[i]);
  return worst;
}

// A one-layer, one-head GGUF llama model with head_dim 128 and theta 500000
// (Llama 3's), holding `rope_freqs` (none when empty) and `extra` metadata.
std::string write_rope_model(const TempDir& dir, const std::string& name,
                             const std::vector<float>& rope_freqs, const Metadata& extra = {}) {
  constexpr int64_t kHead = 128, kFfn = 32, kVocab = 8;
  Metadata md;
  md.set("general.architecture", meta_string("llama"));
  md.set("llama.block_count", meta_u32(1));
  md.set("llama.embedding_length", meta_u32(kHead));
  md.set("llama.feed_forward_length", meta_u32(kFfn));
  md.set("llama.attention.head_count", meta_u32(1));
  md.set("llama.attention.head_count_kv", meta_u32(1));
  md.set("llama.context_length", meta_u32(131072));
  md.set("llama.rope.freq_base", meta_f32(500000.f));
  md.set("llama.rope.dimension_count", meta_u32(kHead));
  for (const auto& [key, value] : extra.all()) md.set(key, value);
  std::vector<TensorToWrite> tensors;
  auto add = [&](const std::string& n, const Shape& shape, std::vector<float> values = {}) {
    if (values.empty()) values.assign(static_cast<size_t>(numel(shape)), 0.5f);
    TensorToWrite t{n, DType::kF32, shape, std::vector<uint8_t>(values.size() * 4), nullptr, 0};
    std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
    tensors.push_back(std::move(t));
  };
  add("token_embd.weight", {kVocab, kHead});
  if (!rope_freqs.empty())
    add("rope_freqs.weight", {static_cast<int64_t>(rope_freqs.size())}, rope_freqs);
  for (const char* n : {"attn_norm", "ffn_norm"})
    add(std::string("blk.0.") + n + ".weight", {kHead});
  for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_output"})
    add(std::string("blk.0.") + n + ".weight", {kHead, kHead});
  add("blk.0.ffn_gate.weight", {kFfn, kHead});
  add("blk.0.ffn_up.weight", {kFfn, kHead});
  add("blk.0.ffn_down.weight", {kHead, kFfn});
  add("output_norm.weight", {kHead});
  const std::string path = dir.file(name);
  write_gguf(path, md, tensors);
  return path;
}

TEST(ModelFileRopeFreqs, Llama31And32TensorsGiveTheirLlama3Scaling) {
  TempDir dir;
  const struct {
    const char* model;
    Llama3Rope rope;
  } cases[] = {{"llama-3.1", {8, 1, 4, 8192}}, {"llama-3.2", {32, 1, 4, 8192}}};
  for (const auto& [model, rope] : cases) {
    SCOPED_TRACE(model);
    const std::vector<float> freqs = converter_rope_freqs(rope, 500000.f, 128);
    ASSERT_EQ(freqs.size(), 64u);
    const ModelConfig c =
        ModelFile::open(write_rope_model(dir, std::string(model) + ".gguf", freqs))->config();
    EXPECT_EQ(c.rope_scaling, RopeScalingType::kLlama3);
    EXPECT_FLOAT_EQ(c.rope_factor, static_cast<float>(rope.factor));
    EXPECT_EQ(c.rope_original_max_position, 8192);
    EXPECT_NEAR(c.rope_low_freq_factor, 1.0, 1e-3);
    EXPECT_NEAR(c.rope_high_freq_factor, 4.0, 4e-3);
    EXPECT_LE(worst_divisor_error(c, freqs), 1e-5);
    EXPECT_EQ(c.rope_style, RMA_ROPE_GPTJ);

    // Only the ratios matter: a file naming another original context gets
    // other factors with the same divisors.
    Metadata md;
    md.set("llama.rope.scaling.original_context_length", meta_u32(4096));
    const ModelConfig half =
        ModelFile::open(write_rope_model(dir, std::string(model) + "-4k.gguf", freqs, md))
            ->config();
    EXPECT_EQ(half.rope_original_max_position, 4096);
    EXPECT_NEAR(half.rope_low_freq_factor, 0.5, 1e-3);
    EXPECT_NEAR(half.rope_high_freq_factor, 2.0, 2e-3);
    EXPECT_LE(worst_divisor_error(half, freqs), 1e-5);
  }
}

TEST(ModelFileRopeFreqs, NarrowBandsStepsOnesAndLinear) {
  TempDir dir;
  int n = 0;
  auto config_of = [&](const std::vector<float>& freqs) {
    return ModelFile::open(write_rope_model(dir, "m" + std::to_string(n++) + ".gguf", freqs))
        ->config();
  };
  // Bands holding one frequency or none, and wide ones.
  for (const Llama3Rope rope : {Llama3Rope{8, 1, 1.15, 8192}, Llama3Rope{8, 1, 1.3, 8192},
                                Llama3Rope{16, 2, 8, 4096}, Llama3Rope{4, 0.5, 64, 8192}}) {
    SCOPED_TRACE(std::to_string(rope.low) + " " + std::to_string(rope.high));
    const std::vector<float> freqs = converter_rope_freqs(rope, 500000.f, 128);
    const ModelConfig c = config_of(freqs);
    EXPECT_EQ(c.rope_scaling, RopeScalingType::kLlama3);
    EXPECT_FLOAT_EQ(c.rope_factor, static_cast<float>(rope.factor));
    EXPECT_LE(worst_divisor_error(c, freqs), 1e-4);
  }
  // A pure step.
  std::vector<float> step(64, 1.f);
  std::fill(step.begin() + 40, step.end(), 8.f);
  ModelConfig c = config_of(step);
  EXPECT_EQ(c.rope_scaling, RopeScalingType::kLlama3);
  EXPECT_FLOAT_EQ(c.rope_factor, 8.f);
  EXPECT_LE(worst_divisor_error(c, step), 1e-6);
  // All ones: no scaling; all the same factor: linear.
  c = config_of(std::vector<float>(64, 1.f));
  EXPECT_EQ(c.rope_scaling, RopeScalingType::kNone);
  c = config_of(std::vector<float>(64, 4.f));
  EXPECT_EQ(c.rope_scaling, RopeScalingType::kLinear);
  EXPECT_FLOAT_EQ(c.rope_factor, 4.f);
}

TEST(ModelFileRopeFreqs, GarbageIsAnErrorNamingTheFileAndTheDisagreement) {
  TempDir dir;
  const std::vector<float> llama31 = converter_rope_freqs({8, 1, 4, 8192}, 500000.f, 128);
  auto expect_rejected = [&](const std::string& name, const std::vector<float>& freqs,
                             const std::vector<std::string>& parts, const Metadata& md = {}) {
    SCOPED_TRACE(name);
    const std::string path = write_rope_model(dir, name, freqs, md);
    std::vector<std::string> all = {path, "rope_freqs.weight"};
    all.insert(all.end(), parts.begin(), parts.end());
    expect_error([&] { ModelFile::open(path)->config(); }, all);
  };
  std::vector<float> random = random_floats(64, 7, 4.f);
  for (float& v : random) v = 1.5f + std::abs(v);  // positive, no pattern
  expect_rejected("random.gguf", random, {"largest disagreement is divisor", "the tensor has"});
  std::vector<float> reversed(llama31.rbegin(), llama31.rend());  // scaled above kept
  expect_rejected("reversed.gguf", reversed, {"largest disagreement"});
  std::vector<float> bumped = llama31;
  bumped[31] *= 1.01f;  // one band divisor off the curve by 1 %
  expect_rejected("bumped.gguf", bumped, {"largest disagreement"});
  std::vector<float> below_one(64, 1.f);
  below_one[5] = 0.5f;
  expect_rejected("below-one.gguf", below_one, {"divisor 5", "0.5", "no scaling"});
  std::vector<float> negative = llama31;
  negative[3] = -1.f;
  expect_rejected("negative.gguf", negative, {"element 3", "expected a positive divisor"});
  expect_rejected("short.gguf", std::vector<float>(32, 1.f), {"expected shape [64]", "[32]"});

  // With rope.scaling.* metadata too, the tensor must say the same.
  Metadata md;
  md.set("llama.rope.scaling.type", meta_string("llama3"));
  md.set("llama.rope.scaling.factor", meta_f32(32.f));
  expect_rejected("disagrees.gguf", llama31,
                  {"disagrees with the llama.rope.scaling.* metadata", "factor 32"}, md);
  md.set("llama.rope.scaling.factor", meta_f32(8.f));
  const ModelConfig c =
      ModelFile::open(write_rope_model(dir, "agrees.gguf", llama31, md))->config();
  EXPECT_EQ(c.rope_scaling, RopeScalingType::kLlama3);
  EXPECT_FLOAT_EQ(c.rope_low_freq_factor, 1.f);  // the metadata's, exactly
  md.set("llama.rope.scaling.type", meta_string("linear"));
  expect_rejected("linear.gguf", llama31, {"disagrees with", "linear scaling by 8"}, md);
}

// ------------------------------------------------------------ the real model

std::string smollm2_path() {
  if (const char* p = std::getenv("RMA_TEST_MODEL"); p && *p) return p;
  std::string cache;
  if (const char* c = std::getenv("RM_CACHE_DIR"); c && *c) {
    cache = c;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    cache = std::string(home) + "/.cache/rm_abstract";
  }
  return cache + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

TEST(ModelFileSmolLM2, ReadsTheRealFile) {
  const std::string path = smollm2_path();
  if (!fs::exists(path)) {
    GTEST_SKIP() << path << " is not there (scripts/fetch_model.sh smollm2-135m)";
  }
  const auto model = ModelFile::open(path);
  EXPECT_EQ(model->tensors().size(), 272u);
  const ModelConfig c = model->config();
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.n_layer, 30);
  EXPECT_EQ(c.hidden, 576);
  EXPECT_EQ(c.n_head, 9);
  EXPECT_EQ(c.n_kv_head, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.ffn, 1536);
  EXPECT_EQ(c.vocab, 49152);
  EXPECT_EQ(c.context_length, 8192);
  EXPECT_TRUE(c.tie_embeddings);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FLOAT_EQ(c.rope_theta, 100000.f);
  EXPECT_FLOAT_EQ(c.rms_eps, 1e-5f);
  EXPECT_EQ(c.rope_style, RMA_ROPE_GPTJ);
  EXPECT_EQ(c.rope_scaling, RopeScalingType::kNone);
  EXPECT_EQ(model->get("token_embd.weight").dtype, DType::kQ8_0);
  EXPECT_EQ(model->get("blk.0.attn_q.weight").dtype, DType::kQ4_1);
  EXPECT_EQ(model->get("blk.0.attn_norm.weight").dtype, DType::kF32);
  EXPECT_EQ(model->get("token_embd.weight").shape, (Shape{49152, 576}));

  const TokenizerData tok = model->tokenizer();
  EXPECT_EQ(tok.model, "gpt2");
  EXPECT_EQ(tok.pre, "smollm");
  EXPECT_EQ(tok.tokens.size(), 49152u);
  EXPECT_EQ(tok.merges.size(), 48900u);
  EXPECT_EQ(tok.token_types.size(), 49152u);
  EXPECT_EQ(tok.tokens[2], "<|im_end|>");
  EXPECT_EQ(tok.bos_id, 1);
  EXPECT_EQ(tok.eos_id, 2);
  EXPECT_FALSE(tok.add_bos);
  EXPECT_NE(std::find(tok.eog_ids.begin(), tok.eog_ids.end(), 2), tok.eog_ids.end());
  EXPECT_NE(tok.chat_template.find("<|im_start|>"), std::string::npos);
}

TEST(ModelFileSmolLM2, RequantizesToQ8) {
  const std::string path = smollm2_path();
  if (!fs::exists(path)) {
    GTEST_SKIP() << path << " is not there (scripts/fetch_model.sh smollm2-135m)";
  }
  TempDir dir;
  const std::string out = dir.file("smol.q8_0.gguf");
  quantize_model(path, out, DType::kQ8_0);
  const auto src = ModelFile::open(path);
  const auto q8 = ModelFile::open(out);
  ASSERT_EQ(q8->tensors().size(), 272u);
  const ModelConfig a = src->config(), b = q8->config();
  EXPECT_EQ(b.n_layer, a.n_layer);
  EXPECT_EQ(b.rope_style, RMA_ROPE_GPTJ);  // GGUF in, GGUF out: no second permutation
  EXPECT_EQ(q8->tokenizer().merges, src->tokenizer().merges);
  // Already q8_0: copied byte for byte.
  const TensorInfo& e0 = src->get("token_embd.weight");
  const TensorInfo& e1 = q8->get("token_embd.weight");
  ASSERT_EQ(e0.nbytes, e1.nbytes);
  EXPECT_EQ(std::memcmp(e0.data, e1.data, e0.nbytes), 0);
  // Q4_1 -> q8_0 keeps the values to within q8_0's step.
  const std::vector<float> x = dequantize(src->get("blk.3.ffn_up.weight"));
  const std::vector<float> y = dequantize(q8->get("blk.3.ffn_up.weight"));
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); i += 32) {
    float amax = 0.f;
    for (size_t k = i; k < i + 32; ++k) amax = std::max(amax, std::fabs(x[k]));
    for (size_t k = i; k < i + 32; ++k) ASSERT_NEAR(y[k], x[k], amax / 127.f + 1e-6f) << k;
  }
}

}  // namespace
}  // namespace rma::llm
