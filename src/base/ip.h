// Address value types: Ipv4, Ipv6, IpAddress (either), Cidr, Mac.
// All parse functions accept only the canonical textual forms (inet_pton rules) and
// return std::nullopt on anything else; they never throw.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace vnet {

class Ipv4 {
 public:
  constexpr Ipv4() = default;
  // From a host-order integer: Ipv4(0xC0A87A01) is 192.168.122.1.
  constexpr explicit Ipv4(uint32_t host_order) : v_(host_order) {}
  static std::optional<Ipv4> parse(std::string_view text);
  // From 4 bytes in network order.
  static Ipv4 fromBytes(const uint8_t* b) {
    return Ipv4((uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3]);
  }

  constexpr uint32_t toUint() const { return v_; }
  std::array<uint8_t, 4> toBytes() const {
    return {uint8_t(v_ >> 24), uint8_t(v_ >> 16), uint8_t(v_ >> 8), uint8_t(v_)};
  }
  std::string toString() const;

  // Netmask for a prefix length 0..32.
  static constexpr Ipv4 mask(int prefix) {
    return Ipv4(prefix <= 0 ? 0u : prefix >= 32 ? 0xFFFFFFFFu : ~((1u << (32 - prefix)) - 1));
  }
  // The prefix length of a contiguous netmask, or nullopt if not contiguous.
  std::optional<int> maskToPrefix() const;

  friend constexpr auto operator<=>(Ipv4, Ipv4) = default;

 private:
  uint32_t v_ = 0;
};

class Ipv6 {
 public:
  using Bytes = std::array<uint8_t, 16>;
  constexpr Ipv6() = default;
  constexpr explicit Ipv6(const Bytes& b) : b_(b) {}
  static std::optional<Ipv6> parse(std::string_view text);
  const Bytes& bytes() const { return b_; }
  std::string toString() const;
  // Applies a prefix mask (0..128).
  Ipv6 masked(int prefix) const;
  friend auto operator<=>(const Ipv6&, const Ipv6&) = default;

 private:
  Bytes b_{};
};

enum class Family { V4, V6 };
const char* familyName(Family f);  // "ipv4" / "ipv6" (libvirt's spelling)

class IpAddress {
 public:
  IpAddress() = default;
  IpAddress(Ipv4 a) : v_(a) {}  // NOLINT implicit
  IpAddress(Ipv6 a) : v_(a) {}  // NOLINT implicit
  static std::optional<IpAddress> parse(std::string_view text);

  Family family() const { return v_.index() == 0 ? Family::V4 : Family::V6; }
  bool isV4() const { return v_.index() == 0; }
  bool isV6() const { return v_.index() == 1; }
  Ipv4 v4() const { return std::get<0>(v_); }
  const Ipv6& v6() const { return std::get<1>(v_); }
  std::string toString() const;
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  std::variant<Ipv4, Ipv6> v_;
};

// An address with a prefix length; the address need not be the network address
// (192.168.122.1/24 is the host's address on that subnet).
struct Cidr {
  IpAddress address;
  int prefix = 0;

  // "192.168.122.1/24" or "fd00::1/64".
  static std::optional<Cidr> parse(std::string_view text);
  Family family() const { return address.family(); }
  // The network with host bits cleared.
  Cidr network() const;
  bool contains(const IpAddress& a) const;
  // True when the two prefixes share any address.
  bool overlaps(const Cidr& other) const;
  std::string toString() const;
  friend auto operator<=>(const Cidr&, const Cidr&) = default;
};

class Mac {
 public:
  using Bytes = std::array<uint8_t, 6>;
  constexpr Mac() = default;
  constexpr explicit Mac(const Bytes& b) : b_(b) {}
  // "52:54:00:ab:cd:ef" (also accepts '-' separators and upper case).
  static std::optional<Mac> parse(std::string_view text);
  const Bytes& bytes() const { return b_; }
  std::string toString() const;  // lower case, ':' separated
  bool isMulticast() const { return (b_[0] & 1) != 0; }
  bool isZero() const { return b_ == Bytes{}; }
  friend auto operator<=>(const Mac&, const Mac&) = default;

 private:
  Bytes b_{};
};

}  // namespace vnet

template <>
struct std::hash<vnet::Mac> {
  size_t operator()(const vnet::Mac& m) const noexcept {
    uint64_t v = 0;
    for (auto b : m.bytes()) v = (v << 8) | b;
    return std::hash<uint64_t>{}(v);
  }
};
template <>
struct std::hash<vnet::Ipv4> {
  size_t operator()(vnet::Ipv4 a) const noexcept { return std::hash<uint32_t>{}(a.toUint()); }
};
