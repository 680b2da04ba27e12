// The DHCPv4 option table (RFC 2132, RFC 3442, RFC 4702, ...) as data, in the spirit of
// Kea's std_option_defs.h: one row per option code we know, its name and its wire type.
// The codec does not need the table to parse (options are kept as raw bytes); it is used to
// validate and to print options (tests, `vnetctl trace`).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace vnet::dhcp {

// Well-known option codes.
namespace opt {
inline constexpr uint8_t kPad = 0;
inline constexpr uint8_t kSubnetMask = 1;
inline constexpr uint8_t kRouter = 3;
inline constexpr uint8_t kDnsServers = 6;
inline constexpr uint8_t kHostName = 12;
inline constexpr uint8_t kDomainName = 15;
inline constexpr uint8_t kInterfaceMtu = 26;
inline constexpr uint8_t kBroadcastAddress = 28;
inline constexpr uint8_t kVendorSpecific = 43;
inline constexpr uint8_t kRequestedIp = 50;
inline constexpr uint8_t kLeaseTime = 51;
inline constexpr uint8_t kOverload = 52;
inline constexpr uint8_t kMessageType = 53;
inline constexpr uint8_t kServerId = 54;
inline constexpr uint8_t kParameterRequestList = 55;
inline constexpr uint8_t kMessage = 56;
inline constexpr uint8_t kMaxMessageSize = 57;
inline constexpr uint8_t kRenewalTime = 58;
inline constexpr uint8_t kRebindingTime = 59;
inline constexpr uint8_t kVendorClass = 60;
inline constexpr uint8_t kClientId = 61;
inline constexpr uint8_t kTftpServerName = 66;
inline constexpr uint8_t kBootFileName = 67;
inline constexpr uint8_t kClientFqdn = 81;
inline constexpr uint8_t kClasslessRoutes = 121;
inline constexpr uint8_t kEnd = 255;
}  // namespace opt

enum class OptionType : uint8_t {
  kEmpty,      // no data
  kUint8,      // exactly 1 byte
  kUint16,     // exactly 2 bytes
  kUint32,     // exactly 4 bytes
  kIpv4,       // exactly 4 bytes
  kIpv4List,   // a non-empty multiple of 4 bytes
  kString,     // at least 1 byte of text (NVT ASCII, not NUL-terminated)
  kUint8List,  // at least 1 byte
  kBinary,     // any bytes
  kRoutes,     // RFC 3442 classless static routes
};

struct OptionDef {
  uint8_t code;
  std::string_view name;
  OptionType type;
};

// All rows, sorted by code.
std::span<const OptionDef> standardOptionDefs();
// The row for code, or nullptr for an option we do not know.
const OptionDef* findOptionDef(uint8_t code);
// True when data has a length that type allows (see OptionType).
bool optionLengthValid(OptionType type, size_t length);
// A short human form ("ip 192.0.2.1", "name(12)=\"guest\"") for logs and test failures.
std::string formatOption(uint8_t code, std::span<const uint8_t> data);

}  // namespace vnet::dhcp
