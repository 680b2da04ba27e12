#include "base/ip.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

#include "base/hex.h"

namespace vnet {

namespace {
// inet_pton needs a NUL-terminated string; bound the copy so hostile input cannot grow it.
bool toCString(std::string_view text, char (&buf)[64]) {
  if (text.empty() || text.size() >= sizeof(buf)) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return true;
}
}  // namespace

std::optional<Ipv4> Ipv4::parse(std::string_view text) {
  char buf[64];
  if (!toCString(text, buf)) return std::nullopt;
  in_addr a{};
  if (inet_pton(AF_INET, buf, &a) != 1) return std::nullopt;
  return Ipv4(ntohl(a.s_addr));
}

std::string Ipv4::toString() const {
  char buf[INET_ADDRSTRLEN];
  std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", v_ >> 24, (v_ >> 16) & 0xFF, (v_ >> 8) & 0xFF,
                v_ & 0xFF);
  return buf;
}

std::optional<int> Ipv4::maskToPrefix() const {
  int prefix = __builtin_popcount(v_);
  if (mask(prefix).toUint() != v_) return std::nullopt;
  return prefix;
}

std::optional<Ipv6> Ipv6::parse(std::string_view text) {
  char buf[64];
  if (!toCString(text, buf)) return std::nullopt;
  Bytes b{};
  if (inet_pton(AF_INET6, buf, b.data()) != 1) return std::nullopt;
  return Ipv6(b);
}

std::string Ipv6::toString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, b_.data(), buf, sizeof(buf));
  return buf;
}

Ipv6 Ipv6::masked(int prefix) const {
  Bytes out = b_;
  for (int i = 0; i < 16; ++i) {
    int bits = prefix - i * 8;
    if (bits >= 8) continue;
    out[i] = bits <= 0 ? 0 : uint8_t(out[i] & uint8_t(0xFF << (8 - bits)));
  }
  return Ipv6(out);
}

const char* familyName(Family f) {
  return f == Family::V4 ? "ipv4" : "ipv6";
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (auto a = Ipv4::parse(text)) return IpAddress(*a);
  if (auto a = Ipv6::parse(text)) return IpAddress(*a);
  return std::nullopt;
}

std::string IpAddress::toString() const {
  return isV4() ? v4().toString() : v6().toString();
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  auto p = text.substr(slash + 1);
  if (p.empty() || p.size() > 3) return std::nullopt;
  int prefix = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return std::nullopt;
    prefix = prefix * 10 + (c - '0');
  }
  if (prefix > (addr->isV4() ? 32 : 128)) return std::nullopt;
  return Cidr{*addr, prefix};
}

Cidr Cidr::network() const {
  if (address.isV4())
    return Cidr{Ipv4(address.v4().toUint() & Ipv4::mask(prefix).toUint()), prefix};
  return Cidr{address.v6().masked(prefix), prefix};
}

bool Cidr::contains(const IpAddress& a) const {
  if (a.family() != family()) return false;
  return Cidr{a, prefix}.network().address == network().address;
}

bool Cidr::overlaps(const Cidr& other) const {
  if (family() != other.family()) return false;
  int p = std::min(prefix, other.prefix);
  return Cidr{address, p}.network().address == Cidr{other.address, p}.network().address;
}

std::string Cidr::toString() const {
  return address.toString() + "/" + std::to_string(prefix);
}

std::optional<Mac> Mac::parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  Bytes b{};
  char sep = text[2];
  if (sep != ':' && sep != '-') return std::nullopt;
  for (int i = 0; i < 6; ++i) {
    int hi = hexDigitValue(text[i * 3]), lo = hexDigitValue(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && text[i * 3 + 2] != sep) return std::nullopt;
    b[i] = uint8_t(hi * 16 + lo);
  }
  return Mac(b);
}

std::string Mac::toString() const {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", b_[0], b_[1], b_[2], b_[3],
                b_[4], b_[5]);
  return buf;
}

}  // namespace vnet
