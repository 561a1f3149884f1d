// Bounds-checked big-endian reading and writing of wire bytes.
//
// ByteReader never reads past its span: a short read sets a sticky error, returns zero, and
// leaves offset() at the position where the data ran out. Decoders read every field and
// check ok() once, so "check the size, then read" pairs cannot get out of step.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace cascade {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

class ByteReader {
 public:
  explicit ByteReader(ByteSpan in) : in_(in) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(read_be(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(read_be(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(read_be(4)); }
  std::uint64_t u64() { return read_be(8); }

  // The next n bytes, or an empty span (and the sticky error) when fewer remain.
  ByteSpan bytes(std::size_t n) {
    if (!take(n)) return {};
    return in_.subspan(pos_ - n, n);
  }

  template <std::size_t N>
  std::array<std::uint8_t, N> array() {
    std::array<std::uint8_t, N> out{};
    ByteSpan b = bytes(N);
    if (!b.empty()) std::memcpy(out.data(), b.data(), N);
    return out;
  }

  bool ok() const { return ok_; }
  std::size_t offset() const { return pos_; }
  std::size_t remaining() const { return in_.size() - pos_; }

 private:
  bool take(std::size_t n) {
    if (!ok_) return false;
    if (n > remaining()) {
      ok_ = false;
      pos_ = in_.size();
      return false;
    }
    pos_ += n;
    return true;
  }
  std::uint64_t read_be(std::size_t n) {
    if (!take(n)) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = pos_ - n; i < pos_; ++i) v = (v << 8) | in_[i];
    return v;
  }

  ByteSpan in_;
  std::size_t pos_ = 0;  // bytes consumed so far
  bool ok_ = true;       // false after the first short read; stays false
};

// Appends big-endian fields to a byte vector.
class ByteWriter {
 public:
  explicit ByteWriter(Bytes& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { put_be(v, 2); }
  void u32(std::uint32_t v) { put_be(v, 4); }
  void u64(std::uint64_t v) { put_be(v, 8); }
  // resize + memcpy rather than insert: g++ 12 at -O3 reports false overflows for insert.
  void bytes(ByteSpan b) {
    if (b.empty()) return;
    const std::size_t at = out_.size();
    out_.resize(at + b.size());
    std::memcpy(out_.data() + at, b.data(), b.size());
  }
  void zeros(std::size_t n) { out_.resize(out_.size() + n, 0); }

 private:
  void put_be(std::uint64_t v, std::size_t n) {
    for (std::size_t i = n; i-- > 0;) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes& out_;
};

inline void store_be64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
inline std::uint64_t load_be64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace cascade
