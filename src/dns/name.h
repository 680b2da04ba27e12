// Domain names (RFC 1035 §3.1) held in uncompressed wire form in inline storage, so that a
// Name never allocates: the hot path copies and compares them freely.
//
// Comparison and hashing are case-insensitive for ASCII letters (RFC 4343 §3); the stored
// bytes keep the case they were given.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/error.h"

namespace vnet::dns {

// RFC 1035 §2.3.4: a label is at most 63 octets, a name at most 255 octets in wire form
// (length octets and the final root label included).
inline constexpr size_t kMaxLabelLength = 63;
inline constexpr size_t kMaxNameLength = 255;
// 255 octets hold at most 127 one-octet labels plus the root.
inline constexpr size_t kMaxLabels = 127;

class Name {
 public:
  // The root name ".".
  Name() = default;

  // Presentation form: "www.example.com" or "www.example.com." (same name), "." or "" for
  // the root. Accepts RFC 1035 §5.1 escapes "\." and "\DDD". Fails on empty labels, labels
  // over 63 octets and names over 255 octets.
  static Result<Name> parse(std::string_view text);

  // Reads a possibly compressed name at r's position (RFC 1035 §4.1.4). Compression
  // pointers must point strictly before the start of the name being read and into the
  // message body (>= 12, past the header), which rules out loops and forward pointers.
  // On return r is positioned after the name's in-place part (after the first pointer).
  static Result<Name> read(ByteReader& r);

  // Builds a name from uncompressed wire bytes (must be well formed, root-terminated).
  static Result<Name> fromWire(std::span<const uint8_t> wire);

  std::span<const uint8_t> wire() const { return {wire_.data(), size_}; }
  size_t wireSize() const { return size_; }
  bool isRoot() const { return size_ == 1; }
  // Number of labels, the root not counted ("a.b" has 2).
  size_t labelCount() const;
  // Label i (0 is the leftmost), without its length octet. REQUIRES: i < labelCount().
  std::string_view label(size_t i) const;

  // Presentation form without the trailing dot; "." for the root. Escapes '.', '\\' and
  // bytes outside printable ASCII as RFC 1035 §5.1 does.
  std::string toString() const;

  // A copy with ASCII letters lowered.
  Name lowered() const;

  // True when this name equals suffix or lies below it ("a.b.c" is under "b.c" and "c",
  // but not under "bc"). Every name is under the root.
  bool isUnder(const Name& suffix) const;

  // this + suffix ("host" + "example.com" = "host.example.com"); fails when too long.
  Result<Name> concat(const Name& suffix) const;
  // The name with the leftmost label removed; the root stays the root.
  Name parent() const;

  // A hash consistent with the case-insensitive operator==.
  size_t hash() const;

  friend bool operator==(const Name& a, const Name& b);

 private:
  std::array<uint8_t, kMaxNameLength> wire_{};  // wire_[0] == 0: the root
  uint8_t size_ = 1;
};

// ASCII-only case folding used by names (RFC 4343 §3).
inline uint8_t foldCase(uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? uint8_t(c | 0x20) : c;
}

// Case-insensitive equality of two uncompressed wire names (or suffixes of them).
bool wireNamesEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);

// Not noexcept on purpose: see CacheKeyHash (cache.h).
struct NameHash {
  size_t operator()(const Name& n) const { return n.hash(); }
};

}  // namespace vnet::dns
