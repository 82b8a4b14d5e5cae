// The compiled plan's byte format (the .rmx "plan" and "weights" sections):
// a versioned, little-endian, length-prefixed encoding of graphs and
// placements, read back with every field bounds-checked. The layout is in
// docs/compiler.md.
//
// Graphs are written in canonical order — graph inputs, then constants, then
// each node's outputs in node order — and value ids are implicit in that
// order, so reading a graph replays it through Graph::add_input /
// add_constant / add_node (which re-check every node) and gives back the same
// ids. Graphs the compiler keeps are canonicalized the same way (canonical()),
// so a placement stored with them refers to the same ids after loading.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rma/graph/ir.h"
#include "rma/graph/partition.h"
#include "rma/tensor.h"

namespace rma::compile::detail {

constexpr uint32_t kPlanFormatVersion = 1;
constexpr uint64_t kWeightAlignment = 64;

// Appends little-endian fields.
class ByteWriter {
 public:
  void u8(uint8_t v) { bytes_.push_back(v); }
  void u32(uint32_t v);
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void u64(uint64_t v);
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v);
  void count(size_t n);  // a u32 element count
  void str(const std::string& s);
  void bytes(std::span<const uint8_t> b);  // u64 length, then the bytes
  std::vector<uint8_t>& data() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// Reads what ByteWriter wrote; anything out of bounds or out of range is an
// Error naming the artifact, the section, the byte offset and the field.
class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> data, std::string artifact, std::string section);

  uint8_t u8(const char* what);
  uint32_t u32(const char* what);
  int32_t i32(const char* what) { return static_cast<int32_t>(u32(what)); }
  uint64_t u64(const char* what);
  int64_t i64(const char* what) { return static_cast<int64_t>(u64(what)); }
  double f64(const char* what);
  // An element count; at least `min_element_bytes` per element must remain.
  size_t count(const char* what, size_t min_element_bytes);
  std::string str(const char* what);
  std::span<const uint8_t> bytes(const char* what);

  size_t offset() const { return pos_; }
  bool at_end() const { return pos_ == data_.size(); }
  // Throws Error(kInvalidArgument): "<artifact>: section '<section>', byte
  // <at>: <what>".
  [[noreturn]] void fail(const std::string& what, size_t at) const;
  [[noreturn]] void fail(const std::string& what) const { fail(what, pos_); }

 private:
  const uint8_t* take(size_t n, const char* what);

  std::span<const uint8_t> data_;
  std::string artifact_;
  std::string section_;
  size_t pos_ = 0;
};

// Where each constant's bytes go in the "weights" section: one 64-byte
// aligned slot per distinct host buffer range (constants shared by two
// graphs, or two names for one tensor, are stored once).
class WeightsLayout {
 public:
  uint64_t add(const Tensor& constant);  // returns the byte offset
  uint64_t size() const { return size_; }
  std::vector<uint8_t> bytes() const;  // the section, zero padding between slots

 private:
  struct Slot {
    Tensor tensor;
    uint64_t offset;
  };
  std::vector<Slot> slots_;
  std::map<std::pair<const void*, uint64_t>, uint64_t> by_address_;
  uint64_t size_ = 0;
};

// The weights section as loaded: constants become views of it on the host
// CPU, kept alive by `keep_alive` (the artifact's mapping).
struct WeightsSource {
  std::span<const uint8_t> bytes;
  std::shared_ptr<void> keep_alive;
};

void write_graph(ByteWriter& w, const graph::Graph& g, WeightsLayout& weights);
graph::Graph read_graph(ByteReader& r, const WeightsSource& weights);

// A copy of `g` with values renumbered in canonical order (see above);
// constants share storage with `g`'s.
graph::Graph canonical(const graph::Graph& g);

// Devices are stored by name. Reading rebinds them: device 0 (the compile
// target) to `target`, the others by name through the Runtime. The placement
// is checked against `specialized` (every node, value, copy and step as
// partition() derives them from the node assignments), so a damaged one is
// an Error, never an executor crash.
void write_placement(ByteWriter& w, const graph::Placement& p);
graph::Placement read_placement(ByteReader& r, const graph::Graph& specialized,
                                const Device& target);

}  // namespace rma::compile::detail
