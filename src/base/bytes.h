// Bounds-checked cursors over untrusted bytes (network order). Every read checks the
// remaining length first; a failed read leaves the reader in the failed state and
// returns zero/empty, so a parser can do several reads and check ok() once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vnet {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }
  size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  std::span<const uint8_t> whole() const { return data_; }

  uint8_t u8() {
    if (!need(1)) return 0;
    return data_[pos_++];
  }
  uint16_t u16() {
    if (!need(2)) return 0;
    uint16_t v = uint16_t((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = (uint32_t{data_[pos_]} << 24) | (uint32_t{data_[pos_ + 1]} << 16) |
                 (uint32_t{data_[pos_ + 2]} << 8) | data_[pos_ + 3];
    pos_ += 4;
    return v;
  }
  // A view of the next n bytes (empty and failed when fewer remain).
  std::span<const uint8_t> bytes(size_t n) {
    if (!need(n)) return {};
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  bool skip(size_t n) { return !bytes(n).empty() || n == 0; }
  // Moves to an absolute offset within the data (for DNS compression pointers).
  bool seek(size_t offset) {
    if (!ok_ || offset > data_.size()) return ok_ = false;
    pos_ = offset;
    return true;
  }

 private:
  bool need(size_t n) {
    if (!ok_ || n > data_.size() - pos_) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

class ByteWriter {
 public:
  ByteWriter() = default;
  explicit ByteWriter(size_t reserve) { buf_.reserve(reserve); }

  void u8(uint8_t v) { buf_.push_back(v); }
  void u16(uint16_t v) {
    buf_.push_back(uint8_t(v >> 8));
    buf_.push_back(uint8_t(v));
  }
  void u32(uint32_t v) {
    u16(uint16_t(v >> 16));
    u16(uint16_t(v));
  }
  void bytes(std::span<const uint8_t> b) { buf_.insert(buf_.end(), b.begin(), b.end()); }
  void bytes(std::string_view s) { buf_.insert(buf_.end(), s.begin(), s.end()); }
  void zeros(size_t n) { buf_.insert(buf_.end(), n, 0); }
  // Overwrites a big-endian u16 at an earlier offset (length fields written after the fact).
  void patchU16(size_t offset, uint16_t v) {
    buf_.at(offset) = uint8_t(v >> 8);
    buf_.at(offset + 1) = uint8_t(v);
  }

  size_t size() const { return buf_.size(); }
  const std::vector<uint8_t>& data() const { return buf_; }
  std::vector<uint8_t> take() { return std::move(buf_); }
  void clear() { buf_.clear(); }

 private:
  std::vector<uint8_t> buf_;
};

// Big-endian integers appended to (or stored into) a byte vector, for encoders that build
// a message in place.
inline void appendU16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
inline void appendU32(std::vector<uint8_t>& b, uint32_t v) {
  appendU16(b, uint16_t(v >> 16));
  appendU16(b, uint16_t(v));
}
// Overwrites two bytes at `at`, which must be inside b.
inline void storeU16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = uint8_t(v >> 8);
  b[at + 1] = uint8_t(v);
}

}  // namespace vnet
